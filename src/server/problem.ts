/**
 * Errors as RFC 9457 problem details (`application/problem+json`). Each also carries an OpenAI-style
 * `error` member, so an OpenAI client pointed at Attune shows the message instead of "unknown error".
 */
export class Problem extends Error {
  readonly status: number;
  readonly title: string;
  readonly headers: Record<string, string>;
  readonly extra: Record<string, unknown>;

  constructor(
    status: number,
    title: string,
    detail: string,
    options: { headers?: Record<string, string>; extra?: Record<string, unknown> } = {},
  ) {
    super(detail);
    this.name = 'Problem';
    this.status = status;
    this.title = title;
    this.headers = options.headers ?? {};
    this.extra = options.extra ?? {};
  }
}

const OPENAI_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  404: 'not_found_error',
  413: 'invalid_request_error',
  415: 'invalid_request_error',
  422: 'invalid_request_error',
  429: 'rate_limit_error',
  503: 'server_error',
  504: 'server_error',
};

export function problemResponse(problem: Problem): Response {
  const body = {
    type: 'about:blank',
    title: problem.title,
    status: problem.status,
    detail: problem.message,
    ...problem.extra,
    error: {
      message: problem.message,
      type:
        OPENAI_TYPES[problem.status] ?? (problem.status >= 500 ? 'server_error' : 'invalid_request_error'),
      code: problem.title.toLowerCase().replace(/[^a-z0-9]+/g, '_'),
    },
  };
  return new Response(JSON.stringify(body), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', ...problem.headers },
  });
}

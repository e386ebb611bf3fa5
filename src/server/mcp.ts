import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import { WebStandardStreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js';
import { z } from 'zod';
import { type AnswerResult, answerJson } from '../answer/index.ts';
import type { Attune } from '../attune.ts';
import type { Principal } from '../store/index.ts';

export type McpDeps = {
  attune: Attune;
  /** Every tool and resource reads as this principal, and only as it. */
  principal: Principal;
  /** Answers go through the caller's queue (the server's generation queue; the CLI's direct call). */
  answer: (question: string, principal: Principal, signal?: AbortSignal) => Promise<AnswerResult>;
};

const text = (value: unknown) => ({
  content: [{ type: 'text' as const, text: JSON.stringify(value, null, 1) }],
});

/**
 * Attune's MCP server: tools `search_knowledge`, `ask`, `list_documents`, `get_document`, and each
 * readable document as a resource `attune://documents/{id}`. A document the principal may not read
 * is "not found" here exactly as in the HTTP API.
 */
export function createMcpServer(deps: McpDeps): McpServer {
  const { attune, principal } = deps;
  const server = new McpServer({ name: 'attune', version: '0.1.0' });
  server.registerTool(
    'search_knowledge',
    {
      description:
        'Search the knowledge base (hybrid dense + keyword retrieval); passages with their document ids.',
      inputSchema: { query: z.string().min(1), k: z.number().int().min(1).max(20).optional() },
    },
    async ({ query, k }) => {
      const result = await attune.search(query, { principal, k: k ?? 5 });
      return text(
        result.evidence.map((e) => ({
          docId: e.document.id,
          title: e.document.title,
          chunkId: e.chunk.id,
          text: e.chunk.text,
          score: e.score,
        })),
      );
    },
  );
  server.registerTool(
    'ask',
    {
      description:
        'A grounded answer from the knowledge base with numbered sources, or an abstention when the sources do not say.',
      inputSchema: { question: z.string().min(1) },
    },
    async ({ question }, extra) => text(answerJson(await deps.answer(question, principal, extra.signal))),
  );
  server.registerTool(
    'list_documents',
    {
      description: 'Documents you may read.',
      inputSchema: { limit: z.number().int().min(1).max(1000).optional() },
    },
    async ({ limit }) =>
      text(
        (await attune.listDocuments(principal, { limit: limit ?? 100 })).map((d) => ({
          id: d.id,
          title: d.title,
          source: d.source,
          version: d.version,
          chunks: d.chunkCount,
        })),
      ),
  );
  server.registerTool(
    'get_document',
    { description: 'One document’s text, by id.', inputSchema: { id: z.string().min(1) } },
    async ({ id }) => {
      const snapshot = await attune.document(id, principal);
      if (!snapshot) return { ...text({ error: `No document "${id}".` }), isError: true };
      return text({
        id: snapshot.document.id,
        title: snapshot.document.title,
        version: snapshot.document.version,
        text: snapshot.chunks.map((c) => c.text).join('\n\n'),
      });
    },
  );
  server.registerResource(
    'document',
    new ResourceTemplate('attune://documents/{id}', {
      list: async () => ({
        resources: (await attune.listDocuments(principal, { limit: 1000 })).map((d) => ({
          uri: `attune://documents/${encodeURIComponent(d.id)}`,
          name: d.title,
          mimeType: 'text/plain',
        })),
      }),
    }),
    { description: 'A document of the knowledge base, as text', mimeType: 'text/plain' },
    async (uri, variables) => {
      const id = decodeURIComponent(String(variables.id));
      const snapshot = await attune.document(id, principal);
      if (!snapshot) throw new Error(`No document "${id}".`);
      return {
        contents: [
          { uri: uri.href, mimeType: 'text/plain', text: snapshot.chunks.map((c) => c.text).join('\n\n') },
        ],
      };
    },
  );
  return server;
}

/**
 * Streamable HTTP, stateless: each request gets its own server bound to the request's principal,
 * so one key's calls can never run with another's view.
 */
export async function handleMcpRequest(request: Request, deps: McpDeps): Promise<Response> {
  const server = createMcpServer(deps);
  const transport = new WebStandardStreamableHTTPServerTransport({
    sessionIdGenerator: undefined,
    enableJsonResponse: true,
  });
  await server.connect(transport);
  try {
    return await transport.handleRequest(request);
  } finally {
    // JSON responses are complete once returned; closing frees the per-request server.
    void server.close();
  }
}

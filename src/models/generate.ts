import { AsyncQueue } from './async-queue.ts';
import { AttuneError } from './model-error.ts';
import type {
  ChatCallOptions,
  ChatMessage,
  ChatModel,
  ChatResult,
  EmbeddingModel,
  JsonSchema,
} from './model-spec.ts';

/** Everything a call can set besides the conversation itself. */
export type CallSettings = Omit<ChatCallOptions, 'messages' | 'jsonSchema'>;

/** Either a whole conversation or a single user prompt; `system` goes first in both. */
export type PromptInput =
  | { messages: ChatMessage[]; prompt?: undefined; system?: string }
  | { prompt: string; messages?: undefined; system?: string };

export type GenerateTextOptions = CallSettings & PromptInput & { model: ChatModel };

export type StreamTextResult = {
  /** The text as it is generated. Read it once; `result` settles whether or not it is read. */
  textStream: AsyncIterable<string>;
  result: Promise<ChatResult>;
};

export type GenerateObjectOptions = GenerateTextOptions & { schema: JsonSchema };

export type GenerateObjectResult<T> = ChatResult & { object: T };

/** The model's output could not be parsed as JSON or does not match the schema. */
export class NoObjectGeneratedError extends AttuneError {
  /** What the model produced. */
  readonly text: string;
  constructor(reason: string, text: string, truncated: boolean) {
    super(`The model did not produce a valid object: ${reason}.`, {
      hint: truncated
        ? 'The output was cut off by maxTokens; raise it.'
        : 'Try a larger model, a simpler schema, or describe the expected fields in the prompt.',
    });
    this.name = 'NoObjectGeneratedError';
    this.text = text;
  }
}

const roles = new Set(['system', 'user', 'assistant']);

function checkSettings(model: ChatModel, settings: CallSettings): void {
  const { maxTokens, temperature, topP, seed, stop } = settings;
  if (maxTokens !== undefined && (!Number.isInteger(maxTokens) || maxTokens <= 0)) {
    throw new AttuneError(`maxTokens must be a positive integer; got ${maxTokens}.`);
  }
  if (maxTokens !== undefined && maxTokens >= model.contextSize) {
    throw new AttuneError(
      `maxTokens (${maxTokens}) leaves no room for the prompt in ${model.modelId}'s ${model.contextSize}-token context.`,
    );
  }
  if (temperature !== undefined && !(temperature >= 0 && Number.isFinite(temperature))) {
    throw new AttuneError(`temperature must be a finite number >= 0; got ${temperature}.`);
  }
  if (topP !== undefined && !(topP > 0 && topP <= 1)) {
    throw new AttuneError(`topP must be in (0, 1]; got ${topP}.`);
  }
  if (seed !== undefined && !Number.isInteger(seed))
    throw new AttuneError(`seed must be an integer; got ${seed}.`);
  if (stop !== undefined && (!Array.isArray(stop) || stop.some((s) => typeof s !== 'string' || s === ''))) {
    throw new AttuneError('stop must be an array of non-empty strings.');
  }
  if (settings.adapter && !model.supportsAdapters) {
    throw new AttuneError(`${model.provider} model ${model.modelId} cannot apply adapters per call.`, {
      hint: 'Use a local GGUF model for adapters, or serve the fine-tuned model under its own id.',
    });
  }
}

function toMessages(input: PromptInput): ChatMessage[] {
  if (input.prompt !== undefined && input.messages !== undefined) {
    throw new AttuneError('Pass either prompt or messages, not both.');
  }
  if (input.prompt === undefined && input.messages === undefined) {
    throw new AttuneError('Pass a prompt or messages.');
  }
  if (input.system !== undefined && typeof input.system !== 'string') {
    throw new AttuneError('system must be a string.');
  }
  let messages: ChatMessage[];
  if (input.prompt !== undefined) {
    if (typeof input.prompt !== 'string' || input.prompt.trim() === '') {
      throw new AttuneError('prompt must be a non-empty string.');
    }
    messages = [{ role: 'user', content: input.prompt }];
  } else {
    if (!Array.isArray(input.messages) || input.messages.length === 0) {
      throw new AttuneError('messages must be a non-empty array.');
    }
    messages = input.messages.map((m, i) => {
      if (!m || !roles.has(m.role))
        throw new AttuneError(`messages[${i}].role must be system, user or assistant.`);
      if (typeof m.content !== 'string') throw new AttuneError(`messages[${i}].content must be a string.`);
      return { role: m.role, content: m.content };
    });
    if (messages.at(-1)!.role !== 'user') throw new AttuneError('The last message must come from the user.');
  }
  return input.system ? [{ role: 'system', content: input.system }, ...messages] : messages;
}

/** Splits the wrapper's options into the model and the provider call, checking every argument. */
function prepare(options: GenerateTextOptions): { model: ChatModel; call: ChatCallOptions } {
  const { model, messages: _messages, prompt: _prompt, system: _system, ...settings } = options;
  if (!model || typeof model.doGenerate !== 'function') throw new AttuneError('model must be a ChatModel.');
  checkSettings(model, settings);
  return { model, call: { ...settings, messages: toMessages(options) } };
}

/** Generates a complete answer. */
export async function generateText(options: GenerateTextOptions): Promise<ChatResult> {
  const { model, call } = prepare(options);
  return model.doGenerate(call);
}

/**
 * Streams an answer. Generation starts at once and runs to the end even if `textStream` is not read,
 * so `result` alone is enough to wait for the answer. Argument errors throw here, synchronously.
 */
export function streamText(options: GenerateTextOptions): StreamTextResult {
  const { model, call } = prepare(options);
  const deltas = new AsyncQueue<string>();
  const result = (async () => {
    let final: ChatResult | undefined;
    for await (const part of model.doStream(call)) {
      if (part.type === 'text-delta') deltas.push(part.delta);
      else final = part.result;
    }
    if (!final)
      throw new AttuneError(`${model.provider} model ${model.modelId} ended its stream without a result.`);
    return final;
  })();
  result.then(
    () => deltas.close(),
    (error) => deltas.fail(error),
  );
  // Callers that only read textStream get the error there; this keeps it from also surfacing as unhandled.
  result.catch(() => undefined);
  return { textStream: deltas, result };
}

/** Generates JSON constrained to `schema`, then parses it and checks it against the schema. */
export async function generateObject<T = unknown>(
  options: GenerateObjectOptions,
): Promise<GenerateObjectResult<T>> {
  const { schema, ...rest } = options;
  if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
    throw new AttuneError('schema must be a JSON schema object.');
  }
  const { model, call } = prepare(rest);
  if (!model.supportsJsonSchema) {
    throw new AttuneError(
      `${model.provider} model ${model.modelId} cannot constrain output to a JSON schema.`,
    );
  }
  const result = await model.doGenerate({ ...call, jsonSchema: schema });
  const truncated = result.finishReason === 'length';
  let object: unknown;
  try {
    object = JSON.parse(result.text);
  } catch (error) {
    throw new NoObjectGeneratedError(
      `the output is not JSON (${(error as Error).message})`,
      result.text,
      truncated,
    );
  }
  const problem = schemaViolation(schema, object, '$');
  if (problem) throw new NoObjectGeneratedError(problem, result.text, truncated);
  return { ...result, object: object as T };
}

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

/**
 * The first way `value` breaks `schema`, or undefined. Covers what generation grammars enforce
 * (types, required, properties, items, enum, const, anyOf/oneOf, additionalProperties, lengths), as
 * a check that the server really constrained its output.
 */
export function schemaViolation(schema: JsonSchema, value: unknown, path = '$'): string | undefined {
  const actual = typeOf(value);
  if (schema.type !== undefined) {
    const types = (Array.isArray(schema.type) ? schema.type : [schema.type]) as string[];
    const ok = types.some((t) => t === actual || (t === 'number' && actual === 'integer'));
    if (!ok) return `${path} should be ${types.join(' or ')}, got ${actual}`;
  }
  if (Array.isArray(schema.enum) && !schema.enum.some((e) => JSON.stringify(e) === JSON.stringify(value))) {
    return `${path} should be one of ${JSON.stringify(schema.enum)}`;
  }
  if ('const' in schema && JSON.stringify(schema.const) !== JSON.stringify(value)) {
    return `${path} should be ${JSON.stringify(schema.const)}`;
  }
  for (const key of ['anyOf', 'oneOf'] as const) {
    const options = schema[key];
    if (Array.isArray(options) && !options.some((s) => !schemaViolation(s as JsonSchema, value, path))) {
      return `${path} matches none of its ${key} alternatives`;
    }
  }
  if (actual === 'string') {
    const length = [...(value as string)].length;
    if (typeof schema.minLength === 'number' && length < schema.minLength) return `${path} is too short`;
    if (typeof schema.maxLength === 'number' && length > schema.maxLength) return `${path} is too long`;
  }
  if (actual === 'object') {
    const object = value as Record<string, unknown>;
    for (const name of (schema.required as string[] | undefined) ?? []) {
      if (!(name in object)) return `${path} is missing required property "${name}"`;
    }
    const properties = (schema.properties ?? {}) as Record<string, JsonSchema>;
    for (const [name, item] of Object.entries(object)) {
      const sub = properties[name];
      if (sub) {
        const problem = schemaViolation(sub, item, `${path}.${name}`);
        if (problem) return problem;
      } else if (schema.additionalProperties === false) {
        return `${path} has unexpected property "${name}"`;
      } else if (typeof schema.additionalProperties === 'object' && schema.additionalProperties !== null) {
        const problem = schemaViolation(schema.additionalProperties as JsonSchema, item, `${path}.${name}`);
        if (problem) return problem;
      }
    }
  }
  if (actual === 'array') {
    const items = value as unknown[];
    if (typeof schema.minItems === 'number' && items.length < schema.minItems)
      return `${path} has too few items`;
    if (typeof schema.maxItems === 'number' && items.length > schema.maxItems)
      return `${path} has too many items`;
    if (schema.items && typeof schema.items === 'object') {
      for (let i = 0; i < items.length; i++) {
        const problem = schemaViolation(schema.items as JsonSchema, items[i], `${path}[${i}]`);
        if (problem) return problem;
      }
    }
  }
  return undefined;
}

export type EmbedOptions = { model: EmbeddingModel; value: string; abortSignal?: AbortSignal };
export type EmbedManyOptions = {
  model: EmbeddingModel;
  values: string[];
  abortSignal?: AbortSignal;
  /** Called after each batch. */
  onProgress?: (progress: { done: number; total: number }) => void;
};

function checkEmbeddingModel(model: EmbeddingModel): void {
  if (!model || typeof model.doEmbed !== 'function')
    throw new AttuneError('model must be an EmbeddingModel.');
}

/** Embeds one text. */
export async function embed(
  options: EmbedOptions,
): Promise<{ embedding: number[]; usage: { tokens: number } }> {
  checkEmbeddingModel(options.model);
  if (typeof options.value !== 'string') throw new AttuneError('value must be a string.');
  const { embeddings, usage } = await embedMany({
    model: options.model,
    values: [options.value],
    ...(options.abortSignal ? { abortSignal: options.abortSignal } : {}),
  });
  return { embedding: embeddings[0]!, usage };
}

/** Embeds many texts in order, in batches of the model's `maxEmbeddingsPerCall`. */
export async function embedMany(
  options: EmbedManyOptions,
): Promise<{ embeddings: number[][]; usage: { tokens: number } }> {
  const { model, values, abortSignal, onProgress } = options;
  checkEmbeddingModel(model);
  if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
    throw new AttuneError('values must be an array of strings.');
  }
  const batchSize = Math.max(1, Math.floor(model.maxEmbeddingsPerCall) || 1);
  const embeddings: number[][] = [];
  let tokens = 0;
  for (let start = 0; start < values.length; start += batchSize) {
    abortSignal?.throwIfAborted();
    const batch = values.slice(start, start + batchSize);
    const result = await model.doEmbed({ values: batch, ...(abortSignal ? { abortSignal } : {}) });
    if (result.embeddings.length !== batch.length) {
      throw new AttuneError(
        `${model.provider} model ${model.modelId} returned ${result.embeddings.length} embeddings for ${batch.length} values.`,
      );
    }
    embeddings.push(...result.embeddings);
    tokens += result.usage.tokens;
    onProgress?.({ done: embeddings.length, total: values.length });
  }
  return { embeddings, usage: { tokens } };
}

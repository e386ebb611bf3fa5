/**
 * Provider-shaped specs. Implementations expose `do*` methods; users call the
 * wrappers in generate.ts, which add defaults and argument checks.
 */

export type ChatRole = 'system' | 'user' | 'assistant';
export type ChatMessage = { role: ChatRole; content: string };

/** A JSON schema (draft-07 subset) the output must satisfy. */
export type JsonSchema = Record<string, unknown>;

export type LoraAdapterRef = {
  /** Catalog id or path of a llama.cpp LoRA GGUF. */
  path: string;
  scale?: number;
};

export type ChatCallOptions = {
  messages: ChatMessage[];
  maxTokens?: number;
  temperature?: number;
  topP?: number;
  /** Penalise tokens by how often they already occur in the answer (OpenAI semantics, 0 = off). */
  frequencyPenalty?: number;
  /** Penalise tokens that already occur in the answer at all (0 = off). */
  presencePenalty?: number;
  seed?: number;
  stop?: string[];
  /** Constrain output to JSON matching this schema. */
  jsonSchema?: JsonSchema;
  /** Applied to this call only; the base model stays unchanged. */
  adapter?: LoraAdapterRef;
  abortSignal?: AbortSignal;
};

export type FinishReason = 'stop' | 'length' | 'abort' | 'error';

export type TokenUsage = { inputTokens: number; outputTokens: number };

export type ChatResult = {
  text: string;
  finishReason: FinishReason;
  usage: TokenUsage;
  /** Milliseconds from the call to the first generated text. */
  timeToFirstTokenMs: number | undefined;
};

export type ChatStreamPart = { type: 'text-delta'; delta: string } | { type: 'finish'; result: ChatResult };

export interface ChatModel {
  readonly specificationVersion: 'v1';
  readonly provider: string;
  readonly modelId: string;
  /** Tokens the model can attend to: prompt plus answer. */
  readonly contextSize: number;
  readonly supportsJsonSchema: boolean;
  readonly supportsAdapters: boolean;
  doGenerate(options: ChatCallOptions): Promise<ChatResult>;
  doStream(options: ChatCallOptions): AsyncIterable<ChatStreamPart>;
}

export type EmbedResult = { embeddings: number[][]; usage: { tokens: number } };

export interface EmbeddingModel {
  readonly specificationVersion: 'v1';
  readonly provider: string;
  readonly modelId: string;
  readonly dimensions: number;
  /** Longest input, in the model's own tokens; longer inputs are truncated by the runtime. */
  readonly maxInputTokens: number;
  readonly maxEmbeddingsPerCall: number;
  doEmbed(options: { values: string[]; abortSignal?: AbortSignal }): Promise<EmbedResult>;
}

/**
 * A cross-encoder: reads the query and each text together and scores how well the text answers
 * it (higher is more relevant). The retriever's `Reranker` has this shape.
 */
export interface RerankingModel {
  readonly specificationVersion: 'v1';
  readonly provider: string;
  readonly modelId: string;
  /** Longest query + text pair, in the model's own tokens; longer texts are cut at their end. */
  readonly maxInputTokens: number;
  rerank(query: string, texts: string[], abortSignal?: AbortSignal): Promise<number[]>;
}

/** Token counting with a model's own tokenizer. Synchronous: chunkers call it in tight loops. */
export interface Tokenizer {
  readonly modelId: string;
  encode(text: string): number[];
  decode(tokens: number[]): string;
  countTokens(text: string): number;
}

export type ModelTask = 'chat' | 'embedding' | 'reranking';

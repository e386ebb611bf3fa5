import { availableParallelism } from 'node:os';
import type { LlamaModel } from 'node-llama-cpp';
import type { InferenceSession, Tensor } from 'onnxruntime-node';
import { type BertOnnx, type BertOnnxOptions, bertGgufToOnnx, bertPooling } from './bert-onnx.ts';
import { AttuneError } from './model-error.ts';
import type { EmbeddingModel, EmbedResult, RerankingModel } from './model-spec.ts';
import { Mutex } from './mutex.ts';
import { unitVector } from './vector-math.ts';

type Ort = typeof import('onnxruntime-node');

export type OnnxRuntimeOptions = {
  /** CPU threads for one model call; 0 or unset: one per available core. */
  threads?: number;
  /** How Q8_0 matrices run, for every model; unset: per kind, see `BertOnnxOptions.q8`. */
  q8?: BertOnnxOptions['q8'];
};

/**
 * BERT-family GGUF models (sentence embedders, cross-encoders) run by ONNX Runtime instead of
 * llama.cpp: the graph is built in memory from the GGUF's own weights (bert-onnx.ts) and the
 * tokens come from llama.cpp's tokenizer for the same file, so the vectors are llama.cpp's to
 * float rounding and a store embedded by either runtime stays searchable by the other. What it
 * adds is batching: many sequences per call, padded only to the longest of similar lengths.
 * onnxruntime-node is an optional dependency; `available()` says whether it loaded.
 */
export class OnnxRuntimeProvider {
  readonly #threads: number;
  readonly #q8: BertOnnxOptions['q8'];
  #ort: Promise<Ort | undefined> | undefined;

  constructor(options: OnnxRuntimeOptions = {}) {
    this.#threads = options.threads || availableParallelism();
    this.#q8 = options.q8;
  }

  /** The runtime, or undefined when onnxruntime-node is not installed or cannot load here. */
  runtime(): Promise<Ort | undefined> {
    this.#ort ??= import('onnxruntime-node').then(
      (m) => (m as { default?: Ort }).default ?? (m as Ort),
      () => undefined,
    );
    return this.#ort;
  }

  async available(): Promise<boolean> {
    return (await this.runtime()) !== undefined;
  }

  /** Whether this runtime can run the GGUF at `path`: it loads here, and the file is a BERT it reads. */
  async supports(path: string, pooling: BertOnnx['pooling']): Promise<boolean> {
    if (!(await this.available())) return false;
    return (await bertPooling(path)) === pooling;
  }

  async #session(
    path: string,
    pooling: BertOnnx['pooling'],
  ): Promise<{ ort: Ort; session: InferenceSession; graph: Omit<BertOnnx, 'model'> }> {
    const ort = await this.runtime();
    if (!ort)
      throw new AttuneError(
        'ONNX Runtime (onnxruntime-node) is not installed or does not load on this machine.',
        {
          hint: 'npm install onnxruntime-node, or set models.encoderRuntime (ATTUNE_ENCODER_RUNTIME) to "llama.cpp".',
        },
      );
    const graph = await bertGgufToOnnx(path, { q8: this.#q8 });
    if (graph.pooling !== pooling)
      throw new AttuneError(`${path} is a ${graph.pooling}-pooling BERT model, not ${pooling}.`);
    const session = await ort.InferenceSession.create(graph.model, {
      intraOpNumThreads: this.#threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    // The session holds its own copy of the weights: the serialized model is not kept.
    const { model: _serialized, ...shape } = graph;
    return { ort, session, graph: shape };
  }

  /** `tokens` is the llama.cpp model of the same file, used for its tokenizer only. */
  async embeddingModel(
    path: string,
    tokens: LlamaModel,
    options: { modelId: string; maxInputTokens?: number },
  ): Promise<OnnxEmbeddingModel> {
    const { ort, session, graph } = await this.#session(path, 'mean');
    return new OnnxEmbeddingModel({
      modelId: options.modelId,
      ort,
      session,
      tokens,
      onePerCall: graph.onePerCall,
      dimensions: graph.hiddenSize,
      maxInputTokens: Math.min(options.maxInputTokens ?? 512, graph.contextLength),
    });
  }

  async rerankingModel(
    path: string,
    tokens: LlamaModel,
    options: { modelId: string; maxInputTokens?: number },
  ): Promise<OnnxRerankingModel> {
    const { ort, session, graph } = await this.#session(path, 'rank');
    return new OnnxRerankingModel({
      modelId: options.modelId,
      ort,
      session,
      tokens,
      onePerCall: graph.onePerCall,
      maxInputTokens: Math.min(options.maxInputTokens ?? 512, graph.contextLength),
    });
  }

  async dispose(): Promise<void> {
    this.#ort = undefined;
  }
}

type SessionParts = {
  modelId: string;
  ort: Ort;
  session: InferenceSession;
  tokens: LlamaModel;
  maxInputTokens: number;
  /** The graph's outputs depend on the whole batch (see `BertOnnx.onePerCall`). */
  onePerCall: boolean;
};

/**
 * Padded tokens one session run may hold: about four 256-token chunks, or thirty questions.
 * bench/embedding-batching.ts (300 squad2-dev paragraphs, sorted in groups of 32, 2 cores): runs
 * of 1-16 sequences embedded 5,200-5,900 tokens/s, one run of all 32 3,900; larger runs lose both
 * to padding and to matrices that no longer fit the cache.
 */
const TOKENS_PER_CALL = 1024;

/**
 * Runs token sequences through the session in batches of similar length (sorted, so padding stays
 * small), one call at a time; returns each sequence's output row in input order.
 */
async function runBatched(
  parts: SessionParts,
  sequences: number[][],
  output: string,
  width: number,
  signal?: AbortSignal,
): Promise<Float32Array[]> {
  const { ort, session } = parts;
  const order = sequences.map((_s, i) => i).sort((a, b) => sequences[a]!.length - sequences[b]!.length);
  const rows: Float32Array[] = new Array(sequences.length);
  let start = 0;
  while (start < order.length) {
    signal?.throwIfAborted();
    // The batch grows while its padded size (count × longest, which is the last: sorted) fits.
    let end = start + 1;
    while (
      !parts.onePerCall &&
      end < order.length &&
      (end - start + 1) * sequences[order[end]!]!.length <= TOKENS_PER_CALL
    )
      end++;
    const batch = order.slice(start, end);
    const length = sequences[batch.at(-1)!]!.length;
    const ids = new BigInt64Array(batch.length * length);
    const mask = new BigInt64Array(batch.length * length);
    batch.forEach((index, row) => {
      const sequence = sequences[index]!;
      for (let j = 0; j < sequence.length; j++) {
        ids[row * length + j] = BigInt(sequence[j]!);
        mask[row * length + j] = 1n;
      }
    });
    const dims = [batch.length, length];
    const result = await session.run({
      input_ids: new ort.Tensor('int64', ids, dims),
      attention_mask: new ort.Tensor('int64', mask, dims),
    });
    const data = (result[output] as Tensor).data as Float32Array;
    batch.forEach((index, row) => {
      rows[index] = data.slice(row * width, (row + 1) * width);
    });
    start = end;
  }
  return rows;
}

export class OnnxEmbeddingModel implements EmbeddingModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'onnxruntime';
  readonly modelId: string;
  readonly dimensions: number;
  readonly maxInputTokens: number;
  readonly maxEmbeddingsPerCall = 256;
  readonly #parts: SessionParts;
  /** One call at a time: two concurrent runs would each get the threads meant for one. */
  readonly #mutex = new Mutex();

  constructor(parts: SessionParts & { dimensions: number }) {
    this.modelId = parts.modelId;
    this.dimensions = parts.dimensions;
    this.maxInputTokens = parts.maxInputTokens;
    this.#parts = parts;
  }

  doEmbed(options: { values: string[]; abortSignal?: AbortSignal }): Promise<EmbedResult> {
    return this.#mutex.run(() => this.#embed(options));
  }

  async #embed(options: { values: string[]; abortSignal?: AbortSignal }): Promise<EmbedResult> {
    const { tokens: model } = this.#parts;
    const cls = model.tokens.bos;
    const sep = model.tokens.sep ?? model.tokens.eos;
    if (cls == null || sep == null)
      throw new AttuneError(`${this.modelId}: the tokenizer has no [CLS]/[SEP] token.`);
    // Two positions go to the [CLS]/[SEP] markers, as llama.cpp adds them.
    const limit = this.maxInputTokens - 2;
    let tokens = 0;
    const sequences = options.values.map((value) => {
      const input = [...model.tokenize(value)].slice(0, limit);
      tokens += input.length;
      return [cls, ...input, sep].map(Number);
    });
    const rows = await runBatched(this.#parts, sequences, 'embedding', this.dimensions, options.abortSignal);
    return { embeddings: rows.map(unitVector), usage: { tokens } };
  }
}

export class OnnxRerankingModel implements RerankingModel {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'onnxruntime';
  readonly modelId: string;
  readonly maxInputTokens: number;
  readonly #parts: SessionParts;
  /** One call at a time: two concurrent runs would each get the threads meant for one. */
  readonly #mutex = new Mutex();

  constructor(parts: SessionParts) {
    this.modelId = parts.modelId;
    this.maxInputTokens = parts.maxInputTokens;
    this.#parts = parts;
  }

  rerank(query: string, texts: string[], abortSignal?: AbortSignal): Promise<number[]> {
    return this.#mutex.run(() => this.#rerank(query, texts, abortSignal));
  }

  /**
   * The pair laid out as node-llama-cpp's ranking context lays it out (the layout Attune's
   * rerankers were trained on), cut the same way LlamaCppRerankingModel cuts it; the logit goes
   * through the same sigmoid.
   */
  async #rerank(query: string, texts: string[], abortSignal?: AbortSignal): Promise<number[]> {
    if (texts.length === 0) return [];
    const { tokens: model } = this.#parts;
    const { bos, eos, sep } = model.tokens;
    if (eos == null && sep == null)
      throw new AttuneError(`${this.modelId}: the tokenizer has no [SEP] token.`);
    const q = [...model.tokenize(query)].slice(0, Math.floor(this.maxInputTokens / 2));
    const room = this.maxInputTokens - q.length - 3;
    const marks = (...t: (number | null | undefined)[]) =>
      t.filter((x): x is number => x != null).map(Number);
    const sequences = texts.map((text) => [
      ...marks(bos),
      ...q.map(Number),
      ...marks(eos, sep),
      ...[...model.tokenize(text)].slice(0, room).map(Number),
      ...marks(eos),
    ]);
    const rows = await runBatched(this.#parts, sequences, 'score', 1, abortSignal);
    return rows.map((row) => 1 / (1 + Math.exp(-row[0]!)));
  }
}

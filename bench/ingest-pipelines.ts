// One ingestion pipeline, run in its own process by bench/ingest.ts so that its memory numbers
// are its own. Every pipeline embeds with the same model (Attune's local all-MiniLM-L6-v2 GGUF,
// run by Attune's default encoder runtime, or by llama.cpp for `attune-llama.cpp`; `attune-q8` is
// the default runtime on its Q8_0 file, all-minilm-l6-v2-q8 (int8 DynamicQuantizeMatMul on ONNX Runtime); the PyTorch
// reference runs the safetensors the GGUF was made from); the model is loaded and warmed up
// before the clock starts.
//   tsx bench/ingest-pipelines.ts <pipeline> <corpus.jsonl> <work dir>
// The result is sent to the parent over IPC (or printed as JSON when run by hand).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Attune } from '../src/attune.ts';
import { loadConfig } from '../src/config/index.ts';
import { setupTrainer } from '../src/finetune/local-trainer-setup.ts';
import { embeddingText, type SyncProgress } from '../src/knowledge/index.ts';
import type { EmbeddingModel, Tokenizer } from '../src/models/model-spec.ts';
import { Models } from '../src/models/models.ts';

export type PipelineName =
  | 'attune'
  | 'attune-llama.cpp'
  | 'attune-q8'
  | 'raw'
  | 'pytorch'
  | 'llamaindex'
  | 'langchain';

export type PipelineResult = {
  pipeline: PipelineName;
  documents: number;
  chunks: number;
  /** Model tokens embedded (the model's own tokenizer, after truncation to its input limit). */
  tokens: number;
  wallSeconds: number;
  documentsPerSecond: number;
  chunksPerSecond: number;
  embeddingsPerSecond: number;
  tokensPerSecond: number;
  meanTokensPerChunk: number;
  /** CPU seconds (user + system) this process spent inside the timed part. */
  cpuSeconds: number;
  memory: {
    rssBeforeMiB: number;
    /** Highest RSS sampled every 25 ms during the timed part. */
    rssPeakSampledMiB: number;
    /** process.resourceUsage().maxRSS: the process's high-water mark, model load and imports included. */
    maxRssMiB: number;
  };
  storeBytesOnDisk: number | null;
  store: string;
  loadAverageBefore: number[];
  loadAverageAfter: number[];
  /** Attune only: where the time went, from the sync's progress events. */
  breakdownSeconds?: Record<string, number>;
  notes?: string[];
};

const EMBED_BATCH = 32;
const PEER_MAX_TOKENS = 250;
const MiB = 2 ** 20;

type CorpusRecord = { id: string; title?: string; text: string };

function readCorpus(path: string): CorpusRecord[] {
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line) => JSON.parse(line) as CorpusRecord);
}

/** Counts the tokens the model actually reads, the way the embedding model truncates them. */
function tokenCounter(embedder: EmbeddingModel, models: Models) {
  let total = 0;
  return {
    async add(texts: string[]) {
      const tokenizer = await models.tokenizer(embedder.modelId);
      for (const text of texts) total += Math.min(tokenizer.countTokens(text), embedder.maxInputTokens - 2);
    },
    get total() {
      return total;
    },
  };
}

/**
 * Wraps an EmbeddingModel so a caller sees how many tokens went through it. With a tokenizer, inputs
 * are cut to PEER_MAX_TOKENS first: doEmbed's own truncation (to maxInputTokens - 2 = 254) still
 * overflows the 256-token context in node-llama-cpp (250 fits, 254 throws), and the peers' splitters
 * count in other units, so a few of their chunks run long.
 */
function metered(embedder: EmbeddingModel, tokenizer?: Tokenizer) {
  const meter = { tokens: 0, embeddings: 0, truncated: 0 };
  const embed = async (values: string[]): Promise<number[][]> => {
    const out: number[][] = [];
    for (let i = 0; i < values.length; i += EMBED_BATCH) {
      let batch = values.slice(i, i + EMBED_BATCH);
      if (tokenizer) {
        batch = batch.map((text) => {
          const tokens = tokenizer.encode(text);
          if (tokens.length <= PEER_MAX_TOKENS) return text;
          meter.truncated++;
          return tokenizer.decode(tokens.slice(0, PEER_MAX_TOKENS));
        });
      }
      const result = await embedder.doEmbed({ values: batch });
      meter.tokens += result.usage.tokens;
      meter.embeddings += result.embeddings.length;
      out.push(...result.embeddings);
    }
    return out;
  };
  return { meter, embed };
}

class Clock {
  #peak = 0;
  #timer: NodeJS.Timeout | undefined;
  #started = 0;
  #cpu: NodeJS.CpuUsage | undefined;
  rssBefore = 0;
  loadBefore: number[] = [];

  start() {
    this.loadBefore = loadAverage();
    this.rssBefore = process.memoryUsage.rss();
    this.#peak = this.rssBefore;
    this.#timer = setInterval(() => {
      this.#peak = Math.max(this.#peak, process.memoryUsage.rss());
    }, 25);
    this.#cpu = process.cpuUsage();
    this.#started = performance.now();
  }

  stop() {
    const wallSeconds = (performance.now() - this.#started) / 1000;
    const cpu = process.cpuUsage(this.#cpu);
    clearInterval(this.#timer);
    this.#peak = Math.max(this.#peak, process.memoryUsage.rss());
    return {
      wallSeconds,
      cpuSeconds: (cpu.user + cpu.system) / 1e6,
      memory: {
        rssBeforeMiB: round(this.rssBefore / MiB),
        rssPeakSampledMiB: round(this.#peak / MiB),
        maxRssMiB: round((process.resourceUsage().maxRSS * 1024) / MiB),
      },
      loadAverageBefore: this.loadBefore,
      loadAverageAfter: loadAverage(),
    };
  }
}

function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8')
    .split(' ')
    .slice(0, 3)
    .map((x) => Number(x));
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

function diskBytes(path: string): number {
  return Number(execFileSync('du', ['-sb', path]).toString().split('\t')[0]);
}

function finish(
  pipeline: PipelineName,
  measured: ReturnType<Clock['stop']>,
  counts: { documents: number; chunks: number; tokens: number },
  store: { bytes: number | null; what: string },
  extra: Pick<PipelineResult, 'breakdownSeconds' | 'notes'> = {},
): PipelineResult {
  const { wallSeconds } = measured;
  return {
    pipeline,
    ...counts,
    wallSeconds: round(wallSeconds, 2),
    documentsPerSecond: round(counts.documents / wallSeconds, 2),
    chunksPerSecond: round(counts.chunks / wallSeconds, 2),
    embeddingsPerSecond: round(counts.chunks / wallSeconds, 2),
    tokensPerSecond: round(counts.tokens / wallSeconds, 0),
    meanTokensPerChunk: round(counts.tokens / Math.max(1, counts.chunks), 1),
    cpuSeconds: round(measured.cpuSeconds, 2),
    memory: measured.memory,
    storeBytesOnDisk: store.bytes,
    store: store.what,
    loadAverageBefore: measured.loadAverageBefore,
    loadAverageAfter: measured.loadAverageAfter,
    ...extra,
  };
}

async function warmUp(embedder: EmbeddingModel) {
  await embedder.doEmbed({ values: ['A warm-up sentence so the first timed call pays no setup.'] });
}

/**
 * Attune: Attune.open + ingest(path), on the default encoder runtime or on llama.cpp (what Attune
 * used before ONNX Runtime). The default run also writes the embedded chunk texts for `raw` and
 * `pytorch`.
 */
async function runAttune(
  corpus: string,
  work: string,
  variant?: 'llama.cpp' | 'q8',
): Promise<PipelineResult> {
  const dir = join(work, variant ? `attune-${variant}` : 'attune');
  const attune = await Attune.open({
    env: {
      ...process.env,
      ATTUNE_DIR: dir,
      ...(variant === 'llama.cpp' ? { ATTUNE_ENCODER_RUNTIME: variant } : {}),
      ...(variant === 'q8' ? { ATTUNE_EMBEDDING_MODEL: 'all-minilm-l6-v2-q8' } : {}),
    },
  });
  try {
    const kb = await attune.knowledgeBase();
    const embedder = await attune.models.embedding();
    await warmUp(embedder);

    // Progress events mark the end of each phase, so the gaps between them say where time went.
    const events: { at: number; progress: SyncProgress }[] = [];
    const clock = new Clock();
    clock.start();
    const t0 = performance.now();
    const summary = await attune.ingest([corpus], {
      onProgress: (progress) => events.push({ at: performance.now(), progress }),
    });
    const measured = clock.stop();
    if (summary.failed > 0)
      throw new Error(`Attune failed ${summary.failed} documents: ${summary.failures[0]?.reason}`);

    const breakdown = { loadChunkAndCheck: 0, embed: 0, storeWrite: 0, commitVersion: 0 };
    let previous = t0;
    let embeddedBefore = 0;
    let firstBatch: number | undefined;
    for (const { at, progress } of events) {
      const gap = (at - previous) / 1000;
      if (progress.phase === 'embed') {
        // Chunking, content-hash checks and nextVersion() all happen before the first batch.
        if (firstBatch === undefined) {
          firstBatch = progress.done;
          breakdown.loadChunkAndCheck += gap;
        } else breakdown.embed += gap;
        embeddedBefore = progress.done;
      } else if (progress.phase === 'load') breakdown.loadChunkAndCheck += gap;
      else breakdown.storeWrite += gap;
      previous = at;
    }
    // Move the first batch's share (at the mean per-chunk time) from the pre-phase to embedding.
    const perChunk =
      embeddedBefore > (firstBatch ?? 0) ? breakdown.embed / (embeddedBefore - firstBatch!) : 0;
    // Capped: the first batch can run faster than the mean, and no phase takes negative time.
    const moved = Math.min(perChunk * (firstBatch ?? 0), breakdown.loadChunkAndCheck);
    breakdown.loadChunkAndCheck -= moved;
    breakdown.embed += moved;
    breakdown.commitVersion = (t0 + measured.wallSeconds * 1000 - previous) / 1000;

    // Untimed: read back what was embedded, for the raw pipeline and for token counts.
    const admin = { user: 'bench', groups: [], admin: true };
    const texts: string[] = [];
    for (const doc of await kb.listDocuments(admin)) {
      for (const chunk of await kb.store.getChunks(doc.id, admin)) texts.push(embeddingText(chunk));
    }
    if (texts.length !== summary.chunksEmbedded) {
      throw new Error(`Read back ${texts.length} chunks but the sync embedded ${summary.chunksEmbedded}.`);
    }
    if (!variant) writeFileSync(join(work, 'attune-chunks.json'), JSON.stringify(texts));
    const tokens = tokenCounter(embedder, attune.models);
    await tokens.add(texts);
    await attune.close();
    return finish(
      variant ? `attune-${variant}` : 'attune',
      measured,
      { documents: summary.added, chunks: summary.chunksEmbedded, tokens: tokens.total },
      {
        bytes: diskBytes(dir),
        what: 'embedded LanceDB (on disk, versioned; documents written in batches of up to 128 chunks, each document atomic)',
      },
      {
        breakdownSeconds: Object.fromEntries(Object.entries(breakdown).map(([k, v]) => [k, round(v, 2)])),
        notes: [`embedder runtime: ${embedder.provider}`],
      },
    );
  } catch (error) {
    await attune.close();
    throw error;
  }
}

/** The upper bound: Attune's own chunk texts, embedded with doEmbed in batches of 32, nothing else. */
async function runRaw(corpus: string, work: string): Promise<PipelineResult> {
  const texts = JSON.parse(readFileSync(join(work, 'attune-chunks.json'), 'utf8')) as string[];
  const models = new Models(loadConfig({ env: process.env }));
  const embedder = await models.embedding();
  await warmUp(embedder);
  const { meter, embed } = metered(embedder);
  const clock = new Clock();
  clock.start();
  await embed(texts);
  const measured = clock.stop();
  await models.dispose();
  return finish(
    'raw',
    measured,
    { documents: readCorpus(corpus).length, chunks: meter.embeddings, tokens: meter.tokens },
    { bytes: null, what: 'none (vectors discarded)' },
  );
}

/**
 * The reference outside Node: Attune's chunk texts through the same weights in PyTorch (the
 * trainer venv), batched and sorted by length (bench/embed_pytorch.py). Its own clock and RSS.
 */
async function runPyTorch(corpus: string, work: string): Promise<PipelineResult> {
  const config = loadConfig({ env: process.env });
  const { python } = await setupTrainer(config);
  const models = new Models(config);
  const dir = dirname(models.cache.resolve(config.models.embedding));
  const loadBefore = loadAverage();
  const run = spawnSync(
    python,
    [
      join(import.meta.dirname, 'embed_pytorch.py'),
      dir,
      join(work, 'attune-chunks.json'),
      process.env.ATTUNE_THREADS ?? '0',
    ],
    { encoding: 'utf8' },
  );
  if (run.status !== 0) throw new Error(`embed_pytorch.py failed: ${run.stderr.slice(-2000)}`);
  const r = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as {
    seconds: number;
    tokens: number;
    texts: number;
    threads: number;
    maxRssMiB: number;
    torch: string;
  };
  await models.dispose();
  const documents = readCorpus(corpus).length;
  return {
    pipeline: 'pytorch',
    documents,
    chunks: r.texts,
    tokens: r.tokens,
    wallSeconds: round(r.seconds, 2),
    documentsPerSecond: round(documents / r.seconds, 2),
    chunksPerSecond: round(r.texts / r.seconds, 2),
    embeddingsPerSecond: round(r.texts / r.seconds, 2),
    tokensPerSecond: Math.round(r.tokens / r.seconds),
    meanTokensPerChunk: round(r.tokens / r.texts, 1),
    cpuSeconds: Number.NaN,
    memory: { rssBeforeMiB: Number.NaN, rssPeakSampledMiB: Number.NaN, maxRssMiB: round(r.maxRssMiB, 1) },
    storeBytesOnDisk: null,
    store: 'none (vectors discarded)',
    loadAverageBefore: loadBefore,
    loadAverageAfter: loadAverage(),
    notes: [
      `torch ${r.torch}, ${r.threads} threads, transformers BertModel from the safetensors, batches of 32 sorted by length, inference_mode; timed in Python around the model calls (tokenization included)`,
    ],
  };
}

async function runLlamaIndex(corpus: string): Promise<PipelineResult> {
  const { BaseEmbedding, Document, SentenceSplitter, Settings, VectorStoreIndex } = await import(
    'llamaindex'
  );
  const models = new Models(loadConfig({ env: process.env }));
  const embedder = await models.embedding();
  await warmUp(embedder);
  const { meter, embed } = metered(embedder, await models.tokenizer(embedder.modelId));

  class AttuneEmbedding extends BaseEmbedding {
    constructor() {
      super();
      this.embedBatchSize = EMBED_BATCH;
      this.getTextEmbeddings = (texts: string[]) => embed(texts);
    }
    async getTextEmbedding(text: string): Promise<number[]> {
      return (await embed([text]))[0]!;
    }
  }
  Settings.embedModel = new AttuneEmbedding();

  const clock = new Clock();
  clock.start();
  const documents = readCorpus(corpus).map(
    (r) => new Document({ id_: r.id, text: r.text, metadata: { title: r.title ?? '' } }),
  );
  // fromDocuments with the splitter passed in: llamaindex 0.12 bundles two copies of its Settings,
  // and a node parser set on the exported one never reaches VectorStoreIndex, which then splits
  // with its default of 1,024 tokens (the model reads 256).
  const splitter = new SentenceSplitter({ chunkSize: 200, chunkOverlap: 32 });
  const nodes = splitter.getNodesFromDocuments(documents);
  const index = await VectorStoreIndex.init({ nodes });
  const measured = clock.stop();
  const stored = new Set(Object.values(index.indexStruct.nodesDict).map((n) => n.sourceNode?.nodeId)).size;
  if (stored !== documents.length)
    throw new Error(`LlamaIndex stored ${stored} of ${documents.length} documents.`);
  await models.dispose();
  return finish(
    'llamaindex',
    measured,
    { documents: documents.length, chunks: meter.embeddings, tokens: meter.tokens },
    { bytes: null, what: 'SimpleVectorStore + SimpleDocumentStore (in memory, not persisted)' },
    {
      notes: [
        'SentenceSplitter chunkSize 200 / overlap 32 in its own tokenizer (cl100k; 256 overflows the 256-token model input); the title goes in as metadata, which LlamaIndex puts in front of the embedded text.',
        `${meter.truncated} chunks cut to ${PEER_MAX_TOKENS} model tokens before embedding.`,
      ],
    },
  );
}

async function runLangChain(corpus: string): Promise<PipelineResult> {
  const { Embeddings } = await import('@langchain/core/embeddings');
  const { Document } = await import('@langchain/core/documents');
  const { RecursiveCharacterTextSplitter } = await import('@langchain/textsplitters');
  const { MemoryVectorStore } = await import('@langchain/classic/vectorstores/memory');
  const models = new Models(loadConfig({ env: process.env }));
  const embedder = await models.embedding();
  await warmUp(embedder);
  const { meter, embed } = metered(embedder, await models.tokenizer(embedder.modelId));

  class AttuneEmbeddings extends Embeddings {
    embedDocuments(texts: string[]): Promise<number[][]> {
      return embed(texts);
    }
    async embedQuery(text: string): Promise<number[]> {
      return (await embed([text]))[0]!;
    }
  }

  const clock = new Clock();
  clock.start();
  const records = readCorpus(corpus);
  const documents = records.map(
    (r) => new Document({ pageContent: r.text, metadata: { id: r.id, title: r.title ?? '' } }),
  );
  // Under the model's 256-token input at ~4 characters a token; overlap ~32 tokens.
  const splitter = new RecursiveCharacterTextSplitter({ chunkSize: 900, chunkOverlap: 128 });
  const chunks = await splitter.splitDocuments(documents);
  const store = await MemoryVectorStore.fromDocuments(chunks, new AttuneEmbeddings({}));
  const measured = clock.stop();
  if (store.memoryVectors.length !== chunks.length)
    throw new Error('LangChain stored fewer vectors than chunks.');
  await models.dispose();
  return finish(
    'langchain',
    measured,
    { documents: records.length, chunks: meter.embeddings, tokens: meter.tokens },
    { bytes: null, what: 'MemoryVectorStore (in memory, not persisted)' },
    {
      notes: [
        'RecursiveCharacterTextSplitter chunkSize 900 / overlap 128 characters (~220 / ~32 model tokens); pageContent only is embedded (no title).',
        `${meter.truncated} chunks cut to ${PEER_MAX_TOKENS} model tokens before embedding.`,
      ],
    },
  );
}

export async function runPipeline(
  pipeline: PipelineName,
  corpus: string,
  work: string,
): Promise<PipelineResult> {
  switch (pipeline) {
    case 'attune':
      return runAttune(corpus, work);
    case 'attune-llama.cpp':
      return runAttune(corpus, work, 'llama.cpp');
    case 'attune-q8':
      return runAttune(corpus, work, 'q8');
    case 'raw':
      return runRaw(corpus, work);
    case 'pytorch':
      return runPyTorch(corpus, work);
    case 'llamaindex':
      return runLlamaIndex(corpus);
    case 'langchain':
      return runLangChain(corpus);
  }
}

if (import.meta.filename === process.argv[1]) {
  const [pipeline, corpus, work] = process.argv.slice(2) as [PipelineName, string, string];
  try {
    const result = await runPipeline(pipeline, corpus, work);
    if (process.send) process.send({ ok: true, result }, () => process.exit(0));
    else console.log(JSON.stringify(result, null, 2));
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    if (process.send) process.send({ ok: false, error: message }, () => process.exit(1));
    else console.error(message);
    process.exitCode = 1;
  }
}

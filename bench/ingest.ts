// Ingest throughput, every pipeline embedding with the same model (all-MiniLM-L6-v2), one after
// another, each in its own process, on each corpus:
//   attune            Attune's sync on its default encoder runtime (ONNX Runtime when it loads);
//   attune-llama.cpp  the same sync with the embedder on llama.cpp, as Attune ran before;
//   attune-q8         the same sync on the Q8_0 file of the same model (all-minilm-l6-v2-q8): int8 on ONNX Runtime;
//   raw               Attune's own chunk texts through the embedder's doEmbed, nothing else;
//   pytorch           the same texts through the same weights in PyTorch (the trainer venv);
//   llamaindex, langchain  the peers, with Attune's embedder plugged in.
// Then one large plain-text file (--large-file-mb, default 2.3; 0 skips) through Attune's sync.
// Targets (#12): attune ≥ 3 × attune-llama.cpp tokens/s and ≥ 1 × pytorch; ≥ 0.9 × raw; ≥ 2 × the
// faster peer; the large file in under 2 minutes with peak RSS under 2 GB.
// Run: npx tsx bench/ingest.ts [--limit N] [--limit-<corpus> N] [--large-file-mb M]
//      (writes bench/results/ingest.json)
import { fork } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { evalDataDir } from '../src/eval/qa-data.ts';
import { argValue, loadAverage, writeResult } from './bench-env.ts';
import type { PipelineName, PipelineResult } from './ingest-pipelines.ts';

const DATA = evalDataDir();
const CORPORA = ['squad2-dev', 'covidqa'] as const;
const PIPELINES: PipelineName[] = [
  'attune',
  'attune-llama.cpp',
  'attune-q8',
  'raw',
  'pytorch',
  'llamaindex',
  'langchain',
];
const MAX_LOAD_WAIT_MS = 60_000;

const limit = argValue('--limit');
const limits = Object.fromEntries(CORPORA.map((c) => [c, argValue(`--limit-${c}`) ?? limit]));
// llama.cpp's default thread count here is above the core count, and its spinning threads then
// fight each other and everything else; one thread per core for every pipeline alike.
const threads = process.env.ATTUNE_THREADS ?? String(availableParallelism());

/** Waits (up to a minute) for the 1-minute load to drop below the core count. */
async function waitForQuietMachine(): Promise<{ waitedSeconds: number; load: number[] }> {
  const started = Date.now();
  while (loadAverage()[0]! >= availableParallelism() && Date.now() - started < MAX_LOAD_WAIT_MS) {
    console.log(`load ${loadAverage().join(' ')}: waiting for the machine to quieten`);
    await new Promise((r) => setTimeout(r, 15_000));
  }
  return { waitedSeconds: Math.round((Date.now() - started) / 1000), load: loadAverage() };
}

function runWorker(pipeline: PipelineName, corpus: string, work: string): Promise<PipelineResult> {
  return new Promise((resolve, reject) => {
    const child = fork(join(import.meta.dirname, 'ingest-pipelines.ts'), [pipeline, corpus, work], {
      env: { ...process.env, ATTUNE_THREADS: threads },
    });
    let settled = false;
    child.on('message', (message: { ok: boolean; result?: PipelineResult; error?: string }) => {
      settled = true;
      if (message.ok) resolve(message.result!);
      else reject(new Error(message.error));
    });
    child.on('exit', (code) => {
      if (!settled) reject(new Error(`${pipeline} exited with code ${code} before reporting`));
    });
  });
}

function ratio(a: number | undefined, b: number | undefined): number | null {
  return a && b ? Math.round((a / b) * 100) / 100 : null;
}

/**
 * One plain-text file of about `mb` MB (SQuAD 2.0 dev paragraphs, blank-line separated, repeated
 * as needed) synced by Attune alone: the "a large file takes hours" case.
 */
async function syncLargeFile(mb: number) {
  const dir = join(work, 'large');
  mkdirSync(dir, { recursive: true });
  const paragraphs = readFileSync(join(DATA, 'squad2-dev', 'corpus.jsonl'), 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => (JSON.parse(l) as { text: string }).text);
  const parts: string[] = [];
  let bytes = 0;
  for (let i = 0; bytes < mb * 1e6; i++) {
    const text = paragraphs[i % paragraphs.length]!;
    parts.push(text);
    bytes += Buffer.byteLength(text) + 2;
  }
  const file = join(dir, 'large.txt');
  writeFileSync(file, parts.join('\n\n'));
  console.log(`large file: ${(bytes / 1e6).toFixed(2)} MB, ${parts.length} paragraphs...`);
  try {
    const result = await runWorker('attune', file, dir);
    console.log(
      `  ${result.wallSeconds} s, ${result.tokensPerSecond} tokens/s, max RSS ${result.memory.maxRssMiB} MiB`,
    );
    return {
      bytes,
      paragraphs: parts.length,
      result,
      targets: {
        under2Minutes: { seconds: result.wallSeconds, met: result.wallSeconds < 120 },
        peakRssUnder2GB: { maxRssMiB: result.memory.maxRssMiB, met: result.memory.maxRssMiB < 2048 },
      },
    };
  } catch (error) {
    return { bytes, error: (error as Error).message };
  }
}

const largeFileMB = Number(argValue('--large-file-mb') ?? 2.3);
let largeFile: unknown;
const work = mkdtempSync(join(tmpdir(), 'attune-ingest-bench-'));
const corpora: Record<string, unknown> = {};
const started = performance.now();
const quiet = await waitForQuietMachine();
try {
  for (const name of CORPORA) {
    const source = join(DATA, name, 'corpus.jsonl');
    const lines = readFileSync(source, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    const cap = limits[name];
    const dir = join(work, name);
    mkdirSync(dir, { recursive: true });
    // The file keeps its name so document ids look the same as a real ingest's.
    const corpus = join(dir, 'corpus.jsonl');
    writeFileSync(corpus, `${lines.slice(0, cap).join('\n')}\n`);

    const results: Partial<Record<PipelineName, PipelineResult | { error: string }>> = {};
    for (const pipeline of PIPELINES) {
      console.log(`${name}: ${pipeline} (${Math.min(cap ?? lines.length, lines.length)} documents)...`);
      try {
        const result = await runWorker(pipeline, corpus, dir);
        results[pipeline] = result;
        console.log(
          `  ${result.documentsPerSecond} docs/s, ${result.chunksPerSecond} chunks/s, ${result.tokensPerSecond} tokens/s, ${result.wallSeconds} s, peak RSS ${result.memory.rssPeakSampledMiB} MiB`,
        );
      } catch (error) {
        const message = (error as Error).message;
        results[pipeline] = { error: message };
        console.log(`  failed: ${message.split('\n')[0]}`);
        if (pipeline === 'attune') break; // raw embeds Attune's own chunks
      }
    }

    const ok = (p: PipelineName) => {
      const r = results[p];
      return r && !('error' in r) ? r : undefined;
    };
    const attune = ok('attune');
    const raw = ok('raw');
    const before = ok('attune-llama.cpp');
    const q8 = ok('attune-q8');
    const pytorch = ok('pytorch');
    const peers = [ok('llamaindex'), ok('langchain')].filter((r) => r !== undefined);
    const fasterPeer = peers.sort((a, b) => b.chunksPerSecond - a.chunksPerSecond)[0];
    const ratios = {
      attuneOverAttuneOnLlamaCpp: {
        tokensPerSecond: ratio(attune?.tokensPerSecond, before?.tokensPerSecond),
      },
      attuneQ8OverAttuneOnLlamaCpp: { tokensPerSecond: ratio(q8?.tokensPerSecond, before?.tokensPerSecond) },
      attuneOverPyTorch: { tokensPerSecond: ratio(attune?.tokensPerSecond, pytorch?.tokensPerSecond) },
      attuneQ8OverPyTorch: { tokensPerSecond: ratio(q8?.tokensPerSecond, pytorch?.tokensPerSecond) },
      attuneOverRaw: {
        chunksPerSecond: ratio(attune?.chunksPerSecond, raw?.chunksPerSecond),
        tokensPerSecond: ratio(attune?.tokensPerSecond, raw?.tokensPerSecond),
      },
      attuneOverLlamaIndex: {
        documentsPerSecond: ratio(attune?.documentsPerSecond, ok('llamaindex')?.documentsPerSecond),
        chunksPerSecond: ratio(attune?.chunksPerSecond, ok('llamaindex')?.chunksPerSecond),
        tokensPerSecond: ratio(attune?.tokensPerSecond, ok('llamaindex')?.tokensPerSecond),
      },
      attuneOverLangChain: {
        documentsPerSecond: ratio(attune?.documentsPerSecond, ok('langchain')?.documentsPerSecond),
        chunksPerSecond: ratio(attune?.chunksPerSecond, ok('langchain')?.chunksPerSecond),
        tokensPerSecond: ratio(attune?.tokensPerSecond, ok('langchain')?.tokensPerSecond),
      },
    };
    const overRaw = ratios.attuneOverRaw.chunksPerSecond;
    const speedup = ratios.attuneOverAttuneOnLlamaCpp.tokensPerSecond;
    const speedupQ8 = ratios.attuneQ8OverAttuneOnLlamaCpp.tokensPerSecond;
    const overPyTorch = ratios.attuneOverPyTorch.tokensPerSecond;
    const overPeer = ratio(attune?.chunksPerSecond, fasterPeer?.chunksPerSecond);
    corpora[name] = {
      source,
      documents: Math.min(cap ?? lines.length, lines.length),
      documentsInCorpus: lines.length,
      results,
      ratios,
      targets: {
        attuneAtLeast3xLlamaCpp: { ratio: speedup, met: speedup !== null && speedup >= 3 },
        attuneQ8AtLeast3xLlamaCpp: { ratio: speedupQ8, met: speedupQ8 !== null && speedupQ8 >= 3 },
        attuneAtLeastPyTorch: { ratio: overPyTorch, met: overPyTorch !== null && overPyTorch >= 1 },
        attuneAtLeast90PercentOfRaw: { ratio: overRaw, met: overRaw !== null && overRaw >= 0.9 },
        attuneAtLeastTwiceFasterPeer: {
          fasterPeer: fasterPeer?.pipeline ?? null,
          ratio: overPeer,
          met: overPeer !== null && overPeer >= 2,
        },
      },
    };
  }
  if (largeFileMB > 0) largeFile = await syncLargeFile(largeFileMB);
} finally {
  rmSync(work, { recursive: true, force: true });
}

const versions = Object.fromEntries(
  [
    'llamaindex',
    '@langchain/core',
    '@langchain/classic',
    '@langchain/textsplitters',
    'node-llama-cpp',
    'onnxruntime-node',
  ].map((pkg) => [
    pkg,
    (JSON.parse(readFileSync(join('node_modules', pkg, 'package.json'), 'utf8')) as { version: string })
      .version,
  ]),
);
const path = writeResult('ingest', {
  command: `npx tsx bench/ingest.ts ${process.argv.slice(2).join(' ')}`.trim(),
  limits,
  embeddingModel:
    'all-minilm-l6-v2 (GGUF F32; ONNX Runtime built from it, or llama.cpp; PyTorch from its safetensors; CPU); attune-q8: all-minilm-l6-v2-q8 (GGUF Q8_0, int8 MatMulNBits on ONNX Runtime)',
  embedBatch: 32,
  threads: Number(threads),
  loadAverageAtStart: quiet.load,
  waitedForQuietSeconds: quiet.waitedSeconds,
  loadAverageAtEnd: loadAverage(),
  totalSeconds: Math.round((performance.now() - started) / 1000),
  versions,
  corpora,
  largeFile,
});
console.log(`wrote ${path}`);

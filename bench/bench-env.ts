import { execSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, freemem, totalmem } from 'node:os';
import { join } from 'node:path';
import { sourceSentences } from '../src/answer/index.ts';
import type { ProgressBars } from '../src/cli/progress.ts';
import type { EmbeddingModel } from '../src/models/index.ts';

/** A description of the machine a benchmark ran on, written beside every result. */
export function machineDescription() {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {}
  return {
    cpu: cpus()[0]?.model ?? 'unknown',
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    freeMemoryGiB: Math.round(freemem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    commit,
    date: new Date().toISOString(),
  };
}

export function writeResult(name: string, result: unknown): string {
  const dir = join(import.meta.dirname, 'results');
  mkdirSync(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  writeFileSync(
    path,
    `${JSON.stringify({ machine: machineDescription(), ...(result as object) }, null, 2)}\n`,
  );
  return path;
}

/** Deterministic sampling so every run of a benchmark sees the same questions. */
export function seededShuffle<T>(items: T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

// One percentile definition for the whole project: src/eval/percentile.ts.
export { percentile } from '../src/eval/percentile.ts';

/** `--name value` from the command line, or the fallback when the flag is absent. */
export function argString(name: string, fallback: string, argv = process.argv): string {
  const i = argv.indexOf(name);
  return i >= 0 && argv[i + 1] !== undefined ? argv[i + 1]! : fallback;
}

/** `--name N` from the command line: a positive integer, or undefined when the flag is absent. */
export function argValue(name: string, argv = process.argv): number | undefined {
  const i = argv.indexOf(name);
  if (i < 0) return undefined;
  const value = Number(argv[i + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name} needs a positive integer`);
  return value;
}

/** The 1, 5 and 15 minute load averages: recorded with every timing, since other work skews them. */
export function loadAverage(): number[] {
  return readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).map(Number);
}

/**
 * Waits (up to `maxWaitS`) until the 1-minute load average is below `maxLoad`, so a latency
 * measurement does not share the cores with whatever ran before it. Returns the load it started at
 * and how long it waited; the caller records both, quiet or not.
 */
export async function waitForQuiet(
  options: { maxLoad?: number; maxWaitS?: number } = {},
): Promise<{ load: number[]; waitedS: number; quiet: boolean }> {
  const maxLoad = options.maxLoad ?? 1;
  const deadline = Date.now() + (options.maxWaitS ?? 300) * 1000;
  const started = Date.now();
  let load = loadAverage();
  while (load[0]! >= maxLoad && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 5000));
    load = loadAverage();
  }
  return { load, waitedS: Math.round((Date.now() - started) / 1000), quiet: load[0]! < maxLoad };
}

/**
 * An embedder that has already embedded every sentence of these texts, in full batches, and
 * embeds anything once: benchmarks that rank evidence sentences question after question would
 * otherwise embed the same sentences a few at a call, many times over.
 */
export async function sentenceEmbeddings(
  model: EmbeddingModel,
  texts: readonly { text: string }[],
  bars?: ProgressBars,
): Promise<EmbeddingModel> {
  const seen = new Map<string, number[]>();
  const memo: EmbeddingModel = {
    specificationVersion: model.specificationVersion,
    provider: model.provider,
    modelId: model.modelId,
    dimensions: model.dimensions,
    maxInputTokens: model.maxInputTokens,
    maxEmbeddingsPerCall: model.maxEmbeddingsPerCall,
    async doEmbed({ values, abortSignal }) {
      const missing = [...new Set(values.filter((v) => !seen.has(v)))];
      let tokens = 0;
      for (let i = 0; i < missing.length; i += model.maxEmbeddingsPerCall) {
        const part = missing.slice(i, i + model.maxEmbeddingsPerCall);
        const r = await model.doEmbed({ values: part, ...(abortSignal ? { abortSignal } : {}) });
        tokens += r.usage.tokens;
        for (const [j, v] of part.entries()) seen.set(v, r.embeddings[j]!);
      }
      return { embeddings: values.map((v) => seen.get(v)!), usage: { tokens } };
    },
  };
  const sentences = [...new Set(texts.flatMap((t) => sourceSentences(t.text)))];
  for (let i = 0; i < sentences.length; i += 256) {
    await memo.doEmbed({ values: sentences.slice(i, i + 256) });
    bars?.update(
      'sentences',
      'sentences embedded',
      Math.min(sentences.length, i + 256),
      sentences.length,
      's',
    );
  }
  bars?.stop();
  return memo;
}

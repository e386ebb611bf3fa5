import { basename, dirname, extname, join } from 'node:path';
import { AttuneError } from '../models/model-error.ts';
import type { ChatExample } from './chat-example.ts';
import { writeChatJsonl } from './dataset-export.ts';
import { type ImportOptions, readableExamples, readDataset } from './dataset-import.ts';
import { exampleKey } from './dataset-validation.ts';

export type SplitOptions = {
  /** Share of examples held out for validation, in [0, 1). */
  validationShare: number;
  /** The same seed and input give the same split, on any machine. */
  seed: number;
  /**
   * Examples with the same group stay on the same side, so a near-copy in validation cannot
   * measure memorisation. Default: identical examples form a group (duplicates never straddle).
   */
  groupOf?: (example: ChatExample) => string;
};

export type DatasetSplit = { train: ChatExample[]; validation: ChatExample[] };

/**
 * Seeded split: groups are shuffled with a PRNG seeded by `seed` (mulberry32) and taken for
 * validation until it holds round(n × share) examples (at least 1 when share > 0 and n ≥ 2). Both
 * sides keep the input order.
 */
export function splitDataset(examples: ChatExample[], options: SplitOptions): DatasetSplit {
  const { validationShare, seed } = options;
  if (!(validationShare >= 0 && validationShare < 1)) {
    throw new AttuneError(`validationShare must be in [0, 1); got ${validationShare}.`);
  }
  if (!Number.isInteger(seed)) throw new AttuneError(`seed must be an integer; got ${seed}.`);
  const groupOf = options.groupOf ?? exampleKey;
  const groups = new Map<string, number[]>();
  for (const [i, e] of examples.entries()) {
    const key = groupOf(e);
    const list = groups.get(key);
    if (list) list.push(i);
    else groups.set(key, [i]);
  }
  const order = shuffle([...groups.values()], seed);
  let target = Math.round(examples.length * validationShare);
  if (validationShare > 0 && examples.length >= 2) target = Math.max(1, target);
  const held = new Set<number>();
  for (const group of order) {
    if (held.size >= target) break;
    // A group that would leave nothing to train on is skipped.
    if (examples.length - held.size - group.length <= 0) continue;
    // A large group of copies would overshoot the share; smaller groups fill it instead.
    if (held.size > 0 && held.size + group.length > target) continue;
    for (const i of group) held.add(i);
  }
  return {
    train: examples.filter((_, i) => !held.has(i)),
    validation: examples.filter((_, i) => held.has(i)),
  };
}

export type SplitFileOptions = SplitOptions &
  ImportOptions & {
    /** Default: beside the input. */
    outDir?: string;
    /** Keep each example's meta (source, chunk ids); hosted trainers may reject the extra key. */
    keepMeta?: boolean;
  };

/**
 * Splits a dataset file (any supported format) into `<name>.train.jsonl` and
 * `<name>.validation.jsonl`, plain OpenAI chat JSONL: the files handed to a trainer.
 */
export async function splitDatasetFile(
  file: string,
  options: SplitFileOptions,
): Promise<{ train: { file: string; examples: number }; validation: { file: string; examples: number } }> {
  const split = splitDataset(readableExamples(await readDataset(file, options)), options);
  const base = join(options.outDir ?? dirname(file), basename(file, extname(file)));
  const train = `${base}.train.jsonl`;
  const validation = `${base}.validation.jsonl`;
  await writeChatJsonl(train, split.train, { includeMeta: options.keepMeta === true });
  await writeChatJsonl(validation, split.validation, { includeMeta: options.keepMeta === true });
  return {
    train: { file: train, examples: split.train.length },
    validation: { file: validation, examples: split.validation.length },
  };
}

/** Fisher–Yates with a seeded generator: deterministic across runs and platforms. */
export function shuffle<T>(items: T[], seed: number): T[] {
  const random = seededRandom(seed);
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

/** mulberry32: a small, well-distributed 32-bit PRNG; returns numbers in [0, 1). */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

import { AttuneError } from '../models/model-error.ts';
import type { ChatExample } from './chat-example.ts';
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

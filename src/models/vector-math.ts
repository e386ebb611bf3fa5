/**
 * Cosine similarity of two vectors of equal length; no assumption that they are normalised.
 * A zero vector has no direction: its similarity to anything is 0, not NaN, so a blank text's
 * embedding ranks last instead of poisoning a max or a sort.
 */
export function cosineSimilarity(a: readonly number[], b: readonly number[]): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return na && nb ? dot / Math.sqrt(na * nb) : 0;
}

/** The vector scaled to length 1 (a zero vector stays zero), as a plain array. */
export function unitVector(vector: ArrayLike<number>): number[] {
  let norm = 0;
  for (let i = 0; i < vector.length; i++) norm += vector[i]! * vector[i]!;
  norm = Math.sqrt(norm) || 1;
  return Array.from(vector, (x) => x / norm);
}

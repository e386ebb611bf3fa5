/**
 * SQuAD scoring, as the official evaluate-v2.0.py defines it: lower-case, strip punctuation and
 * the articles a/an/the, collapse whitespace; exact match and token F1, maximised over gold answers.
 */
export function normalizeAnswer(text: string): string {
  return text
    .toLowerCase()
    .replace(/[!"#$%&'()*+,\-./:;<=>?@[\\\]^_`{|}~]/g, '')
    .replace(/\b(a|an|the)\b/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .join(' ');
}

export function exactMatch(prediction: string, golds: string[]): number {
  const p = normalizeAnswer(prediction);
  return golds.some((g) => normalizeAnswer(g) === p) ? 1 : 0;
}

export function tokenF1(prediction: string, golds: string[]): number {
  const predTokens = normalizeAnswer(prediction).split(' ').filter(Boolean);
  let best = 0;
  for (const gold of golds) {
    const goldTokens = normalizeAnswer(gold).split(' ').filter(Boolean);
    if (predTokens.length === 0 || goldTokens.length === 0) {
      best = Math.max(best, predTokens.length === goldTokens.length ? 1 : 0);
      continue;
    }
    const counts = new Map<string, number>();
    for (const t of goldTokens) counts.set(t, (counts.get(t) ?? 0) + 1);
    let common = 0;
    for (const t of predTokens) {
      const c = counts.get(t) ?? 0;
      if (c > 0) {
        common++;
        counts.set(t, c - 1);
      }
    }
    if (common === 0) continue;
    const precision = common / predTokens.length;
    const recall = common / goldTokens.length;
    best = Math.max(best, (2 * precision * recall) / (precision + recall));
  }
  return best;
}

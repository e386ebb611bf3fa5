/**
 * A word diff, `[-removed-]{+added+}` (git's --word-diff=plain), by longest common subsequence.
 * No diff library is installed; an article is a few hundred words, so the quadratic table is small.
 * Past 4,000 words a side it compares lines instead, to bound the table.
 */
export function wordDiff(before: string, after: string): string {
  const split = (t: string) =>
    t.split(/\s+/).length > 4000 ? t.split('\n') : t.split(/(\s+)/).filter((w) => w !== '');
  const a = split(before);
  const b = split(after);
  const rows = a.length + 1;
  const cols = b.length + 1;
  const table = new Uint32Array(rows * cols);
  for (let i = a.length - 1; i >= 0; i--)
    for (let j = b.length - 1; j >= 0; j--)
      table[i * cols + j] =
        a[i] === b[j]
          ? table[(i + 1) * cols + j + 1]! + 1
          : Math.max(table[(i + 1) * cols + j]!, table[i * cols + j + 1]!);
  const out: string[] = [];
  let removed: string[] = [];
  let added: string[] = [];
  const flush = () => {
    if (removed.join('').trim()) out.push(`[-${removed.join('').trim()}-]`);
    if (added.join('').trim()) out.push(`{+${added.join('').trim()}+}`);
    if ((removed.length || added.length) && /\s$/.test(removed.join('') + added.join(''))) out.push(' ');
    removed = [];
    added = [];
  };
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (i < a.length && j < b.length && a[i] === b[j]) {
      flush();
      out.push(a[i]!);
      i++;
      j++;
    } else if (j < b.length && (i === a.length || table[i * cols + j + 1]! >= table[(i + 1) * cols + j]!)) {
      added.push(b[j++]!);
    } else {
      removed.push(a[i++]!);
    }
  }
  flush();
  return out.join('');
}

/** Whether a diff has any change in it. */
export function hasChanges(diff: string): boolean {
  return /\[-|\{\+/.test(diff);
}

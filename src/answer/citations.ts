const MARKER = /\[(\d+(?:\s*,\s*\d+)*)\]/g;

export type ParsedCitations = {
  /** The text with markers for unknown sources removed. */
  text: string;
  /** Valid source numbers in order of first use. */
  cited: number[];
  /** Numbers that point at no supplied source. */
  invalid: number[];
};

/** Reads inline `[n]` / `[n, m]` markers; keeps those in 1..sourceCount, strips the rest. */
export function parseCitations(text: string, sourceCount: number): ParsedCitations {
  const cited: number[] = [];
  const invalid: number[] = [];
  const cleaned = text.replace(MARKER, (_whole, list: string) => {
    const numbers = list.split(',').map((n) => Number(n.trim()));
    const kept = numbers.filter((n) => Number.isInteger(n) && n >= 1 && n <= sourceCount);
    for (const n of numbers) {
      const into = kept.includes(n) ? cited : invalid;
      if (!into.includes(n)) into.push(n);
    }
    return kept.length ? `[${kept.join(', ')}]` : '';
  });
  return {
    text: cleaned
      .replace(/ +([.,;:!?])/g, '$1')
      .replace(/ {2,}/g, ' ')
      .trim(),
    cited,
    invalid,
  };
}

/** Valid citation numbers inside one sentence. */
export function citationsIn(sentence: string, sourceCount: number): number[] {
  return parseCitations(sentence, sourceCount).cited;
}

export function stripCitations(text: string): string {
  return text
    .replace(MARKER, '')
    .replace(/ +([.,;:!?])/g, '$1')
    .trim();
}

const LEAD_IN =
  /(^|[.!?]\s+)(?:according to|as stated in|as (?:said|noted|mentioned) in|based on|per)\s+(?:the\s+)?(?:sources?\s*)?((?:\[\d+(?:\s*,\s*\d+)*\]\s*)*)(?:,\s*|\s+)(\S)([^.!?]*)([.!?]?)/gi;

/**
 * "According to [1], X." becomes "X [1].": small models open with the citation, and the sentence
 * must still read as a sentence once its markers move to its end.
 */
export function moveLeadingAttributions(text: string): string {
  return text.replace(
    LEAD_IN,
    (_m, before: string, markers: string, first: string, rest: string, end: string) => {
      const body = `${first.toUpperCase()}${rest}`.trimEnd();
      const cites = markers.replace(/\s+/g, '');
      return `${before}${body}${cites ? ` ${cites}` : ''}${end || '.'}`;
    },
  );
}

/**
 * Dates as whole facts, for the support checker and the editorial fact-check. Checked number by
 * number, "9 May 2021" passes against "9 March 2021": "May" reads as the modal verb, and the 9 and
 * the 2021 are both there. So a date is also compared whole: as day and month ("9 may") and as
 * month and year ("may 2021"), whichever of the two the text gives.
 */

const MONTH_NAMES = 'january|february|march|april|may|june|july|august|september|october|november|december';
const DAY = '(\\d{1,2})(?:st|nd|rd|th)?';
const YEAR = '((?:1[5-9]|20)\\d\\d)';
const MONTH = `(${MONTH_NAMES})`;
/** 9 May, 9th of May */
const DAY_MONTH = new RegExp(`\\b${DAY}\\s+(?:of\\s+)?${MONTH}\\b`, 'gi');
/** May 9, May 9th (not "May 2021", not "May 10 000") */
const MONTH_DAY = new RegExp(`\\b${MONTH}\\s+${DAY}\\b(?!\\s*\\d{3})`, 'gi');
/** May 9, 2021 */
const MONTH_DAY_YEAR = new RegExp(`\\b${MONTH}\\s+${DAY},?\\s+${YEAR}\\b`, 'gi');
/** May 2021, May, 2021 (and the month and year of 9 May 2021) */
const MONTH_YEAR = new RegExp(`\\b${MONTH},?\\s+${YEAR}\\b`, 'gi');

const DATE_FACT = new RegExp(`^(?:\\d{1,2} (?:${MONTH_NAMES})|(?:${MONTH_NAMES}) \\d{4})$`);

export type DateOptions = {
  /**
   * Only capitalised month names count: what a claim is held to. "They may 2 times" is no date, and
   * neither is "march 20 miles". Evidence is read leniently (default), so lower-cased text still
   * supports a claim.
   */
  capitalised?: boolean;
};

/** The dates in a text as "9 may" (day and month) and "may 2021" (month and year). */
export function datesIn(text: string, options: DateOptions = {}): string[] {
  const out = new Set<string>();
  const month = (m: string) => (options.capitalised && !/^\p{Lu}/u.test(m) ? undefined : m.toLowerCase());
  const dayMonth = (day: string, m: string) => {
    const name = month(m);
    const n = Number(day);
    if (name && n >= 1 && n <= 31) out.add(`${n} ${name}`);
  };
  for (const m of text.matchAll(DAY_MONTH)) dayMonth(m[1]!, m[2]!);
  for (const m of text.matchAll(MONTH_DAY)) dayMonth(m[2]!, m[1]!);
  for (const m of text.matchAll(MONTH_DAY_YEAR)) {
    dayMonth(m[2]!, m[1]!);
    const name = month(m[1]!);
    if (name) out.add(`${name} ${m[3]}`);
  }
  for (const m of text.matchAll(MONTH_YEAR)) {
    const name = month(m[1]!);
    if (name) out.add(`${name} ${m[2]}`);
  }
  return [...out];
}

/** Whether a key fact is a whole date ("9 may", "may 2021"), as `datesIn` writes them. */
export function isDateFact(fact: string): boolean {
  return DATE_FACT.test(fact);
}

/** Dates in the claim (capitalised months only) that none of the sources gives. */
export function missingDates(claim: string, sources: string[]): string[] {
  const known = new Set(sources.flatMap((s) => datesIn(s)));
  return datesIn(claim, { capitalised: true }).filter((d) => !known.has(d));
}

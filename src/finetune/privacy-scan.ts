import type { ChatExample } from './chat-example.ts';
import { locationOf } from './dataset-validation.ts';

/**
 * Personal data and secrets in training text. A model trained on a dataset can repeat any of it
 * verbatim to anyone who can query the model, whatever the ACL of the source, so the scan runs
 * before training.
 */
export type PiiKind = 'email' | 'phone' | 'card' | 'iban' | 'secret' | 'name';
export const piiKinds: readonly PiiKind[] = ['email', 'phone', 'card', 'iban', 'secret', 'name'];

/** What `--redact` puts in place of a finding. */
export const redactionTokens: Record<PiiKind, string> = {
  email: '[EMAIL]',
  phone: '[PHONE]',
  card: '[CARD]',
  iban: '[IBAN]',
  secret: '[SECRET]',
  name: '[NAME]',
};

/** Bumped whenever a detector changes, so a scan record says which rules it ran. */
export const PRIVACY_DETECTORS_VERSION = 1;

export type PiiMatch = {
  kind: PiiKind;
  /** Which rule fired: `aws-access-key`, `luhn`, `international`, `label`, ... */
  detector: string;
  /** Character offsets in the scanned text; `end` is exclusive. */
  start: number;
  end: number;
  value: string;
};

export type PrivacyFinding = {
  kind: PiiKind;
  detector: string;
  /** 0-based example index and message index. */
  example: number;
  turn: number;
  role: string;
  start: number;
  end: number;
  /** The value with most characters hidden: enough to recognise it, not enough to leak it. */
  masked: string;
  /** `data.jsonl:17` when the example came from a file. */
  location?: string;
};

export type PrivacyReport = {
  detectorsVersion: number;
  examples: number;
  examplesWithFindings: number;
  total: number;
  counts: Record<PiiKind, number>;
  findings: PrivacyFinding[];
};

export type ScanOptions = {
  /** Kinds to look for; default all. `name` is the noisiest, so it can be switched off. */
  kinds?: readonly PiiKind[];
};

type Detector = { kind: PiiKind; detector: string; find: (text: string) => PiiMatch[] };

/** Finds personal data and secrets in one text: non-overlapping matches, in text order. */
export function findPii(text: string, options: ScanOptions = {}): PiiMatch[] {
  const kinds = new Set(options.kinds ?? piiKinds);
  const accepted: PiiMatch[] = [];
  // Earlier detectors win overlaps: a key block may contain anything, a card number must not
  // be read again as a phone number, an email's local part must not be read as a name.
  for (const d of detectors) {
    if (!kinds.has(d.kind)) continue;
    for (const m of d.find(text)) {
      if (accepted.some((a) => m.start < a.end && a.start < m.end)) continue;
      accepted.push(m);
    }
  }
  return accepted.sort((a, b) => a.start - b.start);
}

/** Scans every turn of every example. */
export function scanDataset(examples: ChatExample[], options: ScanOptions = {}): PrivacyReport {
  const counts = Object.fromEntries(piiKinds.map((k) => [k, 0])) as Record<PiiKind, number>;
  const findings: PrivacyFinding[] = [];
  const withFindings = new Set<number>();
  for (const [example, e] of examples.entries()) {
    const location = locationOf(e);
    for (const [turn, m] of e.messages.entries()) {
      for (const match of findPii(m.content, options)) {
        counts[match.kind]++;
        withFindings.add(example);
        findings.push({
          kind: match.kind,
          detector: match.detector,
          example,
          turn,
          role: m.role,
          start: match.start,
          end: match.end,
          masked: maskValue(match.kind, match.value),
          ...(location ? { location } : {}),
        });
      }
    }
  }
  return {
    detectorsVersion: PRIVACY_DETECTORS_VERSION,
    examples: examples.length,
    examplesWithFindings: withFindings.size,
    total: findings.length,
    counts,
    findings,
  };
}

/** Replaces every finding with its token (`[EMAIL]`, `[PHONE]`, ...). */
export function redactText(text: string, options: ScanOptions = {}): string {
  let out = '';
  let at = 0;
  for (const m of findPii(text, options)) {
    out += text.slice(at, m.start) + redactionTokens[m.kind];
    at = m.end;
  }
  return out + text.slice(at);
}

/** A copy of the examples with every finding replaced by its token; meta is kept. */
export function redactDataset(examples: ChatExample[], options: ScanOptions = {}): ChatExample[] {
  return examples.map((e) => ({
    ...e,
    messages: e.messages.map((m) => ({ ...m, content: redactText(m.content, options) })),
  }));
}

/** Keeps enough to recognise a value in a report (kind, shape, last digits) and hides the rest. */
export function maskValue(kind: PiiKind, value: string): string {
  if (kind === 'email') {
    const [local = '', domain = ''] = value.split('@');
    const dot = domain.lastIndexOf('.');
    return `${local.slice(0, 1)}***@${domain.slice(0, 1)}***${dot >= 0 ? domain.slice(dot) : ''}`;
  }
  if (kind === 'card' || kind === 'phone') {
    // Every digit but the last 2 (phone) or 4 (card) becomes *; separators stay, so the shape shows.
    const keep = kind === 'card' ? 4 : 2;
    let digits = value.replace(/\D/g, '').length;
    return value.replace(/\d/g, (d) => (digits-- > keep ? '*' : d));
  }
  if (kind === 'iban') {
    const compact = value.replace(/\s/g, '');
    return `${compact.slice(0, 2)}**${'*'.repeat(Math.max(compact.length - 8, 0))}${compact.slice(-4)}`;
  }
  if (kind === 'secret') return `${value.slice(0, 4)}… (${value.length} chars)`;
  return value
    .split(/\s+/)
    .map((w) => `${w.slice(0, 1)}${'*'.repeat(Math.max(w.length - 1, 1))}`)
    .join(' ');
}

// ---------------------------------------------------------------------------------------------
// detectors, in priority order

function regexDetector(
  kind: PiiKind,
  detector: string,
  pattern: RegExp,
  accept: (value: string, match: RegExpExecArray) => boolean = () => true,
  group = 0,
): Detector {
  return {
    kind,
    detector,
    find(text) {
      const out: PiiMatch[] = [];
      const re = new RegExp(
        pattern.source,
        pattern.flags.includes('d') ? pattern.flags : `${pattern.flags}d`,
      );
      for (const m of text.matchAll(re)) {
        const span = m.indices?.[group];
        const value = m[group];
        if (!span || value === undefined || !accept(value, m as RegExpExecArray)) continue;
        out.push({ kind, detector, start: span[0], end: span[1], value });
      }
      return out;
    },
  };
}

/** Shannon entropy in bits per character. Random keys score 4-6; words and placeholders below 3.5. */
export function entropy(value: string): number {
  const counts = new Map<string, number>();
  for (const c of value) counts.set(c, (counts.get(c) ?? 0) + 1);
  let bits = 0;
  for (const n of counts.values()) {
    const p = n / value.length;
    bits -= p * Math.log2(p);
  }
  return bits;
}

const placeholder =
  /^(?:<[^>]*>|\$\{?[\w.]+\}?|\{\{.*\}\}|%\w+%|x{3,}|\*{3,}|\.{3,}|(?:your|my|example|sample|dummy|test|fake)[\w-]*|changeme|redacted|none|null|undefined|true|false|\[[A-Z]+\])$/i;

const secretDetectors: Detector[] = [
  regexDetector(
    'secret',
    'private-key',
    /-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=\s]*)/g,
  ),
  regexDetector('secret', 'jwt', /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g),
  regexDetector(
    'secret',
    'aws-access-key',
    /\b(?:AKIA|ASIA|ABIA|ACCA|AGPA|AIDA|AIPA|ANPA|ANVA|APKA|AROA|ASCA)[A-Z0-9]{16}\b/g,
  ),
  regexDetector(
    'secret',
    'github-token',
    /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b/g,
  ),
  // OpenAI (sk-, sk-proj-, sk-svcacct-) and Anthropic (sk-ant-) keys; real ones always contain digits.
  regexDetector(
    'secret',
    'sk-key',
    /(?<![\w-])sk-[A-Za-z0-9_-]{20,}/g,
    (v) => /\d/.test(v) && entropy(v) >= 3.5,
  ),
  regexDetector('secret', 'stripe-key', /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b/g),
  regexDetector('secret', 'slack-token', /\bxox[abposr]-[A-Za-z0-9-]{10,}/g),
  regexDetector('secret', 'google-api-key', /\bAIza[0-9A-Za-z_-]{35}\b/g),
  regexDetector(
    'secret',
    'bearer-token',
    /\bBearer\s+([A-Za-z0-9._~+/-]{16,}=*)/g,
    (v) => entropy(v) >= 3.5 && !placeholder.test(v),
    1,
  ),
  // key=value / "key": "value" assignments: only the value is reported and redacted. The keyword must
  // end the name or a part of it (AWS_SECRET_ACCESS_KEY, client_secret), so tokenizer=... is not a secret.
  regexDetector(
    'secret',
    'assignment',
    /\b[A-Za-z0-9_.-]*?(?:api[_-]?key|apikey|secret|token|passw(?:or)?d|pwd|access[_-]?key|private[_-]?key|credential)s?(?:[_.-][A-Za-z0-9_.-]*)?["']?\s*[:=]\s*(["']?)([^\s"'`,;]{6,})\1/gi,
    (value, m) => {
      if (placeholder.test(value)) return false;
      // Passwords are secrets whatever they look like; other values must look random.
      if (/passw(?:or)?d|pwd/i.test(m[0])) return value.length >= 6;
      return value.length >= 16 && entropy(value) >= 3.5;
    },
    2,
  ),
];

const ibanLengths: Record<string, number> = {
  AD: 24,
  AE: 23,
  AL: 28,
  AT: 20,
  AZ: 28,
  BA: 20,
  BE: 16,
  BG: 22,
  BH: 22,
  BR: 29,
  BY: 28,
  CH: 21,
  CR: 22,
  CY: 28,
  CZ: 24,
  DE: 22,
  DK: 18,
  DO: 28,
  EE: 20,
  EG: 29,
  ES: 24,
  FI: 18,
  FO: 18,
  FR: 27,
  GB: 22,
  GE: 22,
  GI: 23,
  GL: 18,
  GR: 27,
  GT: 28,
  HR: 21,
  HU: 28,
  IE: 22,
  IL: 23,
  IQ: 23,
  IS: 26,
  IT: 27,
  JO: 30,
  KW: 30,
  KZ: 20,
  LB: 28,
  LC: 32,
  LI: 21,
  LT: 20,
  LU: 20,
  LV: 21,
  MC: 27,
  MD: 24,
  ME: 22,
  MK: 19,
  MR: 27,
  MT: 31,
  MU: 30,
  NL: 18,
  NO: 15,
  PK: 24,
  PL: 28,
  PS: 29,
  PT: 25,
  QA: 29,
  RO: 24,
  RS: 22,
  SA: 24,
  SC: 31,
  SE: 24,
  SI: 19,
  SK: 24,
  SM: 27,
  TN: 24,
  TR: 26,
  UA: 29,
  VA: 22,
  VG: 24,
  XK: 20,
};

/** ISO 13616: the right length for the country and mod-97 of the rearranged number equal to 1. */
export function isValidIban(value: string): boolean {
  const iban = value.replace(/\s/g, '').toUpperCase();
  if (ibanLengths[iban.slice(0, 2)] !== iban.length) return false;
  const rearranged = iban.slice(4) + iban.slice(0, 4);
  let remainder = 0;
  for (const c of rearranged) {
    const digits = c >= 'A' && c <= 'Z' ? String(c.charCodeAt(0) - 55) : c;
    for (const d of digits) remainder = (remainder * 10 + Number(d)) % 97;
  }
  return remainder === 1;
}

/** Luhn checksum over the digits. */
export function luhnValid(digits: string): boolean {
  let sum = 0;
  for (let i = 0; i < digits.length; i++) {
    let d = Number(digits[digits.length - 1 - i]);
    if (i % 2 === 1) {
      d *= 2;
      if (d > 9) d -= 9;
    }
    sum += d;
  }
  return sum % 10 === 0;
}

/** Issuer prefixes of the card networks (Visa, Mastercard, Amex, Discover, JCB, Diners, UnionPay, Maestro). */
function cardIssuer(digits: string): boolean {
  const n = digits.length;
  const p2 = Number(digits.slice(0, 2));
  const p4 = Number(digits.slice(0, 4));
  if (digits[0] === '4') return n === 13 || n === 16 || n === 19;
  if ((p2 >= 51 && p2 <= 55) || (p4 >= 2221 && p4 <= 2720)) return n === 16;
  if (p2 === 34 || p2 === 37) return n === 15;
  if (p4 === 6011 || p2 === 65 || (p4 >= 6440 && p4 <= 6499)) return n >= 16;
  if (p4 >= 3528 && p4 <= 3589) return n >= 16;
  if (p2 === 36 || p2 === 38 || p2 === 39 || (p4 >= 3000 && p4 <= 3059)) return n >= 14;
  if (p2 === 62) return n >= 16;
  if (p2 === 50 || (p2 >= 56 && p2 <= 69)) return n >= 12;
  return false;
}

const phoneKeyword = /(?:phone|tel|telephone|mobile|cell|fax|call|whatsapp|sms|text me|ring)\W{0,3}$/i;

const dataDetectors: Detector[] = [
  regexDetector(
    'email',
    'email',
    /(?<![\w.%+-])[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b/g,
  ),
  regexDetector('iban', 'iban', /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,4})?\b/g, isValidIban),
  regexDetector('card', 'luhn', /(?<![\d.,-])\d(?:[ -]?\d){12,18}(?![\d.,-]?\d)/g, (value) => {
    const digits = value.replace(/\D/g, '');
    return digits.length >= 13 && digits.length <= 19 && luhnValid(digits) && cardIssuer(digits);
  }),
  // +44 20 7946 0958, +1 (555) 123-4567, 0049 30 1234567: 8-15 digits after the country code prefix.
  regexDetector(
    'phone',
    'international',
    /(?<![\w+])(?:\+|00)[1-9]\d{0,3}(?:[ .-]?\(?\d{1,5}\)?){1,6}(?![\w])/g,
    (value) => {
      const digits = value.replace(/^00/, '').replace(/\D/g, '');
      return digits.length >= 8 && digits.length <= 15;
    },
  ),
  // North American: (555) 123-4567, 555-123-4567, 555.123.4567, 555 123 4567.
  regexDetector(
    'phone',
    'nanp',
    /(?<![\w.-])(?:\(\d{3}\) ?|\d{3}[ .-])\d{3}[ .-]\d{4}(?![\w]|[.-]\d)/g,
    (value) => {
      // One kind of separator (or parentheses) throughout: "192.168.100 1234"-like mixes are not phones.
      const separators = new Set(value.replace(/[\d()]/g, ''));
      return separators.size <= 1 || value.startsWith('(');
    },
  ),
  // National numbers with a trunk 0 and space/dash/slash groups (020 7946 0958, 07700 900123, 030 1234567,
  // 01 23 45 67 89). Dots are not accepted as separators, so versions and IP addresses never match.
  regexDetector(
    'phone',
    'national',
    /(?<![\w.+/-])0\d{1,4}(?:[ /-]\d{2,8}){1,4}(?![\w]|[./-]\d)/g,
    (value) => {
      const digits = value.replace(/\D/g, '').length;
      return digits >= 9 && digits <= 12;
    },
  ),
  // A bare digit run right after a word such as phone, tel, call: "call 07700900123".
  {
    kind: 'phone',
    detector: 'keyword',
    find(text) {
      const out: PiiMatch[] = [];
      for (const m of text.matchAll(/(?<![\w.])\+?\d{7,15}(?![\w.]?\d)/g)) {
        const before = text.slice(Math.max(0, m.index - 16), m.index);
        if (phoneKeyword.test(before))
          out.push({
            kind: 'phone',
            detector: 'keyword',
            start: m.index,
            end: m.index + m[0].length,
            value: m[0],
          });
      }
      return out;
    },
  },
];

/**
 * Common given names, for the `first-name` rule. Names that are also everyday words (May, Will,
 * Mark, Grace, Hope, Bill, Rose, Jordan...) are left out: they would flag too much ordinary text.
 */
const firstNames = new Set(
  `james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony
donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan jacob
gary nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander patrick
frank raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle noah ethan
jeremy walter christian keith roger terry austin sean gerald carl harold dylan arthur lawrence jesse bryan
joe bruce gabriel logan albert willie alan juan wayne elijah randy roy vincent ralph eugene russell bobby
mason philip louis mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy
betty sandra margaret ashley kimberly emily donna michelle carol amanda melissa deborah stephanie rebecca
sharon laura cynthia dorothy amy kathleen angela shirley brenda emma anna pamela nicole samantha katherine
christine helen debra rachel carolyn janet maria catherine heather diane olivia julie joyce victoria
ruth virginia lauren kelly christina joan evelyn judith andrea hannah megan cheryl jacqueline martha
madison teresa gloria sara janice ann kathryn abigail sophia frances jean alice judy isabella julia
beverly denise marilyn amber danielle brittany diana natalie sophie charlotte lucy chloe mia amelia
ava harper ella scarlett aria zoe lily leah nora hazel ellie paisley audrey skylar violet claire bella
lukas leon finn felix jonas elias maximilian moritz lena lea hanna johanna klaus jurgen stefan andreas
wolfgang sabine ursula monika petra pierre jean-pierre francois nicolas julien antoine camille manon
chloe mathieu sebastien guillaume giuseppe giovanni francesco antonio marco luca alessandro matteo
lorenzo giulia francesca chiara alessia sofia martina carlos miguel javier alejandro diego pablo sergio
fernando jorge luis manuel rafael lucia carmen isabel pilar elena marta rosa ana laia raj rahul amit
priya anjali arjun vikram sanjay deepak pooja neha sunita ravi suresh ramesh anil sunil kavita
mohammed muhammad ahmed ali omar hassan hussein fatima aisha layla youssef ibrahim mustafa khalid
wei li ming hui jing xiao yan chen lin hiroshi takashi yuki haruto sakura yuto kenji akira satoshi
olga ivan dmitri sergei vladimir natasha tatiana anastasia svetlana aleksandr mikhail piotr katarzyna
agnieszka tomasz jan lars anders erik nils ingrid astrid sven björn mats oskar`.split(/\s+/),
);

/** Words that start sentences or headings and are never surnames. */
const notSurname = new Set(
  'the a an and or but of in on at to for with from by is was are were has had have will would can could should this that these those it its he she they we you i'.split(
    ' ',
  ),
);

const capitalised = /^\p{Lu}[\p{Ll}'’-]+$/u;

const nameDetectors: Detector[] = [
  // "Name: Jane Doe", "full name = Jane Doe", "my name is Jane", "signed: J. Doe"
  regexDetector(
    'name',
    'label',
    /\b(?:(?:[Ff]ull |[Ff]irst |[Ll]ast |[Cc]ustomer |[Pp]atient |[Ee]mployee |[Cc]ontact |[Aa]ccount holder |[Cc]ard ?holder )?[Nn]ame\s*(?::|=|is)|[Tt]his is|[Ss]igned:?|[Rr]egards,|[Ss]incerely,)\s*((?:\p{Lu}[\p{Ll}'’-]+|\p{Lu}\.)(?:[ ](?:\p{Lu}[\p{Ll}'’-]+|\p{Lu}\.)){0,2})/gu,
    (value, m) => !/^this is/i.test(m[0]) || firstNames.has(value.split(' ')[0]!.toLowerCase()),
    1,
  ),
  // Mr Smith, Mrs. Jane Doe, Dr. Ada Lovelace
  regexDetector(
    'name',
    'title',
    /\b(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Herr|Frau|Mme|Mlle|Sr|Sra)\.? ((?:\p{Lu}[\p{Ll}'’-]+)(?: \p{Lu}[\p{Ll}'’-]+){0,2})/gu,
    () => true,
    1,
  ),
  // Hi Sarah, / Dear John / Thanks, Maria
  regexDetector(
    'name',
    'greeting',
    /\b(?:Hi|Hello|Hey|Dear|Thanks|Thank you|Cheers|Bye)[ ,]+(\p{Lu}[\p{Ll}'’-]+)\b/gu,
    (value) => firstNames.has(value.toLowerCase()),
    1,
  ),
  // A known given name followed by one or two capitalised words: Maria Garcia, John Paul Smith.
  {
    kind: 'name',
    detector: 'first-name',
    find(text) {
      const out: PiiMatch[] = [];
      for (const m of text.matchAll(/\p{Lu}[\p{Ll}'’-]+(?: \p{Lu}[\p{Ll}'’-]+){1,2}/gu)) {
        const words = m[0].split(' ');
        if (!firstNames.has(words[0]!.toLowerCase())) continue;
        const rest: string[] = [];
        for (const w of words.slice(1)) {
          if (!capitalised.test(w) || notSurname.has(w.toLowerCase())) break;
          rest.push(w);
        }
        if (rest.length === 0) continue;
        const value = [words[0]!, ...rest].join(' ');
        out.push({
          kind: 'name',
          detector: 'first-name',
          start: m.index,
          end: m.index + value.length,
          value,
        });
      }
      return out;
    },
  },
];

const detectors: Detector[] = [...secretDetectors, ...dataDetectors, ...nameDetectors];

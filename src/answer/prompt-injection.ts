/**
 * Evidence that talks to the model instead of informing it. The small default models follow such
 * text readily even when fenced as a quotation, so instructions are taken out of a source before
 * it reaches a prompt: sentence by sentence, so the facts beside a planted instruction stay
 * (`neutralizeInstructions`); a source with nothing left but instructions is left out whole.
 *
 * Text is matched after `normalizeForMatching`: spaced-out letters joined, leetspeak digits read as
 * letters, zero-width and bidi characters removed, base64 runs decoded, so obfuscation does not
 * hide an instruction from the patterns.
 */
const PATTERNS: RegExp[] = [
  /\b(ignore|disregard|forget|override|skip|bypass)\b[^.\n]{0,60}\b(previous|prior|above|earlier|all|any|other|system|your|these|those|the)\b[^.\n]{0,30}\b(instructions?|directions?|prompts?|rules?|guidelines?|context|sources?|documents?|text|question)\b/i,
  /\b(you are now|you're now|from now on|act as|pretend (to be|you are)|roleplay as|role-play as|you will now|play the role|imagine you are|you must now)\b/i,
  /\b(developer mode|dan mode|jailbreak mode)\b/i,
  /\b(new|updated|real|actual|hidden|secret|special|important) (instructions?|rules?|task|directive|orders?)\s*(:|for|to)/i,
  /\b(reply|respond|answer|say|write|output|print|return|state|type|end|begin|start|finish|conclude)\b[^.\n]{0,40}\b(only|just|exactly|solely|always|simply|nothing but)\b[^.\n]{0,20}\b(with|the word|the phrase|word|phrase|by saying|")/i,
  /(^|[.!?:]\s+|\n)\s*(please\s+)?(only|always|just)\s+(reply|respond|answer|say|output|print|write)\b/i,
  /\byou\s+(must|should|shall|will|have to|need to|are to)\s+(now\s+)?(only\s+|always\s+)?(reply|respond|answer|say|output|print|write|include|mention|use|ignore)\b/i,
  /\b(your|the) (answer|reply|response|output)s? (must|should|shall|has to|will|needs to) (be|contain|include|start|end)\b/i,
  /\blet'?s play a game\b|\byou are [A-Z][\w-]*bot\b/i,
  // A forged turn of the assistant: a line that opens with its role label.
  /(^|\n)\s*(assistant|ai|model|bot|chatbot)\s*:/i,
  /\b(do not|don't|never|stop)\s+(cite|mention|reveal|use|answer|follow|read|trust|quote)\s+(the\s+)?(sources?|instructions?|documents?|context|question|facts?)\b/i,
  /\b(when|if|whenever)\s+(you\s+are|you're|you\s+get|you)\s+(asked|questioned|queried)\b[^.\n]{0,80}\b(reply|respond|answer|say|write|output|tell)\b/i,
  /\b(when|if|whenever)\s+asked\b[^.\n]{0,80},\s*(always\s+)?(reply|respond|answer|say|write|output)\b/i,
  /\b(include|insert|add|append|prepend|mention|use)\b[^.\n]{0,30}\b(the (word|phrase|code ?word|token|string|password)|codeword|canary)\b/i,
  /\b(the )?(assistant|ai|model|chatbot|language model|llm|bot)s?\s+(must|should|shall|will|has to|needs to|is required to)\b/i,
  /\bthe (correct|only|true|real|final) (answer|response|reply)\b[^.\n]{0,60}\b(is|will be|must be|should be)\b/i,
  /\b(decode|base64|rot13|reverse)\b[^.\n]{0,60}\b(follow|execute|obey|do what|instructions?|comply)\b/i,
  // A role label or chat-template marker starting a line, followed by something addressed to the model.
  /(^|\n|\s)(system|assistant|developer|user|human|ai|instruction|admin|sysadmin|root)\s*(\(|:|>|\]|-{1,2}>)[^\n]{0,120}\b(you|your|answer|reply|respond|say|output|ignore|must|always|never|write|print)\b/i,
  /(‹\||\|›|⟦\/?INST⟧|<<\/?SYS>>|‹\/?(start_of_turn|end_of_turn|bos|eos|s)›|#{2,}\s*(instruction|system|response|assistant)\b)/i,
  // German, French, Spanish: "ignore the previous instructions", "from now on you are", "answer only with".
  /\b(ignorier(e|en|t)?|vergiss|vergessen sie|missachte(n)?|übergehe)\b[^.\n]{0,60}\b(anweisungen|instruktionen|regeln|vorgaben|anweisung|quellen|kontext)\b/i,
  /\b(ab jetzt|von nun an|du bist jetzt|du bist nun|sie sind jetzt|tu so als|spiele die rolle|neue anweisung(en)?\s*:)/i,
  /\b(antworte|antworten sie|sag|sage|sagen sie|schreib|schreibe|schreiben sie|gib|gebe|geben sie)\b[^.\n]{0,40}\b(nur|ausschließlich|immer|lediglich|genau)\b/i,
  /\b(wenn|falls|sobald)\b[^.\n]{0,80}\b(gefragt|fragt)\b[^.\n]{0,60}\b(antworte|sage|sag|schreibe|gib)\b/i,
  /\b(ignore[zr]?|oublie[zr]?|ne tiens pas compte|négligez|ne suivez pas)\b[^.\n]{0,60}\b(instructions?|consignes?|r[eè]gles?|sources?|contexte)\b/i,
  /\b(tu es maintenant|vous êtes maintenant|d[ée]sormais|à partir de maintenant|fais semblant|joue le rôle|nouvelles? instructions?\s*:)/i,
  /\b(réponds|répondez|dis|dites|écris|écrivez|affiche|affichez)\b[^.\n]{0,40}\b(uniquement|seulement|toujours|exactement|rien d'autre que)\b/i,
  /\b(si|quand|lorsqu)\b[^.\n]{0,40}\b(demande|demandes|demandez|interroge)\b[^.\n]{0,60}\b(réponds|répondez|dis|dites|écris|écrivez)\b/i,
  /\b(ignora|ignore|olvida|olvide|no hagas caso|haz caso omiso)\b[^.\n]{0,60}\b(instrucciones|reglas|indicaciones|fuentes|contexto)\b/i,
  /\b(a partir de ahora|ahora eres|desde ahora|finge ser|haz el papel|nuevas? instrucci[oó]n(es)?\s*:)/i,
  /\b(responde|responda|contesta|di|diga|escribe|escriba)\b[^.\n]{0,40}\b(solo|sólo|solamente|únicamente|siempre|exactamente)\b/i,
  /\b(si|cuando)\b[^.\n]{0,40}\b(pregunta|preguntan|pregunten|preguntas)\b[^.\n]{0,60}\b(responde|responda|contesta|di|diga|escribe)\b/i,
];

/**
 * Chat-template control sequences written into a document (`<|im_start|>system`, `[INST]`,
 * `<start_of_turn>`, `<|eot_id|>`) would end the quoted source and open a turn of their own if the
 * runtime tokenized them as special tokens. Every one is defused before a source reaches a prompt:
 * its angle brackets become look-alike characters, so the text stays readable and citable but can
 * never tokenize to a control token, whatever the template.
 */
const CONTROL_SEQUENCES =
  /<\|[^|<>\n]{0,40}\|>|<\/?s>|\[\/?INST\]|<<\/?SYS>>|<\/?(start_of_turn|end_of_turn|bos|eos)>/gi;

export function defuseControlTokens(text: string): string {
  return text.replace(CONTROL_SEQUENCES, (marker) =>
    marker
      .replaceAll('<', '\u2039')
      .replaceAll('>', '\u203a')
      .replaceAll('[', '\u27e6')
      .replaceAll(']', '\u27e7'),
  );
}

const LEET: Record<string, string> = {
  '0': 'o',
  '1': 'i',
  '3': 'e',
  '4': 'a',
  '5': 's',
  '7': 't',
  '@': 'a',
  $: 's',
};

/** What the patterns are matched against: the text with the usual obfuscations undone. */
export function normalizeForMatching(text: string): string {
  let out = defuseControlTokens(text.normalize('NFKC'))
    // Zero-width, soft hyphen and bidi controls: invisible, and used to split trigger words.
    .replace(/[\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]/g, '')
    .replace(/<!--|-->/g, ' ');
  // "I g n o r e" and "i.g.n.o.r.e": single letters joined by one separator.
  out = out.replace(/\b(?:\p{L}[ ._*-]){3,}\p{L}\b/gu, (run) => run.replace(/[ ._*-]/g, ''));
  // Leetspeak inside words ("1gn0re"); numbers standing alone stay numbers.
  out = out.replace(/\b(?=[\p{L}\d@$]*\p{L})(?=[\p{L}\d@$]*[\d@$])[\p{L}\d@$]{3,}\b/gu, (word) =>
    word.replace(/[013457@$]/g, (c) => LEET[c] ?? c),
  );
  // Base64 runs long enough to hold a sentence: decoded text is matched too.
  out = out.replace(/[A-Za-z0-9+/]{16,}={0,2}/g, (run) => {
    const decoded = Buffer.from(run, 'base64').toString('utf8');
    return /^[\p{L}\p{N}\p{P}\p{Zs}]+$/u.test(decoded) && /\s/.test(decoded) ? `${run} ${decoded}` : run;
  });
  return out;
}

export function looksLikePromptInjection(text: string): boolean {
  const normalized = normalizeForMatching(text);
  return PATTERNS.some((pattern) => pattern.test(normalized));
}

export type Neutralized = {
  /** The source with its instruction sentences taken out; what a prompt may quote. */
  text: string;
  /** How many sentences (or lines) were taken out. */
  removed: number;
};

const TURN_MARKER =
  /<\|[^|<>\n]{0,40}\|>|<\/?s>|\[\/?INST\]|<<\/?SYS>>|<\/?(start_of_turn|end_of_turn)>|#{2,}\s*(instruction|system|response|assistant)\b/;
const segmenter = new Intl.Segmenter('en', { granularity: 'sentence' });
// A line is kept or dropped whole when it is a table row or a list item: its cells are one unit.
const STRUCTURED_LINE = /^\s*(\||[-*+•]\s|\d+[.)]\s|#)/;

/**
 * Takes the instructions out of a source and keeps its facts: every sentence (every line of a
 * table, list or code block) that reads as an instruction to the model is removed, the rest is
 * returned unchanged. An HTML comment is removed whole when it holds one.
 */
export function neutralizeInstructions(text: string): Neutralized {
  let removed = 0;
  const withoutComments = text
    .replace(/<!--[\s\S]*?(-->|$)/g, (comment) => {
      if (!looksLikePromptInjection(comment)) return comment;
      removed++;
      return ' ';
    })
    // A code block with an instruction in it goes whole: what follows the comment is its payload.
    .replace(/```[\s\S]*?(```|$)/g, (block) => {
      if (!looksLikePromptInjection(block)) return block;
      removed++;
      return ' ';
    })
    // From a chat-template marker to the end of its paragraph: the turn it forges, whatever it says.
    .replace(new RegExp(`(${TURN_MARKER.source})[\\s\\S]*?(?=\\n\\s*\\n|$)`, 'gi'), () => {
      removed++;
      return ' ';
    });
  const lines = withoutComments.split('\n').map((line) => {
    if (!looksLikePromptInjection(line)) return line;
    if (STRUCTURED_LINE.test(line)) {
      removed++;
      return '';
    }
    const kept: string[] = [];
    for (const { segment } of segmenter.segment(line)) {
      if (looksLikePromptInjection(segment)) removed++;
      else kept.push(segment);
    }
    const rest = kept.join('').trim();
    // A sentence boundary the segmenter did not see (an instruction run into a fact with a
    // comma) leaves the line flagged: it goes whole.
    if (rest && looksLikePromptInjection(rest)) {
      removed++;
      return '';
    }
    return rest;
  });
  return {
    text: lines
      .join('\n')
      .replace(/\n{3,}/g, '\n\n')
      .trim(),
    removed,
  };
}

/** Whether what is left after neutralizing still says something (a few words, not a stray label). */
export function hasSubstance(text: string): boolean {
  return (text.match(/[\p{L}\p{N}]{2,}/gu) ?? []).length >= 3;
}

/**
 * Evidence that talks to the model instead of informing it. The 135M default model follows such
 * text readily even when fenced as a quotation, so chunks matching these patterns are kept out of
 * the prompt (and recorded as excluded in the audit trail) rather than trusted to the prompt alone.
 */
const PATTERNS: RegExp[] = [
  /\b(ignore|disregard|forget|override)\b[^.\n]{0,40}\b(previous|prior|above|earlier|all|any|system|your)\b[^.\n]{0,20}\b(instructions?|directions?|prompts?|rules?|guidelines?)\b/i,
  /\b(you are now|from now on,? you|act as|pretend to be)\b/i,
  /\b(system prompt|developer message|jailbreak)\b/i,
  /\bnew instructions?\s*:/i,
  /\b(reply|respond|answer|say)\s+only\s+with\b/i,
  /\b(do not|don't|never)\s+(cite|mention|reveal)\s+(the\s+)?(sources?|instructions?)\b/i,
  // German, French, Spanish: "ignore the previous instructions" and "from now on you are".
  /\b(ignorier(e|en)?|vergiss|missachte)\b[^.\n]{0,40}\b(anweisungen|instruktionen|regeln|vorgaben)\b/i,
  /\b(ignore[zr]?|oublie[zr]?)\b[^.\n]{0,40}\b(instructions|consignes|r[eè]gles)\b/i,
  /\b(ignora|olvida)\b[^.\n]{0,40}\b(instrucciones|reglas|indicaciones)\b/i,
  /\b(ab jetzt bist du|tu es maintenant|d[ée]sormais,? tu|a partir de ahora eres)\b/i,
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

export function looksLikePromptInjection(text: string): boolean {
  return PATTERNS.some((pattern) => pattern.test(text));
}

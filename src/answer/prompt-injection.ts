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
];

export function looksLikePromptInjection(text: string): boolean {
  return PATTERNS.some((pattern) => pattern.test(text));
}

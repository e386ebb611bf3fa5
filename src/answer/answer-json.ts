import type { AnswerResult } from './answerer.ts';

/** An answer as JSON: `attune ask --json`, the HTTP API and MCP return this shape. */
export function answerJson(result: AnswerResult) {
  return {
    answer: result.answer,
    abstained: result.abstained,
    ...(result.abstainReason ? { abstainReason: result.abstainReason } : {}),
    citations: result.citations,
    sources: result.sources,
    ...(result.closest ? { closest: result.closest } : {}),
    groundedness: result.groundedness.score,
    retrievalConfidence: result.retrievalConfidence,
    kbVersion: result.kbVersion,
    mode: result.mode,
    cached: result.cached,
    auditId: result.auditId,
    timings: result.timings,
    usage: result.usage,
    warnings: result.warnings,
  };
}

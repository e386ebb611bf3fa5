/** One training example in Attune's internal chat format; every importer produces this. */
export type ChatTurn = { role: 'system' | 'user' | 'assistant'; content: string };

export type ChatExample = {
  messages: ChatTurn[];
  /** Where it came from (file and line, generator, chunk id); never sent to the trainer. */
  meta?: Record<string, unknown>;
};

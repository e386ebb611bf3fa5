import { constants } from 'node:os';

/** What a command that stops cleanly on SIGINT/SIGTERM gets: the signal to pass on, and what arrived. */
export type StopSignal = {
  readonly signal: AbortSignal;
  /** The first signal received, if any. */
  readonly received: NodeJS.Signals | undefined;
  /** 128 + the signal's number (SIGINT 130, SIGTERM 143), as a shell reports a process it stopped. */
  readonly exitCode: number | undefined;
  /** Removes the handlers: the process's default behaviour returns. */
  dispose(): void;
};

/**
 * The first SIGINT or SIGTERM aborts `signal`, so the work stops at its next safe point; a second
 * one exits at once (what is written is crash-safe either way, just less tidily recorded).
 */
export function stopOnSignal(onFirst: (signal: NodeJS.Signals) => void): StopSignal {
  const controller = new AbortController();
  let received: NodeJS.Signals | undefined;
  const code = (signal: NodeJS.Signals) => 128 + constants.signals[signal];
  const handler = (signal: NodeJS.Signals) => {
    if (received !== undefined) process.exit(code(received));
    received = signal;
    onFirst(signal);
    controller.abort(new Error(`stopped by ${signal}`));
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    signal: controller.signal,
    get received() {
      return received;
    },
    get exitCode() {
      return received === undefined ? undefined : code(received);
    },
    dispose() {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

const bin = join(import.meta.dirname, '..', '..', 'bin', 'attune.js');

export type CliRun = { code: number | null; stdout: string; stderr: string };

/** The real CLI in a child process, as a user runs it: for the tests of every command. */
export function runAttune(args: string[], env: Record<string, string> = {}, cwd?: string): Promise<CliRun> {
  return startAttune(args, env, cwd).done;
}

/** `runAttune`, with the process to signal and its output so far, while it runs. */
export function startAttune(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string,
): { child: ChildProcess; output: () => CliRun; done: Promise<CliRun> } {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    ...(cwd ? { cwd } : {}),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => {
    stdout += d;
  });
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  const done = new Promise<CliRun>((resolve) =>
    child.on('close', (code) => resolve({ code, stdout, stderr })),
  );
  return { child, output: () => ({ code: child.exitCode, stdout, stderr }), done };
}

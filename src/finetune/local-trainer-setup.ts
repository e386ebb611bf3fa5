/**
 * The local trainer's Python environment: a venv at `<home>/trainer-venv` with trainer/requirements.txt
 * installed. Setup is idempotent: a stamp file records the hash of the requirements it installed, so a
 * second run does nothing and a changed requirements file re-installs.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AttuneConfig } from '../config/index.ts';
import { AttuneError } from '../models/model-error.ts';

/** The Python package directory (holds attune_trainer/ and requirements.txt). */
export const trainerPackageDir = join(import.meta.dirname, '..', '..', 'trainer');
export const requirementsFile = join(trainerPackageDir, 'requirements.txt');
export const setupCommand = 'attune trainer setup   (or: node scripts/setup-trainer.mjs)';

const stampName = '.attune-trainer-stamp.json';
const minimumPython = [3, 10] as const;

export type TrainerEnvironment = {
  venv: string;
  /** The venv's interpreter, which runs the worker. */
  python: string;
  requirementsSha256: string;
};

type Stamp = { requirementsSha256: string; python: string; installedAt: string };

export function trainerVenvDir(config: Pick<AttuneConfig, 'home'>): string {
  return join(config.home, 'trainer-venv');
}

function venvPython(venv: string): string {
  return process.platform === 'win32' ? join(venv, 'Scripts', 'python.exe') : join(venv, 'bin', 'python');
}

export function requirementsHash(file = requirementsFile): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

function readStamp(venv: string): Stamp | undefined {
  try {
    return JSON.parse(readFileSync(join(venv, stampName), 'utf8')) as Stamp;
  } catch {
    return undefined;
  }
}

/** The ready environment, or an error whose hint is the setup command. Starts nothing. */
export function trainerEnvironment(config: Pick<AttuneConfig, 'home'>): TrainerEnvironment {
  const venv = trainerVenvDir(config);
  const python = venvPython(venv);
  const wanted = requirementsHash();
  if (!existsSync(python)) {
    throw new AttuneError(`The local trainer's Python environment is not set up (no ${python}).`, {
      hint: `Run: ${setupCommand}`,
    });
  }
  const stamp = readStamp(venv);
  if (stamp?.requirementsSha256 !== wanted) {
    throw new AttuneError(
      stamp
        ? `The local trainer's Python environment in ${venv} was installed from other requirements than trainer/requirements.txt now lists.`
        : `The local trainer's Python environment in ${venv} is incomplete (its setup did not finish).`,
      { hint: `Run: ${setupCommand}` },
    );
  }
  return { venv, python, requirementsSha256: wanted };
}

export type SetupOptions = {
  /** Progress lines (what is being done, pip's own lines); the CLI prints them to stderr. */
  onProgress?: (line: string) => void;
  /** Re-install even when the stamp matches. */
  force?: boolean;
};

export type SetupResult = TrainerEnvironment & { changed: boolean; seconds: number };

/** Creates or updates the venv. Safe to run any number of times; the second run does nothing. */
export async function setupTrainer(
  config: Pick<AttuneConfig, 'home' | 'python'>,
  options: SetupOptions = {},
): Promise<SetupResult> {
  const started = performance.now();
  const say = options.onProgress ?? (() => {});
  const venv = trainerVenvDir(config);
  const python = venvPython(venv);
  const wanted = requirementsHash();
  const done = (changed: boolean): SetupResult => ({
    venv,
    python,
    requirementsSha256: wanted,
    changed,
    seconds: (performance.now() - started) / 1000,
  });
  if (!options.force && existsSync(python) && readStamp(venv)?.requirementsSha256 === wanted) {
    say(`trainer environment ${venv} is up to date`);
    return done(false);
  }
  const version = pythonVersion(config.python);
  say(`using ${config.python} (Python ${version.join('.')})`);
  if (!existsSync(python)) {
    say(`creating virtual environment ${venv}`);
    await mkdir(config.home, { recursive: true });
    await rm(venv, { recursive: true, force: true });
    await run(config.python, ['-m', 'venv', venv], say, {
      what: 'creating the virtual environment',
      hint: `On Debian/Ubuntu: apt-get install python3-venv. Then run: ${setupCommand}`,
    });
  }
  await rm(join(venv, stampName), { force: true });
  say(`installing ${requirementsFile} (torch is large; the first install takes a few minutes)`);
  await run(python, ['-m', 'pip', 'install', '--disable-pip-version-check', '-r', requirementsFile], say, {
    what: 'installing the trainer requirements',
    hint: 'Check that PyPI (or your pip index) is reachable, then run the setup again.',
  });
  say('checking the installed packages import');
  await run(python, ['-c', 'import torch, transformers, peft, safetensors, gguf, numpy'], say, {
    what: 'importing the trainer packages',
    hint: `Run the setup again with --force: ${setupCommand}`,
  });
  const stamp: Stamp = {
    requirementsSha256: wanted,
    python: version.join('.'),
    installedAt: new Date().toISOString(),
  };
  const tmp = join(venv, `${stampName}.${process.pid}.tmp`);
  await writeFile(tmp, `${JSON.stringify(stamp, null, 2)}\n`);
  await rename(tmp, join(venv, stampName));
  say(`trainer environment ready in ${venv}`);
  return done(true);
}

function pythonVersion(python: string): number[] {
  const result = spawnSync(python, ['-c', 'import sys; print(*sys.version_info[:3])'], { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    const reason =
      (result.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT'
        ? 'not found'
        : (result.stderr || result.error?.message || `exit ${result.status}`).trim();
    throw new AttuneError(`Python interpreter "${python}" is not usable: ${reason}.`, {
      hint: `Install Python ${minimumPython.join('.')} or newer and point ATTUNE_PYTHON (or "python" in attune.config.json) at it; then run: ${setupCommand}`,
    });
  }
  const version = result.stdout.trim().split(/\s+/).map(Number);
  const [major = 0, minor = 0] = version;
  if (major < minimumPython[0] || (major === minimumPython[0] && minor < minimumPython[1])) {
    throw new AttuneError(
      `Python ${version.join('.')} at "${python}" is too old for the trainer (needs ${minimumPython.join('.')}+).`,
      { hint: 'Point ATTUNE_PYTHON (or "python" in attune.config.json) at a newer interpreter.' },
    );
  }
  return version;
}

function run(
  command: string,
  args: string[],
  say: (line: string) => void,
  failure: { what: string; hint: string },
): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString('utf8').split(/\r?\n/)) {
        if (!line.trim()) continue;
        tail.push(line);
        if (tail.length > 15) tail.shift();
        say(`  ${line}`);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (error) =>
      reject(
        new AttuneError(`Failed ${failure.what}: ${error.message}`, { hint: failure.hint, cause: error }),
      ),
    );
    child.on('close', (code) => {
      if (code === 0) resolve();
      else
        reject(
          new AttuneError(`Failed ${failure.what} (exit ${code}):\n${tail.join('\n')}`, {
            hint: failure.hint,
          }),
        );
    });
  });
}

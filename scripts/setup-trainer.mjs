#!/usr/bin/env node
// Creates (or updates) the local trainer's Python venv at <ATTUNE_HOME>/trainer-venv with
// trainer/requirements.txt. Idempotent: a stamp holds the requirements' hash, so a second run does
// nothing. Options: --home <dir>, --python <interpreter>, --force. Same as `attune trainer setup`.
import { register } from 'tsx/esm/api';

register();
const { loadConfig } = await import('../src/config/index.ts');
const { setupTrainer } = await import('../src/finetune/local-trainer-setup.ts');
const { AttuneError } = await import('../src/models/model-error.ts');

const args = process.argv.slice(2);
const value = (flag) => {
  const i = args.indexOf(flag);
  return i >= 0 ? args[i + 1] : undefined;
};
const home = value('--home');
const python = value('--python');
try {
  const config = loadConfig({
    env: process.env,
    flags: { ...(home ? { home } : {}), ...(python ? { python } : {}) },
  });
  const result = await setupTrainer(config, {
    force: args.includes('--force'),
    onProgress: (line) => process.stderr.write(`${line}\n`),
  });
  process.stderr.write(
    `${result.changed ? 'installed' : 'up to date'}: ${result.python} (${result.seconds.toFixed(1)} s)\n`,
  );
} catch (error) {
  if (AttuneError.isInstance(error)) {
    process.stderr.write(`error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`);
  } else process.stderr.write(`error: ${error?.stack ?? error}\n`);
  process.exit(1);
}

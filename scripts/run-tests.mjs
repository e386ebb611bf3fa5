// Runs every *.test.ts beside the code with node's own test runner. The default models are pulled
// into ATTUNE_HOME first, once, so no test downloads on its own.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

function findTests(dir) {
  const out = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...findTests(path));
    else if (entry.name.endsWith('.test.ts')) out.push(path);
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length ? only : [...findTests('src'), ...findTests('bench')].sort();
// The configured defaults, and the small chat model the tests of training and generation mechanics use.
for (const names of [[], ['smollm2-135m-instruct']]) {
  const pull = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'src/cli/main.ts', 'models', 'pull', ...names],
    {
      stdio: 'inherit',
    },
  );
  if (pull.status !== 0) process.exit(pull.status ?? 1);
}
// The HTML report test opens it in a real Chromium: Debian's, installed here when missing and allowed.
if (!process.env.ATTUNE_CHROMIUM && !existsSync('/usr/bin/chromium') && process.getuid?.() === 0) {
  const apt = (args) =>
    spawnSync('apt-get', args, {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  if (apt(['update', '-qq']).status || apt(['install', '-y', '-qq', 'chromium']).status)
    process.stderr.write('could not install Debian chromium; the HTML report test will say so\n');
}
// The web app's browser test serves web/dist: built when missing or older than its sources.
if (spawnSync(process.execPath, ['scripts/build-web.mjs'], { stdio: 'inherit' }).status) process.exit(1);
if (spawnSync(process.execPath, ['scripts/setup-trainer.mjs'], { stdio: 'inherit' }).status) process.exit(1); // trainer venv
const result = spawnSync(
  process.execPath,
  ['--import', 'tsx', '--test', '--test-concurrency=1', '--test-reporter=spec', ...files],
  { stdio: 'inherit' },
);
process.exit(result.status ?? 1);

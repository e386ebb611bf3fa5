// Builds the web app (web/ → web/dist, served by `attune serve` at /app/) when it is missing or older
// than its sources. Run by `npm install` (prepare) and by the test run, so a checkout always serves
// the app it holds.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const newest = (dir) =>
  Math.max(
    ...readdirSync(dir, { withFileTypes: true, recursive: true })
      .filter((e) => e.isFile())
      .map((e) => statSync(join(e.parentPath, e.name)).mtimeMs),
  );
const sources = Math.max(
  newest('web/src'),
  statSync('web/index.html').mtimeMs,
  statSync('web/vite.config.ts').mtimeMs,
);
if (!existsSync('web/dist/index.html') || statSync('web/dist/index.html').mtimeMs < sources) {
  const vite = spawnSync(process.execPath, ['node_modules/vite/bin/vite.js', 'build', 'web'], {
    stdio: 'inherit',
  });
  process.exit(vite.status ?? 1);
}

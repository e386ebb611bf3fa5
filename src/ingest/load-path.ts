import type { Dirent } from 'node:fs';
import { readdir, readFile, realpath, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import picomatch from 'picomatch';
import { ACL_SIDECAR_SUFFIX, parseAclSidecar } from './acl.ts';
import type { Acl } from './document.ts';
import { loaderForName, supportedExtensions } from './file-types.ts';
import { failureReason, IngestError } from './ingest-error.ts';
import { type LoadResult, runLoader } from './load-result.ts';
import { type LoadOptions, type ResolvedLoadOptions, resolveLoadOptions } from './loader.ts';
import { formatBytes } from './text.ts';

export const DEFAULT_INCLUDE: readonly string[] = [`**/*.{${supportedExtensions.join(',')}}`];
export const DEFAULT_EXCLUDE: readonly string[] = ['**/node_modules/**', '**/.git/**', '**/.attune/**'];

/** Id for a file: its path relative to the id root, with forward slashes on every platform. */
export function documentIdForPath(path: string, idRoot: string): string {
  const rel = relative(resolve(idRoot), resolve(path));
  return (rel === '' ? basename(path) : rel).split(sep).join('/');
}

/**
 * Files under `root` that `loadPath` would load, sorted, as absolute paths. Globs match the path
 * relative to `root`; extensions match case-insensitively; ACL sidecars are never documents.
 *
 * Symbolic links are never followed (docs/security.md): a link to a file outside the root would
 * publish it under the link's readers, and a link to a file inside the root would store it twice
 * under two ACLs; a linked folder may loop. Each skipped link is reported through `onSkip`.
 */
export async function listFiles(
  root: string,
  options: Pick<LoadOptions, 'include' | 'exclude'> & {
    onSkip?: (path: string, reason: string, kind: 'link' | 'folder') => void;
  } = {},
): Promise<string[]> {
  const base = resolve(root);
  const include = picomatch([...(options.include ?? DEFAULT_INCLUDE)], { nocase: true });
  const exclude = picomatch([...DEFAULT_EXCLUDE, ...(options.exclude ?? [])], { dot: true });
  const out: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch (error) {
      // Reported, never passed over: a folder that cannot be listed is not a folder that is empty.
      options.onSkip?.(
        dir,
        `skipped: folder could not be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); what is stored from it is kept as it was`,
        'folder',
      );
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const path = join(dir, entry.name);
      const rel = relative(base, path).split(sep).join('/');
      // Directories are pruned when anything inside them would be excluded; symlinked
      // directories are not followed, which also rules out cycles.
      if (entry.isDirectory()) {
        if (!exclude(`${rel}/_`)) await visit(path);
        continue;
      }
      if (entry.name.endsWith(ACL_SIDECAR_SUFFIX)) continue;
      if (entry.isSymbolicLink()) {
        if (exclude(rel)) continue;
        const target = await realpath(path).catch(() => undefined);
        const inside = target !== undefined && (target === base || target.startsWith(`${base}${sep}`));
        options.onSkip?.(
          path,
          target === undefined
            ? 'skipped: symbolic link to nothing, or a link loop'
            : inside
              ? `skipped: symbolic link to ${relative(base, target).split(sep).join('/')}, which is synced under its own name and ACL`
              : 'skipped: symbolic link leading outside the synced folder (links are not followed)',
          'link',
        );
        continue;
      }
      if (!entry.isFile()) continue;
      if (include(rel) && !exclude(rel)) out.push(path);
    }
  };
  await visit(base);
  return out;
}

/**
 * Load one file. Never throws for bad input: an unreadable, empty, oversized or malformed file
 * comes back as `{ ok: false, source, reason }`.
 */
export async function loadFile(path: string, options: LoadOptions = {}): Promise<LoadResult[]> {
  const resolved = resolveLoadOptions(options);
  const source = resolve(path);
  const id = documentIdForPath(source, options.idRoot ?? dirname(source));
  return loadResolvedFile(source, id, resolved);
}

async function loadResolvedFile(
  source: string,
  id: string,
  options: ResolvedLoadOptions,
): Promise<LoadResult[]> {
  const fail = (reason: string): LoadResult[] => [{ ok: false, source, id, reason }];
  const loader = loaderForName(source);
  if (!loader) {
    return fail(`unsupported file type; supported extensions: ${supportedExtensions.join(', ')}`);
  }
  try {
    const info = await stat(source);
    if (!info.isFile()) return fail('not a regular file');
    if (info.size === 0) return fail('empty file (0 bytes)');
    if (info.size > options.maxFileBytes) {
      return fail(
        `file is ${formatBytes(info.size)}, over the ${formatBytes(options.maxFileBytes)} limit; raise maxFileBytes or split the file`,
      );
    }
    let sidecar: Acl | undefined;
    // A file named through a link is read, and its ACL taken, from the real file: the sidecar
    // beside a link says nothing about what the link points at.
    const real = await realpath(source);
    const sidecarPath = `${real}${ACL_SIDECAR_SUFFIX}`;
    // Only a missing sidecar means "no sidecar": an unreadable one must not fall back to public.
    const sidecarText = options.acl
      ? undefined
      : await readFile(sidecarPath, 'utf8').catch((error: NodeJS.ErrnoException) => {
          // A 255-byte file name leaves no room for a sidecar's name: it cannot have one.
          if (error.code === 'ENOENT' || error.code === 'ENAMETOOLONG') return undefined;
          throw new IngestError(
            `cannot read ACL file ${basename(sidecarPath)} (${error.code ?? error.message})`,
          );
        });
    if (sidecarText !== undefined) sidecar = parseAclSidecar(sidecarText, basename(sidecarPath));
    const bytes = new Uint8Array(await readFile(real));
    return await runLoader({
      loader,
      bytes,
      name: basename(source),
      id,
      source,
      ...(sidecar ? { sidecar } : {}),
      options,
    });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return fail('no such file');
    if (code === 'EACCES' || code === 'EPERM') return fail(`permission denied (${code})`);
    return fail(failureReason(error));
  }
}

/**
 * Load a folder (recursively, with include/exclude globs) or a single file. Document ids are paths
 * relative to `options.idRoot`, by default the folder itself (or a single file's folder). Results
 * come in path order, one per document or failure; a bad file never stops the others.
 */
export async function loadPath(
  root: string,
  options: LoadOptions & { onResult?: (result: LoadResult) => void } = {},
): Promise<LoadResult[]> {
  const resolved = resolveLoadOptions(options);
  const base = resolve(root);
  const info = await stat(base).catch((error: NodeJS.ErrnoException) => error);
  if (info instanceof Error) {
    const result: LoadResult = {
      ok: false,
      source: base,
      reason: info.code === 'ENOENT' ? 'no such file or folder' : failureReason(info),
    };
    options.onResult?.(result);
    return [result];
  }
  // A file named explicitly is loaded whatever the globs say: the user asked for it.
  const skipped: LoadResult[] = [];
  const idRoot = resolve(options.idRoot ?? (info.isDirectory() ? base : dirname(base)));
  const files = info.isDirectory()
    ? await listFiles(base, {
        ...options,
        onSkip: (path, reason, kind) => {
          const result: LoadResult = {
            ok: false,
            source: path,
            reason,
            ...(kind === 'folder' ? { folderId: documentIdForPath(path, idRoot) } : { skipped: true }),
          };
          skipped.push(result);
          options.onResult?.(result);
        },
      })
    : [base];
  const perFile: LoadResult[][] = new Array(files.length);
  let next = 0;
  const worker = async () => {
    while (next < files.length) {
      if (resolved.signal?.aborted) throw resolved.signal.reason;
      const index = next++;
      const file = files[index]!;
      const results = await loadResolvedFile(file, documentIdForPath(file, idRoot), resolved);
      perFile[index] = results;
      for (const result of results) options.onResult?.(result);
    }
  };
  await Promise.all(Array.from({ length: Math.min(resolved.concurrency, files.length) }, worker));
  return [...skipped, ...perFile.flat()];
}

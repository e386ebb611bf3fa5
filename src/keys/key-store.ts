import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { AttuneError } from '../models/model-error.ts';
import { type Principal, parsePrincipalText } from '../store/index.ts';

/** What is stored for a key: never the secret itself, only its sha256. */
export type ApiKeyRecord = {
  id: string;
  name: string;
  /** sha256 of the whole key, hex. The key carries 192 random bits, so a plain hash is enough. */
  hash: string;
  principal: { user: string; groups: string[] };
  /** May manage documents, keys' records, every audit record. */
  admin: boolean;
  createdAt: string;
  revokedAt?: string;
};

/** A key as listed: the record without its hash. */
export type ApiKeyInfo = Omit<ApiKeyRecord, 'hash'>;

export class KeyError extends AttuneError {
  constructor(message: string, hint?: string) {
    super(message, hint ? { hint } : {});
    this.name = 'KeyError';
  }
}

const PREFIX = 'attune_';
const KEY = /^attune_([a-z0-9]{8})_([A-Za-z0-9_-]{32})$/;

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * API keys in one JSON file (`<dir>/keys.json`), rewritten whole through a rename so a crash leaves
 * the old file or the new one. Each key maps to a principal; the server resolves a bearer key to
 * that principal before any read, so a key can never see more than its person may.
 */
export class KeyStore {
  readonly path: string;

  constructor(path: string) {
    this.path = path;
  }

  #read(): ApiKeyRecord[] {
    let text: string;
    try {
      text = readFileSync(this.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return [];
      // ENOTDIR: the directory it should be in is a file (a mistyped ATTUNE_DIR); EISDIR, EACCES…
      throw new KeyError(
        `${this.path}: the key file cannot be read (${code ?? (error as Error).message}).`,
        code === 'ENOTDIR'
          ? `${dirname(this.path)} is not a directory: point ATTUNE_DIR (or --dir) at the knowledge-base directory.`
          : 'Check the file and its permissions; keys are kept in <ATTUNE_DIR>/keys.json.',
      );
    }
    try {
      const parsed = JSON.parse(text) as { keys?: ApiKeyRecord[] };
      if (!Array.isArray(parsed.keys)) throw new Error('no "keys" array');
      return parsed.keys;
    } catch (error) {
      // Fail closed: a damaged key file authenticates nobody, and says where it is.
      throw new KeyError(
        `${this.path}: the key file is not valid (${(error as Error).message}).`,
        'Restore it from a backup, or move it away and create new keys with: attune keys create',
      );
    }
  }

  #write(keys: ApiKeyRecord[]): void {
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, `${JSON.stringify({ keys }, null, 2)}\n`, { mode: 0o600 });
    renameSync(tmp, this.path);
  }

  /** Creates a key for a principal. The returned `key` is shown once; only its hash is kept. */
  create(options: { principal: string | Principal; name?: string; admin?: boolean }): {
    key: string;
    info: ApiKeyInfo;
  } {
    const principal =
      typeof options.principal === 'string' ? parsePrincipalText(options.principal) : options.principal;
    const id = randomBytes(4).toString('hex');
    const key = `${PREFIX}${id}_${randomBytes(24).toString('base64url')}`;
    const record: ApiKeyRecord = {
      id,
      name: options.name ?? principal.user,
      hash: sha256(key),
      principal: { user: principal.user, groups: principal.groups },
      admin: options.admin === true,
      createdAt: new Date().toISOString(),
    };
    this.#write([...this.#read(), record]);
    const { hash: _hash, ...info } = record;
    return { key, info };
  }

  list(): ApiKeyInfo[] {
    return this.#read().map(({ hash: _hash, ...info }) => info);
  }

  /** Revokes a key by id; false when there is no such key. A revoked key stays listed, marked. */
  revoke(id: string): boolean {
    const keys = this.#read();
    const key = keys.find((k) => k.id === id);
    if (!key) return false;
    key.revokedAt ??= new Date().toISOString();
    this.#write(keys);
    return true;
  }

  /** The principal a presented key stands for, or undefined (unknown, malformed or revoked). */
  authenticate(presented: string): { key: ApiKeyInfo; principal: Principal } | undefined {
    const match = KEY.exec(presented);
    if (!match) return undefined;
    const digest = Buffer.from(sha256(presented), 'hex');
    for (const record of this.#read()) {
      if (record.id !== match[1] || record.revokedAt) continue;
      if (!timingSafeEqual(Buffer.from(record.hash, 'hex'), digest)) continue;
      const { hash: _hash, ...info } = record;
      return {
        key: info,
        principal: {
          user: record.principal.user,
          groups: [...record.principal.groups],
          ...(record.admin ? { admin: true } : {}),
        },
      };
    }
    return undefined;
  }
}

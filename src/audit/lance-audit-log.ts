import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import { Field, Schema, Utf8 } from 'apache-arrow';
import { AttuneError } from '../models/model-error.ts';
import { and, sqlString } from '../store/lance-sql.ts';
import { checkPrincipal, type Principal } from '../store/principal.ts';
import { type AuditListOptions, type AuditLog, sinceTimestamp } from './audit-log.ts';
import type { AuditRecord } from './audit-record.ts';

const schema = new Schema([
  new Field('id', new Utf8(), false),
  new Field('time', new Utf8(), false),
  new Field('user', new Utf8(), false),
  new Field('status', new Utf8(), false),
  new Field('cache_key', new Utf8(), true),
  // The whole record as JSON: its shape grows with the product; the columns above are what is queried.
  new Field('record', new Utf8(), false),
]);

type Row = {
  id: string;
  time: string;
  user: string;
  status: string;
  cache_key: string | null;
  record: string;
};

/**
 * The audit trail in an embedded LanceDB table beside the knowledge base (not inside an index
 * directory, so switching embedding models keeps the history). One `add` per record: LanceDB
 * commits it as one new fragment, so a crash leaves it whole or absent.
 */
export class LanceAuditLog implements AuditLog {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'lancedb';
  readonly #table: lancedb.Table;
  readonly #dir: string;

  private constructor(table: lancedb.Table, dir: string) {
    this.#table = table;
    this.#dir = dir;
  }

  static async open(dir: string): Promise<LanceAuditLog> {
    const db = await lancedb.connect(dir, { readConsistencyInterval: 0 });
    const names = new Set(await db.tableNames());
    const table = names.has('answers')
      ? await db.openTable('answers')
      : await db.createEmptyTable('answers', schema, { existOk: true });
    return new LanceAuditLog(table, dir);
  }

  async assertWritable(): Promise<void> {
    // A real write, then its removal: permission bits say nothing on a read-only mount, or to root.
    const probe = join(this.#dir, `.write-probe-${randomUUID()}`);
    try {
      await writeFile(probe, '');
      await rm(probe, { force: true });
    } catch (error) {
      throw new AttuneError(
        `The audit log in ${this.#dir} cannot be written (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); Attune gives no answer it cannot record.`,
        { hint: 'Make the knowledge-base directory writable, or point ATTUNE_DIR at a writable copy.' },
      );
    }
  }

  async append(record: AuditRecord): Promise<void> {
    const row: Row = {
      id: record.id,
      time: record.time,
      user: record.principal.user,
      status: record.status,
      cache_key: record.cacheKey ?? null,
      record: JSON.stringify(record),
    };
    await this.#table.add([row]);
  }

  async get(id: string, principal: Principal): Promise<AuditRecord | undefined> {
    const rows = await this.#query(and(`id = ${sqlString(id)}`, ownerWhere(principal)));
    return rows[0];
  }

  async list(principal: Principal, options: AuditListOptions = {}): Promise<AuditRecord[]> {
    const where = and(
      ownerWhere(principal),
      options.since ? `time >= ${sqlString(sinceTimestamp(options.since))}` : undefined,
      options.status ? `status = ${sqlString(options.status)}` : undefined,
    );
    const records = await this.#query(where);
    records.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
    const offset = options.offset ?? 0;
    return records.slice(offset, options.limit === undefined ? undefined : offset + options.limit);
  }

  async findByCacheKey(cacheKey: string): Promise<AuditRecord | undefined> {
    const records = await this.#query(
      and(`cache_key = ${sqlString(cacheKey)}`, `status != 'failed'`, 'cache_key IS NOT NULL'),
    );
    // The original answer, not a copy served from the cache.
    return records.filter((r) => !r.cachedFrom).sort((a, b) => (a.time < b.time ? 1 : -1))[0];
  }

  async #query(where: string): Promise<AuditRecord[]> {
    const query = this.#table.query().select(['record']);
    const rows = (await (where ? query.where(where) : query).toArray()) as Pick<Row, 'record'>[];
    return rows.map((row) => JSON.parse(row.record) as AuditRecord);
  }

  async close(): Promise<void> {
    this.#table.close();
  }
}

function ownerWhere(principal: Principal): string | undefined {
  return checkPrincipal(principal).admin === true ? undefined : `user = ${sqlString(principal.user)}`;
}

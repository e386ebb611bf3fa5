import pg from 'pg';
import { AttuneError } from '../models/model-error.ts';
import type { Principal } from '../store/principal.ts';
import { type AuditListOptions, type AuditLog, sinceTimestamp } from './audit-log.ts';
import type { AuditRecord } from './audit-record.ts';

export type PostgresAuditLogOptions = {
  url: string;
  /** The knowledge store's schema; the audit table is created by its migrations. Default `attune`. */
  schema?: string;
  maxConnections?: number;
};

/**
 * The audit trail in the `audit_records` table of the PostgreSQL knowledge store, so every Attune
 * process sharing the database writes one trail. Each append is one INSERT: whole or absent.
 */
export class PostgresAuditLog implements AuditLog {
  readonly specificationVersion = 'v1' as const;
  readonly provider = 'postgres';
  readonly #pool: pg.Pool;

  private constructor(pool: pg.Pool) {
    this.#pool = pool;
  }

  static async open(options: PostgresAuditLogOptions): Promise<PostgresAuditLog> {
    const schema = options.schema ?? 'attune';
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.maxConnections ?? 4,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: 15_000,
      application_name: 'attune-audit',
      options: `-c search_path=${schema}`,
    });
    pool.on('error', () => {});
    const exists = await pool
      .query("SELECT to_regclass('audit_records') IS NOT NULL AS ok")
      .catch(async (error: Error) => {
        await pool.end();
        throw new AttuneError(`Cannot reach the PostgreSQL audit log: ${error.message}`, {
          hint: 'Check ATTUNE_STORE_URL (or store.url) and that the server runs.',
        });
      });
    if (exists.rows[0]?.ok !== true) {
      await pool.end();
      throw new AttuneError(`The PostgreSQL store (schema ${schema}) has no audit table yet.`, {
        hint: 'Run: attune store migrate   (opening the knowledge base also migrates it)',
      });
    }
    return new PostgresAuditLog(pool);
  }

  async assertWritable(): Promise<void> {
    const result = await this.#pool.query(
      "SELECT pg_is_in_recovery() AS replica, has_table_privilege('audit_records', 'INSERT') AS can_insert",
    );
    const row = result.rows[0];
    if (row?.replica === true || row?.can_insert !== true) {
      throw new AttuneError(
        `The audit log cannot be written (${row?.replica ? 'the server is a read replica' : 'no INSERT privilege on audit_records'}); Attune gives no answer it cannot record.`,
        { hint: 'Point ATTUNE_STORE_URL at the primary, with a role that may insert into audit_records.' },
      );
    }
  }

  async append(record: AuditRecord): Promise<void> {
    await this.#pool.query(
      `INSERT INTO audit_records (id, time, user_name, status, cache_key, cached, record)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [
        record.id,
        record.time,
        record.principal.user,
        record.status,
        record.cacheKey ?? null,
        record.cachedFrom !== undefined,
        JSON.stringify(record),
      ],
    );
  }

  async get(id: string, principal: Principal): Promise<AuditRecord | undefined> {
    const params: unknown[] = [id];
    const owner = ownerSql(principal, params);
    const rows = await this.#pool.query(
      `SELECT record FROM audit_records WHERE id = $1 AND ${owner}`,
      params,
    );
    return rows.rows[0]?.record as AuditRecord | undefined;
  }

  async list(principal: Principal, options: AuditListOptions = {}): Promise<AuditRecord[]> {
    const params: unknown[] = [];
    const where = [ownerSql(principal, params)];
    if (options.since) {
      params.push(sinceTimestamp(options.since));
      where.push(`time >= $${params.length}`);
    }
    if (options.status) {
      params.push(options.status);
      where.push(`status = $${params.length}`);
    }
    params.push(options.limit ?? null, options.offset ?? 0);
    const rows = await this.#pool.query(
      `SELECT record FROM audit_records WHERE ${where.join(' AND ')}
        ORDER BY time DESC, seq DESC LIMIT $${params.length - 1} OFFSET $${params.length}`,
      params,
    );
    return rows.rows.map((row) => row.record as AuditRecord);
  }

  async findByCacheKey(cacheKey: string): Promise<AuditRecord | undefined> {
    // The original answer, not a copy served from the cache.
    const rows = await this.#pool.query(
      `SELECT record FROM audit_records WHERE cache_key = $1 AND status <> 'failed' AND NOT cached
        ORDER BY time DESC, seq DESC LIMIT 1`,
      [cacheKey],
    );
    return rows.rows[0]?.record as AuditRecord | undefined;
  }

  async close(): Promise<void> {
    await this.#pool.end();
  }
}

function ownerSql(principal: Principal, params: unknown[]): string {
  if (principal.admin === true) return 'TRUE';
  params.push(principal.user);
  return `user_name = $${params.length}`;
}

import { AttuneError } from '../models/model-error.ts';
import { checkPrincipal, type Principal } from '../store/principal.ts';
import type { AuditRecord } from './audit-record.ts';

export type AuditListOptions = {
  limit?: number;
  offset?: number;
  /** ISO 8601: only records at or after this time. */
  since?: string;
  status?: AuditRecord['status'];
};

/**
 * Where answers are recorded. Reads take a principal: a principal sees only their own records
 * unless admin. Each append is atomic (a crash leaves the record whole or absent).
 */
export interface AuditLog {
  readonly specificationVersion: 'v1';
  readonly provider: string;
  append(record: AuditRecord): Promise<void>;
  get(id: string, principal: Principal): Promise<AuditRecord | undefined>;
  /** Newest first. */
  list(principal: Principal, options?: AuditListOptions): Promise<AuditRecord[]>;
  /**
   * The newest successful record with this answer-cache key. The key already encodes the
   * principal's ACL set, so whoever can form it may read the answer.
   */
  findByCacheKey(cacheKey: string): Promise<AuditRecord | undefined>;
  /**
   * Throws when a record could not be written now (a read-only or vanished directory). The
   * answerer asks before it shows anything: no answer is given that cannot be recorded.
   */
  assertWritable(): Promise<void>;
  close(): Promise<void>;
}

/**
 * `since` as the stored timestamps spell it (UTC ISO 8601), so the comparison is exact. A value
 * that is not a date is an error, not a filter that silently matches nothing or everything.
 */
export function sinceTimestamp(since: string): string {
  const time = /^\d{4}-\d{2}-\d{2}/.test(since) ? new Date(since) : new Date(Number.NaN);
  if (Number.isNaN(time.getTime()))
    throw new AttuneError(`since "${since}" is not a date.`, {
      hint: 'Give an ISO 8601 date or time, e.g. 2026-12-01 or 2026-12-01T09:30:00Z.',
    });
  return time.toISOString();
}

export function canReadAudit(record: Pick<AuditRecord, 'principal'>, principal: Principal): boolean {
  return checkPrincipal(principal).admin === true || record.principal.user === principal.user;
}

/**
 * An answer's audit record could not be written, after the answer was made: the answer is withdrawn
 * (Attune shows nothing it cannot record), and this says why.
 */
export class AuditWriteError extends AttuneError {
  constructor(cause: unknown) {
    const reason = (cause as NodeJS.ErrnoException).code ?? (cause as Error).message ?? String(cause);
    super(
      `The answer's audit record could not be written (${reason}), so the answer is withdrawn, and any draft shown with it: Attune gives no answer it cannot record.`,
      {
        hint: 'Free space where the audit log lives (the knowledge-base directory or database), then ask again.',
        cause,
      },
    );
    this.name = 'AuditWriteError';
  }
}

export { type AuditListOptions, type AuditLog, AuditWriteError, canReadAudit } from './audit-log.ts';
export type {
  AuditCitation,
  AuditEvidence,
  AuditRecord,
  AuditSentence,
  AuditTimings,
} from './audit-record.ts';
export { LanceAuditLog } from './lance-audit-log.ts';
export { PostgresAuditLog, type PostgresAuditLogOptions } from './postgres-audit-log.ts';

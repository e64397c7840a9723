export { AuditModule, PlatformAuditModule } from './audit.module.js';
export { AuditLog, type AuditLogSink } from './audit-log.js';
export { DEFERRED_AUDIT_FLUSH_MS, DeferredAuditLog, MAX_DEFERRED_AUDITS, type DeferredAudit } from './deferred-audit-log.js';
export { AuditVerifier, verifyChain, type ChainProblem, type ChainVerification } from './audit-verifier.js';
export { auditEventHash, GENESIS_HASH, type ChainedEvent } from './audit-chain.js';
export { auditActor, MAX_AUDIT_TEXT, successEntry } from './audit-entry.js';
export {
  AUDIT_EVENT_TYPES,
  AUDIT_OUTCOMES,
  type AuditDataValue,
  type AuditEntry,
  type AuditEventType,
  type AuditOutcome,
} from './audit.types.js';
export { PLATFORM_AUDIT_EVENT_TYPES, PlatformAuditLog, type PlatformAuditEntry, type PlatformAuditEventType } from './platform-audit-log.js';
export { ACCESS_RECORD_TYPES, AccessLog, type AccessEntry, type AccessRecordType } from './access-log.js';

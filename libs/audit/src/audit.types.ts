/**
 * Operator admin actions (libs/platform/src/internal-admin.ts): recorded in the platform audit log
 * and in each affected tenant's audit log, under the same names.
 */
export const OPERATOR_AUDIT_EVENT_TYPES = [
  'operator.tenant_created',
  'operator.tenant_suspended',
  'operator.tenant_reactivated',
  'operator.user_locked',
  'operator.user_unlocked',
  'operator.credential_revoked',
] as const;

/**
 * Security events (docs/architecture.md, invariant 10). One spelling per event, so a query or an alert
 * rule can name it; add a type here before recording it anywhere.
 */
export const AUDIT_EVENT_TYPES = [
  'auth.login',
  'auth.refresh',
  'auth.refresh_reuse',
  'auth.logout',
  'auth.logout_all',
  'auth.password_changed',
  'auth.session_revoked',
  'auth.tenant_switched',
  'auth.rate_limited',
  'authz.denied',
  'member.added',
  'member.role_changed',
  'member.removed',
  /** Invitations (issue 14): a membership starts only when the invitee accepts. */
  'invitation.created',
  'invitation.revoked',
  'invitation.accepted',
  /** A genuine token presented but refused (spent, revoked, expired, another account, already a member). */
  'invitation.refused',
  'partner.client_created',
  'partner.client_updated',
  'partner.client_revoked',
  'partner.secret_rotated',
  'partner.key_created',
  'partner.key_rotated',
  'partner.key_revoked',
  /** Request signing (RFC 9421): an Ed25519 public key registered or revoked for a client. */
  'partner.signing_key_registered',
  'partner.signing_key_revoked',
  /** A request of a genuine partner credential refused for its missing or invalid signature. */
  'partner.signature_refused',
  'partner.token_issued',
  'partner.auth_refused',
  'security.rate_limited',
  'security.principal_blocked',
  /** An operator lifted an abuse block early (POST /internal/v1/blocks/lift). */
  'security.block_lifted',
  'job.rejected',
  'job.probe',
  'webhook.endpoint_created',
  'webhook.endpoint_updated',
  'webhook.endpoint_deleted',
  'webhook.secret_rotated',
  'webhook.endpoint_disabled',
  'webhook.redelivered',
  'webhook.pinged',
  'export.requested',
  'export.completed',
  'export.failed',
  /** The export sweeper re-queued the export's lost job (libs/exports/src/exports-sweep.ts). */
  'export.requeued',
  'export.downloaded',
  'export.expired',
  'payments.event_received',
  /** Data subject requests (libs/privacy): data carries the kind and counts, never the person's data. */
  'privacy.access_requested',
  'privacy.access_completed',
  'privacy.erasure_completed',
  'privacy.erasure_refused',
  /** Operator admin actions on the internal listener (also in the platform audit log); data carries the reason. */
  ...OPERATOR_AUDIT_EVENT_TYPES,
] as const;

export type AuditEventType = (typeof AUDIT_EVENT_TYPES)[number];

/** The same three values as the `audit_events_outcome` CHECK constraint. */
export const AUDIT_OUTCOMES = ['success', 'failure', 'denied'] as const;

export type AuditOutcome = (typeof AUDIT_OUTCOMES)[number];

/** A flat value: audit data is for filtering and reading, not for nested documents. */
export type AuditDataValue = string | number | boolean | null;

/**
 * One security event as a caller describes it. The log adds tenant, id, time, sequence number and
 * hashes.
 *
 * `data` must never carry secrets: no passwords, tokens, keys, hashes of them, or anything that
 * would let a reader of the audit trail act as someone. The audit table is readable by tenant
 * owners and admins and is copied to the logs, and it can never be corrected afterwards because it
 * is append-only. The writer enforces this bluntly: a key matching
 * /password|token|secret|key|hash/i is a programming error and throws, even for harmless names
 * such as `apiKeyPrefix`; pick another name (`credentialPrefix`, `kid`). String values are cut to
 * 200 characters, so input the caller controls (a user agent, an attempted email) cannot bloat a row.
 */
export interface AuditEntry {
  type: AuditEventType;
  outcome: AuditOutcome;
  /** Who acted: `user:<uuid>`, `system:auth`, `anonymous` (see `auditActor`). */
  actor: string;
  /** What was acted on, as `<kind>:<id>`: `session:<uuid>`, `membership:<uuid>`. */
  subject?: string;
  requestId?: string;
  ip?: string;
  data?: Record<string, AuditDataValue>;
}

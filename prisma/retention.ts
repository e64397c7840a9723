/**
 * How long each table keeps its rows (docs/privacy.md, "Retention"). Every table of the schema is in
 * exactly one of two places:
 *
 * - RETENTION_RULES: rows that expire. The platform purge (libs/jobs/src/platform-purge.handler.ts)
 *   runs the rules in the order written here, each through the named platform function
 *   `platform_retention_purge(table, cutoff)` (prisma/migrations/20261207156000_retention_and_access_records),
 *   whose branch for the table is the SQL form of `expires` below; the cutoff is the purge's time
 *   minus the rule's period. One platform audit event per run carries the count of every table.
 * - KEPT: rows kept as long as the tenant (or the platform) exists, with the reason. They leave by
 *   other paths: an erasure request, deleting a record through the API, deleting a tenant.
 *
 * test/integration/retention.spec.ts fails when a table of the database is in neither, or in both.
 */

/** The configuration a period may come from: AppConfig's RETENTION_* variables (days). */
export interface RetentionSettings {
  RETENTION_SESSIONS_DAYS: number;
  RETENTION_EXPORTS_DAYS: number;
  RETENTION_WEBHOOK_LOG_DAYS: number;
  RETENTION_INVITATIONS_DAYS: number;
  RETENTION_SECURITY_BLOCKS_DAYS: number;
  RETENTION_ACCESS_RECORDS_DAYS: number;
  RETENTION_DOMAIN_EVENTS_DAYS: number;
}

export interface RetentionRule {
  /** Which rows expire, in words; the SQL branch of platform_retention_purge says the same. */
  readonly expires: string;
  /** The timestamp column(s) the period is counted from. */
  readonly from: string;
  /** The period: a fixed number of hours, or the RETENTION_* variable (days) that sets it. */
  readonly period: { readonly hours: number } | { readonly days: keyof RetentionSettings };
  /** Why this period. */
  readonly why: string;
}

const HOUR_MS = 3_600_000;

/** The rules, in the order the purge runs them (children before their parents, so counts are exact). */
export const RETENTION_RULES = {
  idempotency_keys: {
    expires: 'a stored response to a retried create',
    from: 'created_at',
    period: { hours: 24 },
    why: 'a retry replays for a day (libs/idempotency); after that the key is useless',
  },
  session_revocations: {
    expires: 'the tombstone of a revoked or deleted session',
    from: 'revoked_at',
    period: { hours: 24 },
    why: 'it matters only while an access token of the session could still verify (minutes); a day is generous',
  },
  refresh_tokens: {
    expires: 'an expired refresh token, and every token of a session the sessions rule removes',
    from: 'expires_at (or its session’s end)',
    period: { days: 'RETENTION_SESSIONS_DAYS' },
    why: 'kept past expiry as long as the session row, so reuse of a rotated token stays detectable while it matters',
  },
  sessions: {
    expires: 'a session that ended: expired or revoked',
    from: 'least(expires_at, revoked_at)',
    period: { days: 'RETENTION_SESSIONS_DAYS' },
    why: 'the address and user agent of a login help investigate an incident for a while, then only identify a person',
  },
  export_chunks: {
    expires: 'the stored file of an export that can no longer be downloaded: ready past its expiry, failed, or expired',
    from: 'exports.expires_at (failed: completed_at)',
    period: { hours: 0 },
    why: 'an export file is a copy of personal data; it goes as soon as it cannot be downloaded (the export cleanup job usually deletes it first)',
  },
  exports: {
    expires: 'a finished export (ready, failed or expired) past its expiry',
    from: 'coalesce(expires_at, completed_at, created_at)',
    period: { days: 'RETENTION_EXPORTS_DAYS' },
    why: 'the record (who exported what, with which filters) answers questions for a while after the file is gone',
  },
  webhook_attempts: {
    expires: 'an attempt of the delivery log, and every attempt of a delivery the deliveries rule removes',
    from: 'attempted_at',
    period: { days: 'RETENTION_WEBHOOK_LOG_DAYS' },
    why: 'the delivery log serves debugging of a receiver; response excerpts may hold anything the receiver sent',
  },
  webhook_deliveries: {
    expires: 'a finished delivery (succeeded, or failed for good)',
    from: 'updated_at',
    period: { days: 'RETENTION_WEBHOOK_LOG_DAYS' },
    why: 'its payload copies the record the event describes; pending deliveries are still work and stay',
  },
  domain_events: {
    expires: 'a published outbox event',
    from: 'published_at',
    period: { days: 'RETENTION_DOMAIN_EVENTS_DAYS' },
    why: 'its payload copies the record it describes; once published it is only history',
  },
  invitations: {
    expires: 'an invitation that ended: accepted, revoked or expired',
    from: 'least(expires_at, accepted_at, revoked_at)',
    period: { days: 'RETENTION_INVITATIONS_DAYS' },
    why: 'it holds the invitee’s email; an accepted invitation became a membership, the audit trail keeps that it happened',
  },
  security_blocks: {
    expires: 'an abuse block that ended: lifted or expired',
    from: 'least(expires_at, lifted_at)',
    period: { days: 'RETENTION_SECURITY_BLOCKS_DAYS' },
    why: 'it names a principal and an address; useful to spot a returning attacker for months, not for ever',
  },
  access_records: {
    expires: 'a record of who read or changed a personal-data record',
    from: 'occurred_at',
    period: { days: 'RETENTION_ACCESS_RECORDS_DAYS' },
    why: 'breach scoping reads them; a breach found later than this cannot be scoped from them (docs/privacy.md)',
  },
  metrics_scrape_credentials: {
    expires: 'a Prometheus scrape credential that ended: revoked or expired',
    from: 'least(expires_at, revoked_at)',
    period: { hours: 90 * 24 },
    why: 'an ended credential is only history; the platform audit log keeps its creation and revocation',
  },
} as const satisfies Record<string, RetentionRule>;

export type RetainedTable = keyof typeof RETENTION_RULES;

/** Tables whose rows are kept for the life of the account (tenant, user or platform), and why. */
export const KEPT: Readonly<Record<string, string>> = {
  privacy_requests: 'a data subject request and its outcome: evidence that the request was served, kept for the life of the tenant',
  partner_signing_keys: 'a partner client\u2019s public signing keys: kept with the client (revoked, not deleted) so the audit trail can name the key a request was signed with',
  key_ring: 'signing keys of the deployment: a retired key is kept while tokens it signed may still be presented; rotation (npm run keys:rotate) retires and revokes, never deletes by age',
  tenants: 'the customer organisation itself; deleted with the customer contract, not by age',
  users: 'the account; erased or pseudonymised by an erasure request, not by age',
  memberships: 'a user’s place in a tenant; ends when the member is removed',
  invoices: 'financial records: kept for the statutory bookkeeping period (10 years in Indonesia), deleted by the tenant through the API',
  invoice_lines: 'part of the invoice they belong to',
  payment_events: 'financial records (which provider event paid which invoice), kept with the invoices; they hold no personal data',
  payment_accounts: 'the mapping of a provider account to its tenant, as long as the tenant uses it',
  tickets: 'the tenant’s support history; deleted by the tenant through the API',
  ticket_comments: 'part of the ticket they belong to',
  documents: 'files the tenant uploaded, as long as the tenant keeps them',
  document_contents: 'the bytes of those files',
  partner_clients: 'the tenant’s integrations, revoked or not: audit events name them, revocation is the end of use',
  partner_api_keys: 'keys of those integrations (a hash and a prefix, no personal data), kept with their client',
  webhook_endpoints: 'the tenant’s webhook configuration',
  audit_events:
    'the hash chain is kept for the life of the tenant: deleting a row breaks verification from the tenant\u2019s first row. Since hash version 2 (libs/audit/src/audit-chain.ts) the chain commits to the address and data through a salted commitment, so a data subject\u2019s erasure clears them without breaking it; version 1 rows (before 2026-12-07) keep theirs. An age-based purge of version 2 detail is not built (docs/privacy.md, Retention).',
  platform_audit_events: 'append-only record of operator actions and internal-surface refusals (trigger); evidence of what operators did, kept for the life of the platform',
  operators: 'the people who run the platform, while they do',
  _prisma_migrations: 'the migrator’s bookkeeping, no personal data',
};

/** The cutoff of a rule at `now`: rows older than this (by the rule's `from`) go. */
export function retentionCutoff(rule: RetentionRule, now: Date, settings: RetentionSettings): Date {
  const hours = 'hours' in rule.period ? rule.period.hours : settings[rule.period.days] * 24;
  return new Date(now.getTime() - hours * HOUR_MS);
}

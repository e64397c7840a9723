import { Inject, Injectable, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { PrismaService } from '@benteng/database';
import type { AuditLogSink } from './audit-log.js';
import { OPERATOR_AUDIT_EVENT_TYPES, type AuditDataValue, type AuditOutcome } from './audit.types.js';

/** Security events that belong to no tenant. One spelling each, as for AUDIT_EVENT_TYPES. */
export const PLATFORM_AUDIT_EVENT_TYPES = [
  /** A request on the internal listener refused before any operator was known (signature, nonce, key). */
  'internal.auth_refused',
  /** A signed request whose operator is missing, unknown, disabled, or lacks the route's ability. */
  'internal.authz_denied',
  /** The harmless state-changing operator action (POST /internal/v1/operators/me/ping). */
  'operator.ping',
  /** Incident tools (libs/platform/src/incident-tools.ts): each cross-tenant read and each lift. */
  'internal.blocks_listed',
  'internal.block_lifted',
  'internal.audit_searched',
  'internal.audit_verified',
  'internal.incident_viewed',
  ...OPERATOR_AUDIT_EVENT_TYPES,
  'internal.metrics_credential_created',
  'internal.metrics_credential_revoked',
  /** Bull Board (libs/platform/src/queue-board-sessions.ts, apps/api/src/internal/queue-board.ts): a login ticket minted, a board session opened, a state-changing board call. */
  'internal.queue_board_ticket',
  'internal.queue_board_opened',
  'internal.queue_board_action',
  /** The retention job (libs/jobs/src/platform-purge.handler.ts): one per run, rows removed per table. */
  'platform.retention_purged',
  /** Breach scoping (POST /internal/v1/incidents/breach-scope): the query and the size of the answer. */
  'internal.breach_scoped',
  /** The data re-encryption job (libs/webhooks/src/webhook-secret-reencryption.ts): one per run, with its counts. */
  'platform.data_reencrypted',
  /** An emergency key rotation (libs/auth/src/key-rotation.service.ts): the revoked key, its signing window, what it protected. */
  'platform.key_revoked',
  /** A job the worker refused because its envelope key was revoked (libs/jobs/src/job-signer.ts, `revoked_key`): queue, job, kid. */
  'platform.job_refused',
] as const;
export type PlatformAuditEventType = (typeof PLATFORM_AUDIT_EVENT_TYPES)[number];

export interface PlatformAuditEntry {
  type: PlatformAuditEventType;
  outcome: AuditOutcome;
  /** `operator:<id>`, `service:<name>`, or `anonymous`. */
  actor: string;
  subject?: string | undefined;
  /** The operator's stated reason for a state-changing call. */
  reason?: string | undefined;
  ip?: string | undefined;
  requestId?: string | undefined;
  /** Flat, non-secret values only (no signatures, secrets or bodies). */
  data?: Record<string, AuditDataValue>;
}

const MAX_TEXT = 500;
const clean = (value: string | undefined): string | null => (value === undefined ? null : value.replace(/\p{Cc}/gu, ' ').slice(0, MAX_TEXT));

/**
 * The platform audit log: events of the internal surface, which belong to no tenant, in
 * platform_audit_events (append-only: trigger + grants; the runtime role may INSERT and SELECT).
 * Every event also goes to the log at info (success) or warn, with a stable `event` name.
 *
 * Not hash-chained yet, unlike the per-tenant audit_events: the chain arrives with the admin
 * functions that will write most of these rows.
 */
@Injectable()
export class PlatformAuditLog {
  constructor(
    private readonly prisma: PrismaService,
    @Optional() @Inject(PinoLogger) private readonly logger?: AuditLogSink,
  ) {
    if (logger instanceof PinoLogger) logger.setContext(PlatformAuditLog.name);
  }

  async record(entry: PlatformAuditEntry): Promise<void> {
    if (!(PLATFORM_AUDIT_EVENT_TYPES as readonly string[]).includes(entry.type)) throw new Error('Platform audit entry has an unknown type');
    const row = {
      type: entry.type,
      outcome: entry.outcome,
      actor: clean(entry.actor) ?? 'anonymous',
      subject: clean(entry.subject),
      reason: clean(entry.reason),
      ip: clean(entry.ip),
      requestId: clean(entry.requestId),
      data: entry.data ?? {},
    };
    const line = { event: `platform_audit.${entry.type}`, platformAudit: row };
    try {
      await this.prisma.client.platformAuditEvent.create({ data: row, select: { id: true } });
    } catch (error) {
      // The log line is the second copy: keep it even when the row failed.
      this.logger?.error({ ...line, err: error }, 'platform audit event could not be recorded');
      throw error;
    }
    if (entry.outcome === 'success') this.logger?.info(line, `platform audit ${entry.type} ${entry.outcome}`);
    else this.logger?.warn(line, `platform audit ${entry.type} ${entry.outcome}`);
  }
}

import { Inject, Injectable, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock, SystemClock, uuidv7 } from '@benteng/common';
import { TenantDatabase } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { AuditLogSink } from './audit-log.js';

/** The record types whose reads and changes are recorded: the records that hold personal data. */
export const ACCESS_RECORD_TYPES = ['invoice', 'ticket', 'document', 'export', 'membership', 'invitation', 'session', 'user', 'privacy_request'] as const;
export type AccessRecordType = (typeof ACCESS_RECORD_TYPES)[number];

/** One read or change of a personal-data record (or a list of them: no recordId). */
export interface AccessEntry {
  principal: string;
  /** `session:<id>`, `partner_key:<id>` or `partner_client:<id>` (a client-credentials token). */
  credential: string | null;
  ip: string | null;
  requestId: string | null;
  action: 'read' | 'change';
  method: string;
  route: string;
  recordType: AccessRecordType;
  recordId: string | null;
  status: number;
}

/**
 * The access record (table access_records): who read or changed which personal-data record, from
 * which credential and address, written in the caller's own tenant transaction (RLS) after the
 * response. It is what breach scoping reads (libs/platform/src/breach-scope.ts): the audit trail
 * holds security events and some changes, never reads. Not hash-chained: it is a request log with
 * a retention period (prisma/retention.ts), not evidence that must outlive its period.
 */
@Injectable()
export class AccessLog {
  private readonly clock: Clock;

  constructor(
    private readonly db: TenantDatabase,
    @Optional() clock?: Clock,
    @Optional() @Inject(PinoLogger) private readonly logger?: AuditLogSink,
  ) {
    this.clock = clock ?? new SystemClock();
    if (logger instanceof PinoLogger) logger.setContext(AccessLog.name);
  }

  /**
   * One INSERT through the tenant function `tenant_record_access` (TenantDatabase.readThrough): it
   * sets the tenant itself and the row meets the table's RLS WITH CHECK like any insert, in one round
   * trip instead of the four of a tenant transaction (BEGIN, set_config, INSERT, COMMIT). This runs
   * after every answer on a personal-data route, so it is database work of the hot path
   * (prisma/migrations/20261207177000_hot_path_functions, docs/benchmarks.md). The id is a UUIDv7
   * made here, as Prisma's `@default(uuid(7))` would have.
   */
  async record(scope: Scope, entry: AccessEntry): Promise<void> {
    const occurredAt = this.clock.now();
    const id = uuidv7(occurredAt.getTime());
    await this.db.readThrough(
      scope,
      (client, tenantId) =>
        client.$executeRaw`SELECT tenant_record_access(${tenantId}::uuid, ${id}::uuid, ${occurredAt}::timestamptz, ${entry.principal}, ${entry.credential}, ${entry.ip?.slice(0, 100) ?? null},
          ${entry.requestId?.slice(0, 200) ?? null}, ${entry.action}, ${entry.method}, ${entry.route.slice(0, 200)}, ${entry.recordType}, ${entry.recordId}::uuid, ${entry.status}::integer)`,
    );
  }
}

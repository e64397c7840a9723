import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock, SystemClock, isUuid } from '@benteng/common';
import { TenantDatabase, type TenantTx } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { auditEventHash, GENESIS_HASH } from './audit-chain.js';
import { normalizeEntry, type NormalizedEntry } from './audit-entry.js';
import type { AuditEntry } from './audit.types.js';

/** The part of a pino logger the audit library writes to (PinoLogger satisfies it). */
export interface AuditLogSink {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
  error(object: object, message: string): void;
}


/**
 * The audit writer (docs/architecture.md, invariant 10). Each tenant's events form one hash chain:
 * event n stores the hash of event n-1, so AuditVerifier notices an altered, removed or reordered
 * row. The table itself refuses UPDATE, DELETE and TRUNCATE (trigger) and the runtime role holds
 * only SELECT and INSERT on it.
 *
 * Every event also goes to the log, so a copy exists outside the database.
 *
 * The writer does not consult the scope's ability: the application records what a principal did
 * (including a viewer's denied attempt), the principal does not write the audit log itself.
 */
@Injectable()
export class AuditLog {
  private readonly clock: Clock;

  /** Clock and logger are optional so tests can build the writer by hand. */
  constructor(
    private readonly db: TenantDatabase,
    @Optional() clock?: Clock,
    @Optional() @Inject(PinoLogger) private readonly logger?: AuditLogSink,
  ) {
    this.clock = clock ?? new SystemClock();
    if (logger instanceof PinoLogger) logger.setContext(AuditLog.name);
  }

  /** Records an event in its own transaction. */
  async record(scope: Scope, entry: AuditEntry): Promise<void> {
    const normalized = normalizeEntry(entry);
    await this.db.run(scope, (tx) => this.append(tx, scope.tenantId, normalized));
  }

  /**
   * Records an event for a tenant when no user scope exists yet (a failed login, a rate-limit
   * block), as the `system:audit` principal.
   */
  recordFor(tenantId: string, entry: AuditEntry): Promise<void> {
    return this.record(Scope.for(tenantId, { kind: 'system', name: 'audit' }), entry);
  }

  /**
   * Records an event inside the caller's tenant transaction, so a change and its audit row commit
   * or roll back together. The transaction must be READ COMMITTED (TenantDatabase's default) and
   * bound to `tenantId`; anything else is a programming error and throws.
   *
   * The tenant's append lock is held from here until the caller commits, and every other audit
   * write of the tenant waits for it: call this as the last step of the transaction.
   */
  async recordIn(tx: TenantTx, tenantId: string, entry: AuditEntry): Promise<void> {
    await this.append(tx, tenantId, normalizeEntry(entry));
  }

  private async append(tx: TenantTx, rawTenantId: string, entry: NormalizedEntry): Promise<void> {
    if (!isUuid(rawTenantId)) throw new TypeError('AuditLog: tenantId must be a UUID');
    // PostgreSQL returns uuids in lowercase; hash the form the verifier will read back.
    const tenantId = rawTenantId.toLowerCase();
    try {
      const { id, seq } = await this.appendRow(tx, tenantId, entry);
      this.log(tenantId, id, seq, entry);
    } catch (error) {
      // The log line is the second copy of a security event: keep it even when the row failed.
      this.logger?.error({ audit: { tenantId, ...entry }, err: error }, 'audit event could not be recorded');
      throw error;
    }
  }

  private async appendRow(tx: TenantTx, tenantId: string, entry: NormalizedEntry): Promise<{ id: string; seq: bigint }> {
    // One appender per tenant at a time: without the lock two transactions could both read seq n
    // and one would fail on the (tenant_id, seq) unique index. The lock ends with the transaction,
    // after the new row is committed. hashtextextended maps the name to a 64-bit lock key; a
    // collision only makes two tenants wait for each other, never mixes their chains.
    const [state] = await tx.$queryRaw<{ tenant: string | null; isolation: string }[]>`
      WITH lock AS (SELECT pg_advisory_xact_lock(hashtextextended(${`audit:${tenantId}`}, 0)))
      SELECT current_setting('app.tenant_id', true) AS tenant, current_setting('transaction_isolation') AS isolation
        FROM lock`;
    if (state?.tenant !== tenantId) throw new Error('AuditLog.recordIn: the transaction is not bound to this tenant');
    // Under REPEATABLE READ or SERIALIZABLE the snapshot predates the lock, so the last row read
    // below could be stale and the insert would collide on seq under concurrency.
    if (state.isolation !== 'read committed') throw new Error('AuditLog.recordIn: needs a READ COMMITTED transaction');

    // A new statement, so under READ COMMITTED a new snapshot, taken after the lock was granted:
    // it sees the row the previous lock holder committed.
    const last = await tx.auditEvent.findFirst({
      where: { tenantId },
      orderBy: { seq: 'desc' },
      select: { seq: true, hash: true },
    });
    const seq = (last?.seq ?? 0n) + 1n;
    const prevHash = last?.hash ?? GENESIS_HASH;
    // Taken under the lock, so within a tenant time follows seq (on one clock). A Date holds whole
    // milliseconds, exactly what the timestamptz(3) column stores, so the hashed instant survives
    // the round trip. Copied, so a test clock handing out one Date object cannot change it later.
    const occurredAt = new Date(this.clock.now().getTime());
    const id = uuidv7(occurredAt.getTime());
    const row = { tenantId, seq, id, occurredAt, ...entry, prevHash };
    await tx.auditEvent.create({ data: { ...row, hash: auditEventHash(row) }, select: { id: true } });
    return { id, seq };
  }

  /**
   * Under recordIn this runs before the caller commits: if the caller then rolls back, the line
   * stays and the row does not, and the next event reuses its seq. eventId tells the two apart.
   * Failures and denials are warnings because they are what an operator looks for.
   */
  private log(tenantId: string, eventId: string, seq: bigint, entry: NormalizedEntry): void {
    if (!this.logger) return;
    const line = { audit: { tenantId, eventId, seq: Number(seq), ...entry } };
    const message = `audit ${entry.type} ${entry.outcome}`;
    if (entry.outcome === 'success') this.logger.info(line, message);
    else this.logger.warn(line, message);
  }
}

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, then random bits. The id is needed before
 * the insert because the hash covers it, so the database default cannot supply it; version 7
 * keeps the table's ids time-ordered like the rest of the schema.
 */
function uuidv7(ms: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (bytes[6] & 0x0f);
  bytes[8] = 0x80 | (bytes[8] & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

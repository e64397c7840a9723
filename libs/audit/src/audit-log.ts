import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock, SystemClock, isUuid, uuidv7 } from '@benteng/common';
import { TenantDatabase, type TenantTx } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { auditEventHash, GENESIS_HASH, personalCommitment } from './audit-chain.js';
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

  /**
   * Erases the personal detail (ip, data and the commitment's salt) of this tenant's audit rows about
   * a data subject: rows they acted in (`actors`), rows about them (`subjects`), and rows whose data
   * names them (`dataValues`, e.g. an email typed at a failed login). Only version 2 rows can be
   * erased (the table's trigger refuses anything else); the chain still verifies because it hashes
   * the commitment (audit-chain.ts). Version 1 rows that match are counted, not changed.
   */
  async eraseDetailIn(tx: TenantTx, match: { actors: readonly string[]; subjects: readonly string[]; dataValues: readonly string[] }, at: Date): Promise<{ erased: number; legacy: number }> {
    const [counts] = await tx.$queryRaw<{ erased: number; legacy: number }[]>`
      WITH matched AS (
        SELECT tenant_id, id, hash_version FROM audit_events e
         WHERE erased_at IS NULL
           AND (actor = ANY(${match.actors}::text[]) OR subject = ANY(${match.subjects}::text[])
                OR EXISTS (SELECT 1 FROM jsonb_each_text(e.data) d WHERE lower(d.value) = ANY(${match.dataValues.map((v) => v.toLowerCase())}::text[])))
      ), erased AS (
        UPDATE audit_events a SET ip = NULL, data = '{}'::jsonb, personal_salt = NULL, erased_at = ${at}
          FROM matched m WHERE a.tenant_id = m.tenant_id AND a.id = m.id AND m.hash_version = 2
        RETURNING a.id
      )
      SELECT (SELECT count(*) FROM erased)::int AS erased, (SELECT count(*) FROM matched WHERE hash_version = 1)::int AS legacy`;
    return counts ?? { erased: 0, legacy: 0 };
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
    // Version 2: the hash covers a salted commitment to ip and data, so a data subject erasure can
    // clear them later without breaking the chain (audit-chain.ts, personalCommitment).
    const personalSalt = randomBytes(16).toString('hex');
    const commitment = personalCommitment(personalSalt, { ip: entry.ip, data: entry.data });
    const row = { tenantId, seq, id, occurredAt, ...entry, prevHash, hashVersion: 2, personalCommitment: commitment };
    await tx.auditEvent.create({ data: { ...row, personalSalt, hash: auditEventHash(row) }, select: { id: true } });
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

import { describe, expect, it } from 'vitest';
import { AuditLog, AuditVerifier, DEFERRED_AUDIT_FLUSH_MS, DeferredAuditLog, MAX_DEFERRED_AUDITS, type AuditEntry } from '@benteng/audit';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant } from '../support/factories.js';

/**
 * DeferredAuditLog (issue 14): audit writes taken off the response path of failed logins must
 * still all land, in order, in a chain that verifies: written by the flush timer, on demand, on
 * shutdown, under backpressure, and after a transient failure.
 */
describe('deferred audit writes', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const entry = (n: number): AuditEntry => ({ type: 'auth.login', outcome: 'failure', actor: 'anonymous', data: { reason: 'wrong_password', n } });
  const recorded = async (tenantId: string): Promise<number[]> =>
    (await owner.query<{ n: number }>("SELECT (data->>'n')::int AS n FROM audit_events WHERE tenant_id = $1 ORDER BY seq", [tenantId])).rows.map((r) => r.n);

  it('defer returns before anything is written; the timer writes the batch in order; the chain verifies', async () => {
    const tenant = await createTenant(owner, 'deferred');
    const deferred = new DeferredAuditLog(new AuditLog(db));
    const lines: number[] = [];
    for (let n = 1; n <= 5; n++) await deferred.defer({ tenantId: tenant.id, entries: [entry(n)], untenanted: () => undefined });
    await deferred.defer({ tenantId: undefined, entries: [entry(6)], untenanted: (e) => lines.push(Number(e.data?.n)) });
    expect(await recorded(tenant.id)).toEqual([]);
    expect(lines).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, DEFERRED_AUDIT_FLUSH_MS * 3));
    await deferred.settled();
    expect(await recorded(tenant.id)).toEqual([1, 2, 3, 4, 5]);
    expect(lines).toEqual([6]);
    expect(await new AuditVerifier(db).verify(tenant.id)).toMatchObject({ ok: true, count: 5 });
  });

  it("settled(tenant) writes that tenant's queue at once; shutdown writes the rest", async () => {
    const [a, b] = [await createTenant(owner, 'deferred-a'), await createTenant(owner, 'deferred-b')];
    const deferred = new DeferredAuditLog(new AuditLog(db));
    await deferred.defer({ tenantId: a.id, entries: [entry(1)], untenanted: () => undefined });
    await deferred.defer({ tenantId: b.id, entries: [entry(2)], untenanted: () => undefined });
    await deferred.settled(a.id.toUpperCase());
    expect([await recorded(a.id), await recorded(b.id)]).toEqual([[1], []]);
    await deferred.onModuleDestroy();
    expect(await recorded(b.id)).toEqual([2]);
  });

  it(`past ${MAX_DEFERRED_AUDITS} queued outcomes, defer writes the batch and waits (nothing dropped)`, async () => {
    const tenant = await createTenant(owner, 'deferred-full');
    const deferred = new DeferredAuditLog(new AuditLog(db));
    // All at once (a burst of failed logins): the first MAX_DEFERRED_AUDITS queue synchronously, the next one finds the queue full.
    await Promise.all(Array.from({ length: MAX_DEFERRED_AUDITS + 1 }, (_, i) => deferred.defer({ tenantId: tenant.id, entries: [entry(i + 1)], untenanted: () => undefined })));
    // The full queue was written before the last outcome was queued.
    expect((await recorded(tenant.id)).length).toBe(MAX_DEFERRED_AUDITS);
    await deferred.settled();
    expect(await recorded(tenant.id)).toEqual(Array.from({ length: MAX_DEFERRED_AUDITS + 1 }, (_, i) => i + 1));
  }, 60_000);

  it('a row that fails once is retried, and the entries after it still land, in order', async () => {
    const tenant = await createTenant(owner, 'deferred-retry');
    let failures = 1;
    class FlakyAuditLog extends AuditLog {
      override recordFor(tenantId: string, e: AuditEntry): Promise<void> {
        if (failures-- > 0) return Promise.reject(new Error('connection reset'));
        return super.recordFor(tenantId, e);
      }
    }
    const errors: string[] = [];
    const sink = { info: () => undefined, warn: () => undefined, error: (_: object, message: string) => errors.push(message) };
    const deferred = new DeferredAuditLog(new FlakyAuditLog(db), sink);
    await deferred.defer({ tenantId: tenant.id, entries: [entry(1), entry(2)], untenanted: () => undefined });
    await deferred.settled();
    expect(await recorded(tenant.id)).toEqual([1, 2]);
    expect(errors).toEqual([]);
  });
});

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { IdempotencyRepository } from '@benteng/idempotency';
import { TicketsRepository } from '@benteng/tickets';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant } from '../support/factories.js';

/**
 * IdempotencyRepository.completeIn against real PostgreSQL: the answer of an idempotent create is
 * written in the create's own transaction (TenantDatabase.run's `also`), so the row and the answer
 * commit or roll back together, and a create whose reservation is no longer its own does not commit.
 * The HTTP side across a crash is test/e2e/idempotency-crash.spec.ts.
 */
describe('IdempotencyRepository.completeIn', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const keys = new IdempotencyRepository(db);
  const tickets = new TicketsRepository(db);
  const now = new Date();
  const request = () => ({ route: 'POST /v1/tickets', key: `k-${randomBytes(8).toString('hex')}`, requestHash: 'h'.repeat(64) });
  const ticketRows = async (tenantId: string) => Number((await owner.query<{ n: string }>('SELECT count(*) AS n FROM tickets WHERE tenant_id = $1', [tenantId])).rows[0]!.n);

  it('stores the answer with the create: both are there after one commit', async () => {
    const tenant = await createTenant(owner, 'idem-answer');
    const scope = tenant.scope('owner');
    const req = request();
    const id = (await keys.reserve(scope, req))!;
    const ticket = await tickets.create(scope, { subject: 'S', body: 'B', priority: 'normal', openedById: tenant.users.owner.id }, now, (tx, created) =>
      keys.completeIn(tx, id, { status: 201, body: { id: created.id }, headers: { location: `/v1/tickets/${created.id}` } }),
    );
    expect(await keys.find(scope, req)).toMatchObject({ id, response: { status: 201, body: { id: ticket.id }, headers: { location: `/v1/tickets/${ticket.id}` } } });
    expect(await ticketRows(tenant.id)).toBe(1);
  });

  it('rolls the create back when the answer cannot be stored (the reservation was released as abandoned meanwhile)', async () => {
    const tenant = await createTenant(owner, 'idem-lost');
    const scope = tenant.scope('owner');
    const req = request();
    const id = (await keys.reserve(scope, req))!;
    // A retry found the reservation 60 s old and released it (apps/api/src/http/idempotency.ts).
    await keys.releaseAbandoned(scope, id);
    const create = tickets.create(scope, { subject: 'S', body: 'B', priority: 'normal', openedById: tenant.users.owner.id }, now, (tx) => keys.completeIn(tx, id, { status: 201, body: {}, headers: {} }));
    await expect(create).rejects.toThrow(/reservation lost/);
    expect(await ticketRows(tenant.id)).toBe(0);
    expect(await keys.find(scope, req)).toBeNull();
  });

  it('release keeps an answer stored with its create: only a reservation without an answer is freed', async () => {
    const tenant = await createTenant(owner, 'idem-keep');
    const scope = tenant.scope('owner');
    const req = request();
    const id = (await keys.reserve(scope, req))!;
    await tickets.create(scope, { subject: 'S', body: 'B', priority: 'normal', openedById: tenant.users.owner.id }, now, (tx) => keys.completeIn(tx, id, { status: 201, body: { ok: true }, headers: {} }));
    await keys.release(scope, id);
    expect((await keys.find(scope, req))?.response).toEqual({ status: 201, body: { ok: true }, headers: {} });

    const other = request();
    const pending = (await keys.reserve(scope, other))!;
    await keys.release(scope, pending);
    expect(await keys.find(scope, other)).toBeNull();
  });
});

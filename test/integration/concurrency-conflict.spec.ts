import { describe, expect, it } from 'vitest';
import { isConcurrencyConflict } from '@benteng/database';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, insertInvoice } from '../support/factories.js';

/**
 * The HTTP layer answers "a concurrent transaction won" with 409 instead of 500; this proves the
 * detection matches what Prisma 7 with adapter-pg really throws for a deadlock.
 */
describe('isConcurrencyConflict', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();

  it('recognises a real deadlock between two tenant transactions', async () => {
    const tenant = await createTenant(owner, 'deadlock');
    const a = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
    const b = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
    const scope = tenant.scope('owner');
    let release!: () => void;
    const bothHoldFirstLock = new Promise<void>((resolve) => (release = resolve));
    let holders = 0;
    const lockInOrder = (first: string, second: string) =>
      db.run(scope, async (tx) => {
        await tx.$queryRaw`SELECT id FROM invoices WHERE id = ${first}::uuid FOR UPDATE`;
        if (++holders === 2) release();
        await bothHoldFirstLock;
        await tx.$queryRaw`SELECT id FROM invoices WHERE id = ${second}::uuid FOR UPDATE`;
      }, { timeout: 20_000 });
    const results = await Promise.allSettled([lockInOrder(a, b), lockInOrder(b, a)]);
    const failures = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    expect(failures).toHaveLength(1);
    expect(isConcurrencyConflict(failures[0]!.reason)).toBe(true);
  });

  it('does not call other errors conflicts', () => {
    expect(isConcurrencyConflict(new Error('boom'))).toBe(false);
    expect(isConcurrencyConflict({ code: 'P2002' })).toBe(false);
    expect(isConcurrencyConflict(null)).toBe(false);
  });
});

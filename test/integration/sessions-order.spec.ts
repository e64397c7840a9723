import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authGraph, insertSession, SettableClock } from '../support/auth-services.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { ready, testRedis } from '../support/redis.js';

/**
 * The session list is newest first by its own ORDER BY (SessionsRepository.listActive), not by the
 * order rows happen to come back in: eight sessions are inserted in an order that is neither
 * oldest-first nor newest-first, so neither the heap order nor an index order on random ids can
 * give the answer by chance (about 1 in 40,000).
 */
const owner = ownerPool();
const database = tenantDatabase();
const redis = testRedis('sessions-order-spec');

beforeAll(() => ready(redis));
afterAll(() => redis.disconnect());

describe('the session list order', () => {
  it('newest first, whatever order the sessions were created in', async () => {
    const tenant = await createTenant(owner, 'sessions-order');
    const user = tenant.users.member.id;
    const hours = [3, 7, 1, 5, 0, 6, 2, 4];
    const ids = new Map<number, string>();
    for (const h of hours) {
      ids.set(h, await insertSession(owner, tenant.id, { userId: user, createdAt: new Date(Date.UTC(2029, 11, 31, h)), expiresAt: new Date('2030-01-02T00:00:00.000Z') }));
    }
    const g = await authGraph({ clock: new SettableClock(new Date('2030-01-01T00:00:00.000Z')), redis, db: database });
    const listed = await g.sessions.list(tenant.scope('member'));
    expect(listed.map((s) => s.id)).toEqual([7, 6, 5, 4, 3, 2, 1, 0].map((h) => ids.get(h)));
  });
});

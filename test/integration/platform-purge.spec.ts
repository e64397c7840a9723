import { randomUUID } from 'node:crypto';
import { PinoLogger } from 'nestjs-pino';
import { describe, expect, it } from 'vitest';
import { PlatformPurgeHandler } from '@benteng/jobs';
import { FakeClock } from '../support/clock.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant } from '../support/factories.js';

/**
 * The platform purge removes bookkeeping rows past any use, as the runtime role through the one
 * platform function `platform_purge_expired`: day-old idempotency keys and session tombstones go,
 * younger ones stay (a tombstone must outlive every access token of its session).
 */
describe('platform purge', () => {
  const owner = ownerPool();
  const { prisma } = tenantDatabase();

  it('removes idempotency keys and session tombstones older than a day, and keeps the younger ones', async () => {
    const tenant = await createTenant(owner, 'purge');
    const clock = new FakeClock();
    const now = clock.now();
    const at = (hoursAgo: number) => new Date(now.getTime() - hoursAgo * 3_600_000);
    const keys = { old: randomUUID(), young: randomUUID() };
    const tombstones = { old: randomUUID(), young: randomUUID() };
    for (const [id, created] of [
      [keys.old, at(25)],
      [keys.young, at(23)],
    ] as const) {
      await owner.query(
        `INSERT INTO idempotency_keys (tenant_id, id, principal, key, route, request_hash, response_status, response_body, created_at)
         VALUES ($1, $2, 'user:x', $3, 'POST /v1/invoices', 'h', 201, '{}', $4)`,
        [tenant.id, id, `key-${id}`, created],
      );
    }
    await owner.query('INSERT INTO session_revocations (tenant_id, id, revoked_at) VALUES ($1, $2, $3), ($1, $4, $5)', [tenant.id, tombstones.old, at(25), tombstones.young, at(1)]);

    const job = new PlatformPurgeHandler(prisma, clock, new PinoLogger({ pinoHttp: { level: 'silent' } }));
    const removed = await job.purge();
    expect(removed.idempotencyKeys).toBeGreaterThanOrEqual(1);
    expect(removed.sessionRevocations).toBeGreaterThanOrEqual(1);

    const { rows: keyRows } = await owner.query<{ id: string }>('SELECT id FROM idempotency_keys WHERE tenant_id = $1 ORDER BY id', [tenant.id]);
    expect(keyRows.map((r) => r.id)).toEqual([keys.young]);
    const { rows: tombRows } = await owner.query<{ id: string }>('SELECT id FROM session_revocations WHERE tenant_id = $1', [tenant.id]);
    expect(tombRows.map((r) => r.id)).toEqual([tombstones.young]);
  });

  it('is the only purge path: the runtime role may not delete those rows across tenants itself', async () => {
    const { rows } = await owner.query<{ can: boolean }>(
      `SELECT has_table_privilege('benteng_app', 'session_revocations', 'DELETE') AS can`,
    );
    expect(rows[0]!.can).toBe(false);
  });
});

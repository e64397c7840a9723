import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditVerifier, verifyChain, type ChainVerification } from '@benteng/audit';
import { loadConfig } from '@benteng/config';
import { createRuntimeClient } from '@benteng/database';
import { DEMO_TENANTS, demoEmail, demoPassword, seed, type SeedSummary } from '../../prisma/seed.js';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { arranged, PublicClient } from '../support/public-api.js';

/**
 * The demo data set (prisma/seed.ts) against invariant 10: after seeding and real activity in the
 * seeded tenants, every tenant's audit chain verifies, and an edit made in SQL by the database
 * owner, with the append-only trigger switched off, is caught at the row it touched.
 *
 * The seeded tenants have fixed slugs and other files may seed them too, so nothing here assumes
 * exact counts or a first run, and the tampering is never committed: it happens inside one owner
 * transaction that verifies and then rolls back, so no other test ever sees a broken chain.
 */
class Rollback extends Error {}

/** The seed is idempotent but not safe against a concurrent run (both may create one invoice). */
async function seedOnce(): Promise<SeedSummary> {
  try {
    return await seed(loadConfig(), demoPassword());
  } catch {
    return seed(loadConfig(), demoPassword());
  }
}

describe('audit chain of the seeded demo tenants', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const verifier = new AuditVerifier(db);
  // The migration owner (a superuser on test machines) through Prisma, so verifyChain can run in
  // the same transaction as the tampering.
  const ownerClient = createRuntimeClient(process.env.DATABASE_URL!, 1);
  afterAll(() => ownerClient.$disconnect());

  let api: TestApi;
  let client: PublicClient;
  let summary: SeedSummary;
  /** Per seeded tenant: the request id of a login made by this file. */
  const logins = new Map<string, string>();

  beforeAll(async () => {
    summary = await seedOnce();
    api = await buildApi();
    client = new PublicClient(api);
    // The seed writes tenants, users and invoices but no audit events: produce some the way users
    // do, by logging in through the API with the demo password.
    for (const tenant of DEMO_TENANTS) {
      const res = arranged(await client.call('POST', '/v1/auth/login', { body: { email: demoEmail(tenant, 'owner'), password: demoPassword(), tenant: tenant.slug } }), 200, 'demo login');
      logins.set(tenant.slug, String(res.headers['x-request-id']));
    }
  });
  afterAll(() => api?.close());

  const tenantId = (slug: string) => summary.tenants.find((t) => t.slug === slug)!.id;

  it('seeds idempotently: a second run keeps the tenants and creates no invoices', async () => {
    expect(summary.tenants.map((t) => t.slug).sort()).toEqual(DEMO_TENANTS.map((t) => t.slug).sort());
    const again = await seedOnce();
    expect(again.tenants).toEqual(summary.tenants);
    expect(again.invoicesCreated).toBe(0);
  });

  it.each(DEMO_TENANTS.map((t) => t.slug))('%s: the chain verifies and holds this file\'s login', async (slug) => {
    const result = await verifier.verify(tenantId(slug));
    const { rows } = await owner.query<{ seq: string }>(
      `SELECT seq::text FROM audit_events WHERE tenant_id = $1 AND type = 'auth.login' AND outcome = 'success' AND request_id = $2`,
      [tenantId(slug), logins.get(slug)],
    );
    expect(rows).toHaveLength(1);
    expect(result).toMatchObject({ ok: true });
    expect((result as Extract<ChainVerification, { ok: true }>).count).toBeGreaterThanOrEqual(Number(rows[0]!.seq));
  });

  it.each(DEMO_TENANTS.map((t) => t.slug))('%s: the append-only trigger refuses an UPDATE even from the owner', async (slug) => {
    await expect(owner.query(`UPDATE audit_events SET data = '{"tampered": true}'::jsonb WHERE tenant_id = $1 AND request_id = $2`, [tenantId(slug), logins.get(slug)])).rejects.toThrow('audit_events is append-only');
  });

  it.each(DEMO_TENANTS.map((t) => t.slug))('%s: an owner edit with the trigger bypassed fails verification at that seq', async (slug) => {
    const id = tenantId(slug);
    const { rows } = await owner.query<{ seq: string }>('SELECT seq::text FROM audit_events WHERE tenant_id = $1 AND request_id = $2', [id, logins.get(slug)]);
    const seq = Number(rows[0]!.seq);

    let tampered: ChainVerification | undefined;
    const attempt = ownerClient.$transaction(async (tx) => {
      await tx.$executeRaw`SELECT set_config('app.tenant_id', ${id}, true)`;
      // Replica mode skips ordinary triggers, for this transaction only.
      await tx.$executeRawUnsafe('SET LOCAL session_replication_role = replica');
      const changed = await tx.$executeRaw`UPDATE audit_events SET data = '{"tampered": true}'::jsonb WHERE tenant_id = ${id}::uuid AND seq = ${seq}`;
      expect(changed).toBe(1);
      tampered = await verifyChain(tx, id);
      throw new Rollback();
    });
    await expect(attempt).rejects.toBeInstanceOf(Rollback);

    expect(tampered).toEqual({ ok: false, count: seq - 1, seq, problem: 'hash_mismatch' });
    // Rolled back: the shared demo tenants keep an intact chain.
    expect((await verifier.verify(id)).ok).toBe(true);
  });
});

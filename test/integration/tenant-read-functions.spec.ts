import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { RUNTIME_ROLE } from '@benteng/config';
import { InvoicesRepository } from '@benteng/invoices';
import { Scope } from '@benteng/tenancy';
import { appPool, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

/**
 * The tenant read functions (prisma/migrations/20261207158000_tenant_read_functions): one statement
 * that sets app.tenant_id itself and returns the rows under RLS, used through
 * TenantDatabase.readThrough by the hottest reads (InvoicesRepository.findById). Every check runs as
 * the runtime role; the pool of the application's own Prisma client has one connection where a
 * test must show that nothing a call set is left for the next use of that same connection.
 */
describe(tag('TENANT-RLS', 'tenant read functions: one round trip, RLS applied, nothing left on the connection'), () => {
  const owner = ownerPool();
  const app = appPool(1);
  const single = tenantDatabase(1);
  const pooled = tenantDatabase(4);
  let a: TestTenant;
  let b: TestTenant;
  let c: TestTenant;
  const invoices = new Map<string, string[]>();

  const system = (tenant: TestTenant) => Scope.for(tenant.id, { kind: 'system', name: 'jobs' });
  const byId = (db: typeof single.db, tenantId: string, id: string) =>
    db.readThrough({ tenantId }, (client, tid) => client.$queryRaw<{ tenantId: string; id: string; lines: unknown }[]>`SELECT "tenantId", id, lines FROM tenant_invoice_by_id(${tid}::uuid, ${id}::uuid)`);
  /** What the next use of the one-connection pool sees: the setting, and how many invoices RLS shows. */
  const leftOnConnection = async () => {
    const [row] = await single.prisma.client.$queryRaw<{ setting: string | null; visible: bigint }[]>`SELECT current_setting('app.tenant_id', true) AS setting, (SELECT count(*) FROM invoices) AS visible`;
    return { setting: row!.setting ?? '', visible: Number(row!.visible) };
  };

  beforeAll(async () => {
    [a, b, c] = [await createTenant(owner, 'fn-a'), await createTenant(owner, 'fn-b'), await createTenant(owner, 'fn-c')];
    for (const [tenant, count] of [[a, 3], [b, 2], [c, 1]] as const) {
      const ids: string[] = [];
      for (let i = 0; i < count; i++) ids.push(await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id, lines: 2 }));
      invoices.set(tenant.id, ids);
    }
  });

  it('is SECURITY INVOKER (never DEFINER) with a SET app.tenant_id clause, executable by the runtime role, not by PUBLIC', async () => {
    const { rows } = await owner.query<{ definer: boolean; config: string[] | null; runtime: boolean; public: boolean }>(
      `SELECT p.prosecdef AS definer, p.proconfig AS config, has_function_privilege($1, p.oid, 'EXECUTE') AS runtime,
              EXISTS (SELECT 1 FROM aclexplode(p.proacl) acl WHERE acl.grantee = 0) AS public
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname = 'tenant_invoice_by_id'`,
      [RUNTIME_ROLE],
    );
    expect(rows).toEqual([{ definer: false, config: ['app.tenant_id='], runtime: true, public: false }]);
  });

  it('applies RLS: the tenant passed sees its own invoice with its lines, and another tenant’s is no row', async () => {
    const [mine] = invoices.get(a.id)!;
    const rows = await byId(single.db, a.id, mine!);
    expect(rows.map((r) => [r.tenantId, r.id])).toEqual([[a.id, mine]]);
    expect(rows[0]!.lines).toHaveLength(2);
    expect(await byId(single.db, b.id, mine!)).toEqual([]);
    expect(await byId(single.db, randomUUID(), mine!)).toEqual([]);
  });

  it('leaves nothing on the pooled connection after a read, nor after a statement that failed after the call', async () => {
    await byId(single.db, a.id, invoices.get(a.id)![0]!);
    expect(await leftOnConnection()).toEqual({ setting: '', visible: 0 });
    await expect(
      single.db.readThrough(system(a), (client, tid) => client.$queryRaw`SELECT 1 / (count(*) - count(*)) FROM tenant_invoice_by_id(${tid}::uuid, ${invoices.get(a.id)![0]!}::uuid)`),
    ).rejects.toThrow(/22012|division by zero/);
    expect(await leftOnConnection()).toEqual({ setting: '', visible: 0 });
  });

  it('fails closed: a statement through readThrough that does not call a tenant function sees no row', async () => {
    const rows = await single.db.readThrough(system(a), (client) => client.$queryRaw<{ n: bigint }[]>`SELECT count(*) AS n FROM invoices`);
    expect(Number(rows[0]!.n)).toBe(0);
  });

  it('inside a caller’s transaction the call is confined: the caller’s tenant is back after it, and nothing after COMMIT or ROLLBACK', async () => {
    const client = await app.connect();
    try {
      for (const end of ['COMMIT', 'ROLLBACK']) {
        await client.query('BEGIN');
        await client.query("SELECT set_config('app.tenant_id', $1, true)", [a.id]);
        const inside = await client.query<{ tenantId: string }>('SELECT "tenantId" FROM tenant_invoice_by_id($1, $2)', [b.id, invoices.get(b.id)![0]]);
        expect(inside.rows.map((r) => r.tenantId)).toEqual([b.id]);
        const after = await client.query<{ setting: string; tenants: string[] | null }>("SELECT current_setting('app.tenant_id', true) AS setting, (SELECT array_agg(DISTINCT tenant_id::text) FROM invoices) AS tenants");
        expect(after.rows[0]).toEqual({ setting: a.id, tenants: [a.id] });
        await client.query(end);
        const ended = await client.query<{ setting: string | null }>("SELECT current_setting('app.tenant_id', true) AS setting");
        expect(ended.rows[0]!.setting ?? '').toBe('');
      }
      // A transaction without a tenant stays without one after the call.
      await client.query('BEGIN');
      await client.query('SELECT * FROM tenant_invoice_by_id($1, $2)', [c.id, invoices.get(c.id)![0]]);
      const none = await client.query<{ setting: string | null; visible: string }>("SELECT current_setting('app.tenant_id', true) AS setting, (SELECT count(*) FROM invoices) AS visible");
      expect(none.rows[0]).toEqual({ setting: '', visible: '0' });
      await client.query('COMMIT');
      // An error inside the caller's transaction after the call: rolled back, nothing left.
      await client.query('BEGIN');
      await client.query('SELECT * FROM tenant_invoice_by_id($1, $2)', [c.id, invoices.get(c.id)![0]]);
      await expect(client.query('SELECT 1 / 0')).rejects.toMatchObject({ code: '22012' });
      await client.query('ROLLBACK');
      const clean = await client.query<{ setting: string | null; visible: string }>("SELECT current_setting('app.tenant_id', true) AS setting, (SELECT count(*) FROM invoices) AS visible");
      expect(clean.rows[0]).toEqual({ setting: '', visible: '0' });
    } finally {
      client.release();
    }
  });

  it('3,000 concurrent reads of mixed tenants on the app pool: each sees only its own tenant’s invoice, never another’s', async () => {
    const tenants = [a, b, c];
    const repository = new InvoicesRepository(pooled.db);
    const results = await Promise.all(
      Array.from({ length: 3000 }, async (_, k) => {
        const asked = tenants[k % 3]!;
        const owning = tenants[(k + (k % 7 === 0 ? 1 : 0)) % 3]!;
        const ids = invoices.get(owning.id)!;
        const id = ids[k % ids.length]!;
        const found = await repository.findById(asked.scope('owner'), id);
        return { asked, owning, id, found };
      }),
    );
    const wrong = results.filter(({ asked, owning, id, found }) =>
      asked === owning ? found?.id !== id || found.tenantId !== asked.id || !found.lines.every((line) => line.tenantId === asked.id) : found !== null,
    );
    expect(wrong).toEqual([]);
    expect(results.filter((r) => r.asked !== r.owning).length).toBeGreaterThan(400);
  });
});

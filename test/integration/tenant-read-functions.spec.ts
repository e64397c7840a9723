import { randomUUID } from 'node:crypto';
import { AbilityBuilder } from '@casl/ability';
import { createPrismaAbility } from '@casl/prisma/runtime';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { defineAbilityFor, type AppAbility, type Principal } from '@benteng/authz';
import { RUNTIME_ROLE } from '@benteng/config';
import { INVOICE_SORTS, InvoicesRepository, type InvoiceListQuery, type InvoiceWithLines } from '@benteng/invoices';
import { Scope } from '@benteng/tenancy';
import { appPool, ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { createPartnerClient } from '../support/partners.js';
import { tag } from '../security/support/controls.js';

/**
 * The tenant read functions (prisma/migrations/20261207158000_tenant_read_functions,
 * 20261207175000_tenant_invoice_page): one statement that sets app.tenant_id itself and returns the
 * rows under RLS, used through TenantDatabase.readThrough by the hottest reads
 * (InvoicesRepository.findById and list). Every check runs as
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

  it('are SECURITY INVOKER (never DEFINER) with a SET app.tenant_id clause, executable by the runtime role, not by PUBLIC', async () => {
    const { rows } = await owner.query<{ name: string; definer: boolean; config: string[] | null; runtime: boolean; public: boolean }>(
      `SELECT p.proname AS name, p.prosecdef AS definer, p.proconfig AS config, has_function_privilege($1, p.oid, 'EXECUTE') AS runtime,
              EXISTS (SELECT 1 FROM aclexplode(p.proacl) acl WHERE acl.grantee = 0) AS public
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname IN ('tenant_invoice_by_id', 'tenant_invoice_page') ORDER BY 1`,
      [RUNTIME_ROLE],
    );
    expect(rows).toEqual(['tenant_invoice_by_id', 'tenant_invoice_page'].map((name) => ({ name, definer: false, config: ['app.tenant_id='], runtime: true, public: false })));
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

/**
 * The list page through `tenant_invoice_page` (InvoicesRepository.list): one round trip, RLS, nothing
 * left on the connection, and exactly the page the Prisma query gives (the repository's own Prisma
 * path, taken for a read rule the function's parameters cannot express, is the reference).
 */
describe(tag('TENANT-RLS', 'tenant_invoice_page: the list page in one round trip, the same page as Prisma'), () => {
  const owner = ownerPool();
  const app = appPool(1);
  const single = tenantDatabase(1);
  const { db } = tenantDatabase(2);
  const repository = new InvoicesRepository(db);
  let p: TestTenant;
  let q: TestTenant;
  let clientId: string;
  const ids: string[] = [];

  type PageRow = { tenantId: string; id: string; lines: unknown };
  const rawPage = (database: typeof single.db, tenantId: string, sort = 'createdAt', descending = true) =>
    database.readThrough(
      { tenantId },
      (client, tid) =>
        client.$queryRaw<PageRow[]>`SELECT "tenantId", id, lines FROM tenant_invoice_page(${tid}::uuid, NULL, ${sort}::text, ${descending}::boolean, NULL, NULL, 50, NULL, NULL, NULL)`,
    );
  const leftOnConnection = async () => {
    const [row] = await single.prisma.client.$queryRaw<{ setting: string | null; visible: bigint }[]>`SELECT current_setting('app.tenant_id', true) AS setting, (SELECT count(*) FROM invoices) AS visible`;
    return { setting: row!.setting ?? '', visible: Number(row!.visible) };
  };
  /** A Scope of tenant p whose read rules are `rules` instead of the defined ones. */
  const ruled = (rules: (builder: AbilityBuilder<AppAbility>, tenantId: string) => void, principal: Principal = { kind: 'user', userId: p.users.owner.id, role: 'owner' }) =>
    Scope.for(p.id, principal, {
      forTenant: (tenantId) => {
        const builder = new AbilityBuilder<AppAbility>(createPrismaAbility as never);
        rules(builder, tenantId);
        return builder.build();
      },
    });
  /** Every page of a listing, as paginate asks for them (the next page after the last row of a full one). */
  const pages = async (scope: Scope, query: Omit<InvoiceListQuery, 'after'>): Promise<InvoiceWithLines[][]> => {
    const field = (query.sort ?? '-createdAt').replace(/^-/, '') as 'createdAt' | 'number' | 'dueDate';
    const all: InvoiceWithLines[][] = [];
    let after: InvoiceListQuery['after'];
    for (;;) {
      const page = await repository.list(scope, { ...query, ...(after ? { after } : {}) });
      all.push(page);
      const last = page.at(-1);
      if (page.length < query.limit || !last || all.length > 20) return all;
      after = { value: last[field], id: last.id };
    }
  };
  /** Which path a listing took: the function (readThrough) or a Prisma transaction (run). */
  const paths = async <T>(work: () => Promise<T>) => {
    const through = vi.spyOn(db, 'readThrough');
    const run = vi.spyOn(db, 'run');
    try {
      const result = await work();
      return { result, readThrough: through.mock.calls.length, run: run.mock.calls.length };
    } finally {
      through.mockRestore();
      run.mockRestore();
    }
  };
  /** The reference: the same rules plus a condition no parameter takes, so the repository asks Prisma. */
  const prismaPath = (extra: Record<string, unknown> = {}) => ruled(({ can }, tenantId) => can('read', 'Invoice', { tenantId, ...extra, version: { gte: 1 } } as never));

  beforeAll(async () => {
    [p, q] = [await createTenant(owner, 'page-p'), await createTenant(owner, 'page-q')];
    clientId = (await createPartnerClient(owner, p.id, p.users.owner.id)).clientId;
    // Ties on every sort column but number, NULL due dates, every status, three kinds of creator.
    const seeds = [
      { due: null, at: '2026-01-01T00:00:00.000Z', status: 'draft', by: 'owner', number: 'INV-07' },
      { due: null, at: '2026-01-01T00:00:00.000Z', status: 'issued', by: 'owner', number: 'INV-02' },
      { due: '2027-01-10', at: '2026-01-02T00:00:00.000Z', status: 'draft', by: 'member', number: 'INV-05' },
      { due: '2027-01-10', at: '2026-01-02T00:00:00.000Z', status: 'void', by: 'owner', number: 'INV-01' },
      { due: '2027-01-11', at: '2026-01-03T00:00:00.000Z', status: 'issued', by: 'owner', number: 'INV-08' },
      { due: '2027-01-09', at: '2026-01-04T00:00:00.000Z', status: 'paid', by: 'client', number: 'INV-03' },
      { due: null, at: '2026-01-04T00:00:00.000Z', status: 'draft', by: 'member', number: 'INV-06' },
      { due: '2027-01-12', at: '2026-01-05T00:00:00.000Z', status: 'draft', by: 'owner', number: 'INV-04' },
    ] as const;
    for (const seed of seeds) {
      const id = await insertInvoice(owner, p.id, { createdById: p.users[seed.by === 'member' ? 'member' : 'owner'].id, status: seed.status, number: seed.number, lines: 2 });
      await ownerInTenant(owner, p.id, (client) =>
        client.query(
          `UPDATE invoices SET due_date = $2, created_at = $3, created_by_id = CASE WHEN $4 THEN NULL ELSE created_by_id END, created_by_client_id = CASE WHEN $4 THEN $5::uuid END WHERE id = $1`,
          [id, seed.due, seed.at, seed.by === 'client', clientId],
        ),
      );
      ids.push(id);
    }
    for (let i = 0; i < 3; i++) await insertInvoice(owner, q.id, { createdById: q.users.owner.id, lines: 1 });
  });

  it('applies RLS and the tenant passed: the tenant’s own invoices with their lines, never another’s', async () => {
    const mine = await rawPage(single.db, p.id);
    expect(mine.map((r) => r.tenantId)).toEqual(ids.map(() => p.id));
    expect(new Set(mine.map((r) => r.id))).toEqual(new Set(ids));
    expect(mine.every((r) => Array.isArray(r.lines) && r.lines.length === 2)).toBe(true);
    const theirs = await rawPage(single.db, q.id);
    expect(theirs.map((r) => r.tenantId)).toEqual([q.id, q.id, q.id]);
    expect(await rawPage(single.db, randomUUID())).toEqual([]);
  });

  it('leaves nothing on the pooled connection after a page, after a statement that failed after the call, or after a refused request', async () => {
    await rawPage(single.db, p.id);
    expect(await leftOnConnection()).toEqual({ setting: '', visible: 0 });
    await expect(
      single.db.readThrough({ tenantId: p.id }, (client, tid) => client.$queryRaw`SELECT 1 / (count(*) - count(*)) FROM tenant_invoice_page(${tid}::uuid, NULL, 'number', false, NULL, NULL, 50, NULL, NULL, NULL)`),
    ).rejects.toThrow(/22012|division by zero/);
    expect(await leftOnConnection()).toEqual({ setting: '', visible: 0 });
    // A sort the function does not know is refused, not turned into some order.
    await expect(rawPage(single.db, p.id, 'customer_name; --')).rejects.toThrow(/22023|invalid page request/);
    expect(await leftOnConnection()).toEqual({ setting: '', visible: 0 });
  });

  it('inside a caller’s transaction the call is confined: the caller’s tenant is back after it, and nothing after COMMIT or ROLLBACK', async () => {
    const client = await app.connect();
    const call = `SELECT "tenantId" FROM tenant_invoice_page($1, NULL, 'createdAt', true, NULL, NULL, 50, NULL, NULL, NULL)`;
    try {
      for (const end of ['COMMIT', 'ROLLBACK']) {
        await client.query('BEGIN');
        await client.query("SELECT set_config('app.tenant_id', $1, true)", [q.id]);
        const inside = await client.query<{ tenantId: string }>(call, [p.id]);
        expect(inside.rows.map((r) => r.tenantId)).toEqual(ids.map(() => p.id));
        const after = await client.query<{ setting: string; tenants: string[] | null }>("SELECT current_setting('app.tenant_id', true) AS setting, (SELECT array_agg(DISTINCT tenant_id::text) FROM invoices) AS tenants");
        expect(after.rows[0]).toEqual({ setting: q.id, tenants: [q.id] });
        await client.query(end);
        const ended = await client.query<{ setting: string | null }>("SELECT current_setting('app.tenant_id', true) AS setting");
        expect(ended.rows[0]!.setting ?? '').toBe('');
      }
      await client.query('BEGIN');
      await client.query(call, [p.id]);
      await expect(client.query('SELECT 1 / 0')).rejects.toMatchObject({ code: '22012' });
      await client.query('ROLLBACK');
      const clean = await client.query<{ setting: string | null; visible: string }>("SELECT current_setting('app.tenant_id', true) AS setting, (SELECT count(*) FROM invoices) AS visible");
      expect(clean.rows[0]).toEqual({ setting: '', visible: '0' });
    } finally {
      client.release();
    }
  });

  it('gives the page Prisma gives, row for row: every sort and direction, with and without a status filter, page by page', async () => {
    const compared: string[] = [];
    for (const sort of INVOICE_SORTS) {
      for (const status of [undefined, 'draft', 'issued'] as const) {
        for (const limit of [1, 2, 3, 50]) {
          const query = { sort, limit, ...(status ? { status } : {}) };
          const viaFunction = await paths(() => pages(p.scope('owner'), query));
          const viaPrisma = await paths(() => pages(prismaPath(), query));
          expect(viaFunction.run, `${sort} ${status} ${limit}: no Prisma transaction`).toBe(0);
          expect(viaFunction.readThrough).toBe(viaFunction.result.length);
          expect(viaPrisma.readThrough).toBe(0);
          expect(viaFunction.result, `${sort} ${status ?? 'all'} limit ${limit}`).toEqual(viaPrisma.result);
          const listed = viaFunction.result.flat().map((i) => i.id);
          expect(new Set(listed).size).toBe(listed.length);
          compared.push(`${sort}/${status ?? 'all'}/${limit}:${listed.length}`);
        }
      }
    }
    // Not vacuous: every invoice of p was listed under each sort, in pages of one as in one page.
    expect(compared.filter((c) => c.endsWith(`:${ids.length}`))).toHaveLength(INVOICE_SORTS.length * 4);
    const page = (await repository.list(p.scope('owner'), { sort: 'number', limit: 50 }))[0]!;
    expect(page.lines.map((l) => [typeof l.unitPriceMinor, l.position])).toEqual([['bigint', 1], ['bigint', 2]]);
  });

  it('passes a read rule’s equalities as parameters (createdByClientId, createdById, status), the same rows as Prisma', async () => {
    const cases: [string, Record<string, string>, number][] = [
      ['a client’s own invoices', { createdByClientId: clientId }, 1],
      ['a user’s own invoices', { createdById: p.users.member.id }, 2],
      ['drafts only', { status: 'draft' }, 4],
      ['a user’s drafts', { createdById: p.users.owner.id, status: 'draft' }, 2],
    ];
    const counted: [string, number][] = [];
    for (const [what, extra] of cases) {
      for (const status of [undefined, 'draft', 'paid'] as const) {
        const query = { sort: '-dueDate' as const, limit: 2, ...(status ? { status } : {}) };
        const viaFunction = await paths(() => pages(ruled(({ can }, tenantId) => can('read', 'Invoice', { tenantId, ...extra } as never)), query));
        const viaPrisma = await paths(() => pages(prismaPath(extra), query));
        expect([what, viaFunction.run, viaPrisma.readThrough]).toEqual([what, 0, 0]);
        expect(viaFunction.result, `${what} ${status}`).toEqual(viaPrisma.result);
        if (!status) counted.push([what, viaFunction.result.flat().length]);
      }
    }
    expect(counted).toEqual(cases.map(([what, , count]) => [what, count]));
    // A partner client with invoices:read (the defined rules): every invoice of its tenant, through the function.
    const partner = Scope.for(p.id, { kind: 'partner', clientId, scopes: ['invoices:read'], tier: 'standard' });
    const listed = await paths(() => repository.list(partner, { limit: 50 }));
    expect([listed.run, listed.readThrough]).toEqual([0, 1]);
    expect(listed.result.map((i) => i.id)).toEqual((await repository.list(prismaPath(), { limit: 50 })).map((i) => i.id));
  });

  it('fails closed: a rule the parameters cannot express is read through Prisma, never as every row; no rule is no row and no query', async () => {
    const notVoid = await paths(() =>
      repository.list(
        ruled(({ can, cannot }, tenantId) => {
          can('read', 'Invoice', { tenantId });
          cannot('read', 'Invoice', { status: 'void' });
        }),
        { limit: 50 },
      ),
    );
    expect([notVoid.readThrough, notVoid.run]).toEqual([0, 1]);
    expect(notVoid.result).toHaveLength(ids.length - 1);
    expect(notVoid.result.map((i) => i.status)).not.toContain('void');
    // A rule without the tenant (what the TENANT-RLS kill switch leaves): Prisma, and RLS still keeps p's rows only.
    const tenantBlind = await paths(() => repository.list(ruled(({ can }) => can('read', 'Invoice')), { limit: 50 }));
    expect([tenantBlind.readThrough, tenantBlind.run]).toEqual([0, 1]);
    expect(tenantBlind.result.map((i) => i.tenantId)).toEqual(ids.map(() => p.id));
    // Another tenant's id in the rule: Prisma, so no row of q through p's scope.
    const wrongTenant = await paths(() => repository.list(ruled(({ can }) => can('read', 'Invoice', { tenantId: q.id })), { limit: 50 }));
    expect([wrongTenant.readThrough, wrongTenant.run, wrongTenant.result]).toEqual([0, 1, []]);
    const none = await paths(() => repository.list(Scope.for(p.id, { kind: 'partner', clientId, scopes: ['tickets:read'], tier: 'standard' }), { limit: 50 }));
    expect(none).toEqual({ result: [], readThrough: 0, run: 0 });
  });

  it('a row the ability may not read fails the page instead of being shown', async () => {
    const [hidden] = ids;
    const scope = Scope.for(p.id, { kind: 'user', userId: p.users.owner.id, role: 'owner' }, {
      forTenant: (tenantId, principal) => {
        const ability = defineAbilityFor(tenantId, principal);
        const can = ability.can.bind(ability);
        ability.can = ((...args: Parameters<AppAbility['can']>) => ((args[1] as { id?: string } | undefined)?.id === hidden ? false : can(...args))) as AppAbility['can'];
        return ability;
      },
    });
    await expect(repository.list(scope, { limit: 50 })).rejects.toThrow(/may not read/);
    // A page without that row (the hidden one is a draft) is answered as usual.
    expect(await repository.list(scope, { status: 'issued', limit: 50 })).toHaveLength(2);
  });
});

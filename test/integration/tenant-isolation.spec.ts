import { randomUUID } from 'node:crypto';
import { accessibleBy, createPrismaAbility } from '@casl/prisma/runtime';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { AccessConditionError, accessibleWhere, type AppAbility } from '@benteng/authz';
import { SystemClock } from '@benteng/common';
import { InvoicesRepository, InvoicesService } from '@benteng/invoices';
import { Scope } from '@benteng/tenancy';
import { appPool, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

/**
 * Invariants 2 and 3: tenant isolation holds in CASL and in PostgreSQL, each on its own.
 * Every test here runs as the runtime role (a superuser would bypass RLS and prove nothing).
 */
describe(tag('TENANT-RLS', 'tenant isolation (CASL + RLS)'), () => {
  const owner = ownerPool();
  const app = appPool();
  const { db } = tenantDatabase();
  const repository = new InvoicesRepository(db);
  const service = new InvoicesService(repository, new SystemClock());
  let a: TestTenant;
  let b: TestTenant;
  let invoiceA: string;
  let invoiceB: string;

  beforeAll(async () => {
    a = await createTenant(owner, 'iso-a');
    b = await createTenant(owner, 'iso-b');
    invoiceA = await insertInvoice(owner, a.id, { createdById: a.users.owner.id, lines: 2 });
    invoiceB = await insertInvoice(owner, b.id, { createdById: b.users.owner.id, lines: 2 });
  });

  describe(tag('AUTHZ-OBJECT', 'through the repository (CASL where + RLS transaction)'), () => {
    it('lists and gets only the scope tenant rows', async () => {
      const list = await repository.list(a.scope('viewer'), { limit: 100 });
      expect(list.map((i) => i.id)).toEqual([invoiceA]);
      expect(list.every((i) => i.tenantId === a.id && i.lines.every((l) => l.tenantId === a.id))).toBe(true);
      expect(await repository.findById(a.scope('owner'), invoiceB)).toBeNull();
      expect((await repository.findById(b.scope('viewer'), invoiceB))?.lines).toHaveLength(2);
    });

    it('answers another tenant invoice exactly like a missing one', async () => {
      const foreign = await service.get(a.scope('owner'), invoiceB).catch((e: unknown) => e);
      const missing = await service.get(a.scope('owner'), randomUUID()).catch((e: unknown) => e);
      expect(foreign).toMatchObject({ code: 'invoice.not_found', kind: 'not_found' });
      expect(missing).toMatchObject({ code: 'invoice.not_found', kind: 'not_found' });
      expect((foreign as Error).message).toBe((missing as Error).message);
    });

    it('cannot update another tenant invoice', async () => {
      await expect(service.update(a.scope('owner'), invoiceB, { customerName: 'hijacked' })).rejects.toMatchObject({ code: 'invoice.not_found' });
      const { rows } = await owner.query('SELECT customer_name FROM invoices WHERE id = $1', [invoiceB]);
      expect(rows[0].customer_name).toBe('PT Contoh');
    });

    it('creates rows only in the scope tenant, whatever the caller passes', async () => {
      const created = await service.create(a.scope('member'), {
        number: `ISO-${randomUUID().slice(0, 8)}`,
        customerName: 'PT Maju',
        lines: [{ description: 'Consulting', quantity: 3, unitPriceMinor: 150_000n }],
      });
      expect(created.tenantId).toBe(a.id);
      expect(created.totalMinor).toBe(450_000n);
      expect(created.lines[0]).toMatchObject({ tenantId: a.id, amountMinor: 450_000n, position: 1 });
    });

    it('enforces role rules: a viewer cannot create, a member cannot edit an invoice it did not create', async () => {
      await expect(
        service.create(a.scope('viewer'), { number: 'VIEW-1', customerName: 'X', lines: [] }),
      ).rejects.toMatchObject({ code: 'invoice.forbidden' });
      await expect(service.update(a.scope('member'), invoiceA, { customerName: 'not mine' })).rejects.toMatchObject({ code: 'invoice.forbidden' });
      expect((await service.update(a.scope('admin'), invoiceA, { customerName: 'PT Contoh Baru' })).customerName).toBe('PT Contoh Baru');
    });
  });

  describe('fail closed', () => {
    it('an ability with no rule returns no rows, not all rows', async () => {
      const empty = createPrismaAbility([]) as AppAbility;
      const where = accessibleWhere(empty, 'read', 'Invoice');
      const rows = await db.run(a.scope('owner'), (tx) => tx.invoice.findMany({ where }));
      expect(rows).toEqual([]);
    });

    it('refuses a where-condition that came out undefined (which Prisma would read as "all rows")', () => {
      // Simulate a CASL usage error (e.g. the v1 property style `accessibleBy(ability).Invoice`).
      const records = Object.getPrototypeOf(accessibleBy(a.scope('owner').ability, 'read')) as { ofType: () => unknown };
      const spy = vi.spyOn(records, 'ofType').mockReturnValue(undefined);
      try {
        expect(() => accessibleWhere(a.scope('owner').ability, 'read', 'Invoice')).toThrow(AccessConditionError);
      } finally {
        spy.mockRestore();
      }
    });

    it('RLS alone still confines a query whose CASL condition was removed', async () => {
      const rows = await db.run(a.scope('owner'), (tx) => tx.invoice.findMany());
      expect(rows.length).toBeGreaterThan(0);
      expect(new Set(rows.map((r) => r.tenantId))).toEqual(new Set([a.id]));
      const lines = await db.run(a.scope('owner'), (tx) => tx.invoiceLine.findMany());
      expect(new Set(lines.map((l) => l.tenantId))).toEqual(new Set([a.id]));
    });

    it('RLS alone refuses to update or delete another tenant rows', async () => {
      const updated = await db.run(a.scope('owner'), (tx) =>
        tx.invoice.updateMany({ where: { id: invoiceB }, data: { customerName: 'hijacked' } }),
      );
      const deleted = await db.run(a.scope('owner'), (tx) => tx.invoiceLine.deleteMany({ where: { invoiceId: invoiceB } }));
      expect(updated.count).toBe(0);
      expect(deleted.count).toBe(0);
      const { rows } = await owner.query('SELECT count(*)::int AS n FROM invoice_lines WHERE invoice_id = $1', [invoiceB]);
      expect(rows[0].n).toBe(2);
    });

    it('RLS WITH CHECK refuses to insert a row for another tenant', async () => {
      const attempt = db.run(a.scope('owner'), (tx) =>
        tx.invoice.create({
          data: { tenantId: b.id, id: randomUUID(), number: 'X-1', customerName: 'X', createdById: a.users.owner.id },
        }),
      );
      await expect(attempt).rejects.toThrow(/row-level security/i);
    });

    it('RLS WITH CHECK refuses to move a row to another tenant', async () => {
      const attempt = db.run(a.scope('owner'), (tx) =>
        tx.invoice.updateMany({ where: { id: invoiceA }, data: { tenantId: b.id } }),
      );
      await expect(attempt).rejects.toThrow(/row-level security|foreign key/i);
    });

    it('a composite foreign key rejects a child row pointing at another tenant parent', async () => {
      const attempt = db.run(a.scope('owner'), (tx) =>
        tx.invoiceLine.create({
          data: {
            tenantId: a.id,
            id: randomUUID(),
            invoiceId: invoiceB,
            position: 99,
            description: 'probe',
            quantity: 1,
            unitPriceMinor: 1n,
            amountMinor: 1n,
          },
        }),
      );
      await expect(attempt).rejects.toMatchObject({ code: 'P2003' });
    });

    it('without a tenant setting the runtime role sees nothing, even on a connection that served a tenant before', async () => {
      const client = await app.connect();
      try {
        await client.query('BEGIN');
        await client.query("SELECT set_config('app.tenant_id', $1, true)", [a.id]);
        const inside = await client.query('SELECT count(*)::int AS n FROM invoices');
        await client.query('COMMIT');
        // The setting now reads as '' on this connection, not NULL: policies must not error.
        const setting = await client.query("SELECT current_setting('app.tenant_id', true) AS v");
        const after = await client.query('SELECT count(*)::int AS n FROM invoices');
        const tenants = await client.query('SELECT count(*)::int AS n FROM tenants');
        const users = await client.query('SELECT count(*)::int AS n FROM users');
        expect(inside.rows[0].n).toBeGreaterThan(0);
        expect(setting.rows[0].v).toBe('');
        expect(after.rows[0].n).toBe(0);
        expect(tenants.rows[0].n).toBe(0);
        expect(users.rows[0].n).toBe(0);
      } finally {
        client.release();
      }
    });

    it('the runtime role sees only its own tenant and that tenant members among platform rows', async () => {
      const rows = await db.run(a.scope('viewer'), async (tx) => ({
        tenants: await tx.tenant.findMany(),
        users: await tx.user.findMany({ select: { id: true, email: true } }),
      }));
      expect(rows.tenants.map((t) => t.id)).toEqual([a.id]);
      expect(rows.users.map((u) => u.id).sort()).toEqual(Object.values(a.users).map((u) => u.id).sort());
    });

    it('the runtime role cannot read password hashes at all', async () => {
      const attempt = db.run(a.scope('owner'), (tx) => tx.user.findMany({ select: { passwordHash: true } }));
      await expect(attempt).rejects.toThrow(/permission denied/i);
    });

    // The application's own client with a pool of one connection, so the statement after a scoped
    // call provably runs on the connection that call used. A set_config(…, false) (session-wide)
    // in libs/database/src/tenant-database.ts would leave tenant A on it, and the unscoped read
    // below would then see A's rows.
    const single = tenantDatabase(1);
    const leftOnConnection = async () => {
      const [row] = await single.prisma.client.$queryRaw<{ pid: number; setting: string | null; n: number }[]>`
        SELECT pg_backend_pid() AS pid, current_setting('app.tenant_id', true) AS setting, (SELECT count(*)::int FROM invoices) AS n`;
      return row!;
    };

    it.each(['run', 'read'] as const)('the tenant setting ends with the transaction (%s): the next statement on the same pooled connection sees no tenant and no rows', async (method) => {
      const before = await leftOnConnection();
      const seen =
        method === 'run'
          ? await single.db.run(a.scope('owner'), (tx) => tx.invoice.count())
          : await single.db.read(a.scope('owner'), (client) => client.invoice.count());
      expect(seen).toBeGreaterThan(0);
      const after = await leftOnConnection();
      expect(after.pid).toBe(before.pid);
      expect(after.setting ?? '').toBe('');
      expect(after.n).toBe(0);
    });
  });

  it('a Scope always carries an ability built for its own tenant', () => {
    const scope = Scope.for(a.id, { kind: 'user', userId: a.users.owner.id, role: 'owner' });
    expect(scope.ability.can('read', 'Invoice')).toBe(true);
    expect(() => Scope.for('not-a-uuid', { kind: 'user', userId: a.users.owner.id, role: 'owner' })).toThrow(TypeError);
    expect(Object.isFrozen(scope)).toBe(true);
  });
});

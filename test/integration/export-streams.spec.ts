import { randomUUID } from 'node:crypto';
import { createPrismaAbility } from '@casl/prisma/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibleWhere, type AppAbility } from '@benteng/authz';
import { loadConfig } from '@benteng/config';
import { ExportStreams, neutralizeCell, tenantOnly } from '@benteng/exports';
import { rowSource, type RowReaders } from '../../libs/exports/src/export-rows.js';
import { Scope } from '@benteng/tenancy';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

/**
 * The export's raw invoice read (ExportStreams, libs/exports/src/export-streams.ts) against the Prisma read it replaces:
 * it is used only when the requester's read condition is the tenant alone, applies that condition
 * and RLS, and gives byte-identical files.
 */
describe(tag('TENANT-RLS', 'export streams: raw invoice read'), () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const streams = new ExportStreams(loadConfig());
  afterAll(() => streams.onModuleDestroy());
  /** Forces the Prisma read: what rowSource does when the condition is not the tenant alone. */
  const prismaOnly = { invoicePage: async () => null } as unknown as ExportStreams;
  let a: TestTenant;
  let b: TestTenant;

  beforeAll(async () => {
    a = await createTenant(owner, 'xs-a');
    b = await createTenant(owner, 'xs-b');
    for (const [tenant, count] of [
      [a, 23],
      [b, 3],
    ] as const) {
      await ownerInTenant(owner, tenant.id, async (c) => {
        for (let i = 0; i < count; i++) {
          await c.query(
            `INSERT INTO invoices (tenant_id, id, number, status, currency, customer_name, customer_email, customer_tax_id, total_minor, due_date, issued_at, created_at, created_by_id)
             VALUES ($1, $2, $3, $4, 'IDR', $5, $6, $7, $8, $9, $10, $11, $12)`,
            [
              tenant.id,
              randomUUID(),
              `XS-${i}-${randomUUID().slice(0, 8)}`,
              ['draft', 'issued', 'paid', 'void'][i % 4],
              ['PT "Maju", Tbk', '=HYPERLINK("x")', 'Baris\ndua', '-negatif', 'PT Biasa'][i % 5],
              i % 3 === 0 ? null : `ap${i}@contoh.test`,
              i % 2 === 0 ? null : '01.234.567.8-901.000',
              String(i % 6 === 0 ? 10n ** 15n + BigInt(i) : 1234n * BigInt(i)),
              i % 4 === 0 ? null : `20${10 + (i % 20)}-0${1 + (i % 9)}-1${i % 10}`,
              i % 5 === 0 ? null : new Date(Date.UTC(2026, i % 12, 1 + i, i % 24, i, i % 60, (i * 37) % 1000)),
              new Date(Date.UTC(2025, i % 12, 2, 3, 4, 5, i % 2 === 0 ? 0 : 999 - i)),
              tenant.users.owner.id,
            ],
          );
        }
      });
    }
  });

  async function file(readers: RowReaders, scope: Scope, format: 'csv' | 'jsonl', filters = {}, batch = 5): Promise<{ text: string; rows: number }> {
    const source = rowSource(readers, scope, scope.principal.kind === 'user' ? scope.principal.role : 'viewer', 'invoices', format, filters, neutralizeCell);
    let text = source.header();
    let rows = 0;
    for (;;) {
      const page = await source.next(batch);
      text += page.text;
      rows += page.count;
      if (page.count < batch) return { text, rows };
    }
  }

  it('writes the same bytes as the Prisma read, for every role, format and filter', async () => {
    for (const role of ['owner', 'member', 'viewer'] as const) {
      for (const format of ['csv', 'jsonl'] as const) {
        for (const filters of [{}, { status: 'issued' }, { createdFrom: '2025-03-02', createdTo: '2025-09-02' }]) {
          const raw = await file({ db, streams }, a.scope(role), format, filters);
          const viaPrisma = await file({ db, streams: prismaOnly }, a.scope(role), format, filters);
          expect(raw, `${role} ${format} ${JSON.stringify(filters)}`).toEqual(viaPrisma);
          expect(raw.rows).toBeGreaterThan(0);
        }
      }
    }
    expect((await file({ db, streams }, a.scope('owner'), 'csv')).rows).toBe(23);
  });

  it("reads only the scope tenant's rows", async () => {
    const { text } = await file({ db, streams }, a.scope('owner'), 'jsonl');
    const ids = text
      .trim()
      .split('\n')
      .map((l) => (JSON.parse(l) as { id: string }).id);
    const { rows } = await owner.query<{ id: string }>('SELECT id FROM invoices WHERE tenant_id = $1', [b.id]);
    expect(ids).toHaveLength(23);
    for (const r of rows) expect(ids).not.toContain(r.id);
  });

  it('is used only for a read condition that is the tenant alone; anything else is left to Prisma', async () => {
    const scope = a.scope('owner');
    const page = { columns: ['id'] as const, limit: 100 };
    expect(tenantOnly(accessibleWhere(scope.ability, 'read', 'Invoice'), a.id)).toBe(true);
    for (const where of [
      { OR: [{ tenantId: b.id }] },
      { OR: [{ tenantId: a.id }, { tenantId: b.id }] },
      { OR: [{ tenantId: a.id, status: 'issued' }] },
      { OR: [{ tenantId: a.id }], NOT: { status: 'void' } },
      { AND: [{ tenantId: a.id }, { createdById: a.users.owner.id }] },
      { OR: [] },
      { tenantId: { not: b.id } },
      {},
      null,
    ]) {
      expect(tenantOnly(where, a.id), `${JSON.stringify(where)}`).toBe(false);
      expect(await streams.invoicePage(scope, where, { ...page }), `${JSON.stringify(where)}`).toBeNull();
    }
    // A CASL rule with a condition beyond the tenant: the raw read refuses, Prisma applies it.
    const narrow = createPrismaAbility([{ action: 'read', subject: 'Invoice', conditions: { tenantId: a.id, status: 'issued' } as never }]) as unknown as AppAbility;
    const narrowScope = Scope.for(a.id, scope.principal, { forTenant: () => narrow });
    expect(await streams.invoicePage(narrowScope, accessibleWhere(narrow, 'read', 'Invoice'), { ...page })).toBeNull();
    const viaSource = await file({ db, streams }, narrowScope, 'jsonl');
    const statuses = new Set(
      viaSource.text
        .trim()
        .split('\n')
        .map((l) => (JSON.parse(l) as { status: string }).status),
    );
    expect([...statuses]).toEqual(['issued']);
  });
});

import { randomUUID } from 'node:crypto';
import { Writable } from 'node:stream';
import { createPrismaAbility } from '@casl/prisma/runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { accessibleWhere, type AppAbility } from '@benteng/authz';
import { loadConfig } from '@benteng/config';
import { ExportStreams, neutralizeCell, tenantOnly } from '@benteng/exports';
import { copyRows, rowSource, type RowReaders } from '../../libs/exports/src/export-rows.js';
import { CopyTextRecords } from '../../libs/exports/src/copy-text-records.js';
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

  /** What the worker's COPY path writes after the header (copyRows), collected as one string. */
  async function copied(scope: Scope, format: 'csv' | 'jsonl', filters = {}): Promise<{ text: string; rows: number | null }> {
    const parts: string[] = [];
    const sink = collect(parts);
    const rows = await copyRows(streams, scope, 'invoices', format, filters, neutralizeCell, sink);
    return { text: parts.join(''), rows };
  }

  function collect(parts: string[]): Writable {
    return new Writable({
      objectMode: true,
      write(text: string, _encoding, callback) {
        parts.push(text);
        callback();
      },
    });
  }

  it('streams the same bytes through COPY as the paged read, for every role, format and filter', async () => {
    for (const role of ['owner', 'member', 'viewer'] as const) {
      for (const format of ['csv', 'jsonl'] as const) {
        for (const filters of [{}, { status: 'issued' }, { createdFrom: '2025-03-02', createdTo: '2025-09-02' }]) {
          const paged = await file({ db, streams }, a.scope(role), format, filters);
          const source = rowSource({ db, streams }, a.scope(role), role, 'invoices', format, filters, neutralizeCell);
          const viaCopy = await copied(a.scope(role), format, filters);
          expect(source.header() + viaCopy.text, `${role} ${format} ${JSON.stringify(filters)}`).toBe(paged.text);
          expect(viaCopy.rows).toBe(paged.rows);
        }
      }
    }
    expect((await copied(a.scope('owner'), 'csv')).rows).toBe(23);
    // Tickets are not copied (their read rules go beyond the tenant): the paged read takes them.
    expect(await copyRows(streams, a.scope('owner'), 'tickets', 'csv', {}, neutralizeCell, collect([]))).toBeNull();
  });

  it('neutralises formula cells on the COPY stream through the guard it is given', async () => {
    const seen: string[] = [];
    const guard = (value: string) => {
      seen.push(value);
      return neutralizeCell(value);
    };
    const parts: string[] = [];
    await copyRows(streams, a.scope('owner'), 'invoices', 'csv', {}, guard, collect(parts));
    const text = parts.join('');
    expect(seen).toContain('=HYPERLINK("x")');
    expect(text).toContain(`"'=HYPERLINK(""x"")"`);
    expect(text).toContain(`'-negatif`);
    expect(text).not.toMatch(/(^|,)"?[=+\-@]/m);
  });

  it("COPY under the runtime role sees only the scope tenant's rows, even with the WHERE removed (RLS)", async () => {
    // No tenant condition at all in the SELECT: only the transaction's app.tenant_id and RLS.
    for (const [tenant, count] of [
      [a, 23],
      [b, 3],
    ] as const) {
      const parts: string[] = [];
      await streams.copy(tenant.scope('owner'), 'SELECT tenant_id::text, id::text FROM invoices', new CopyTextRecords('jsonl', ['tenantId', 'id'], neutralizeCell), collect(parts));
      const rows = parts
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { tenantId: string; id: string });
      expect(rows).toHaveLength(count);
      expect(new Set(rows.map((r) => r.tenantId))).toEqual(new Set([tenant.id]));
    }
    // The same SELECT as the table owner (no RLS for it) sees both tenants: the filter above is RLS's.
    const all = await owner.query<{ n: string }>('SELECT count(*)::text AS n FROM invoices WHERE tenant_id = ANY($1::uuid[])', [[a.id, b.id]]);
    expect(Number(all.rows[0]!.n)).toBe(26);
  });

  it('a failing sink ends the COPY and leaves the pooled connection usable, with no tenant setting', async () => {
    const failing = new Writable({
      objectMode: true,
      write(_text, _encoding, callback) {
        callback(new Error('sink failed'));
      },
    });
    await expect(copyRows(streams, a.scope('owner'), 'invoices', 'csv', {}, neutralizeCell, failing)).rejects.toThrow('sink failed');
    // The same pool (2 connections) still answers, in b's transaction with b's rows only.
    for (let i = 0; i < 3; i++) expect((await copied(b.scope('owner'), 'csv')).rows).toBe(3);
    const parts: string[] = [];
    await streams.copy(b.scope('owner'), "SELECT current_setting('app.tenant_id', true)", new CopyTextRecords('jsonl', ['t'], neutralizeCell), collect(parts));
    expect(JSON.parse(parts.join('').trim())).toEqual({ t: b.id });
  });

  it('a sink failing in the middle of a large COPY: the rest is read and dropped, and the same connection serves the next tenant', async () => {
    // ~20 MB of COPY output, far more than the socket buffers hold when the sink fails on its first write.
    const records = new CopyTextRecords('jsonl', ['pid', 'filler'], neutralizeCell);
    let failedPid: string | undefined;
    const failing = new Writable({
      objectMode: true,
      write(text: string, _encoding, callback) {
        failedPid ??= (JSON.parse(text.slice(0, text.indexOf('\n'))) as { pid: string }).pid;
        callback(new Error('sink failed mid-COPY'));
      },
    });
    await expect(streams.copy(a.scope('owner'), "SELECT pg_backend_pid()::text, repeat('x', 200) FROM generate_series(1, 100000)", records, failing)).rejects.toThrow('sink failed mid-COPY');
    expect(failedPid).toMatch(/^\d+$/);
    expect(records.rows).toBeLessThan(100_000);
    // The pool hands out its most recently released connection: the one whose COPY was cut, kept
    // (not dropped as broken) because its ROLLBACK succeeded, now in b's transaction with b's setting only.
    const parts: string[] = [];
    await streams.copy(b.scope('owner'), "SELECT pg_backend_pid()::text, current_setting('app.tenant_id', true)", new CopyTextRecords('jsonl', ['pid', 't'], neutralizeCell), collect(parts));
    expect(JSON.parse(parts.join('').trim())).toEqual({ pid: failedPid, t: b.id });
    expect((await copied(b.scope('owner'), 'csv')).rows).toBe(3);
  });

  it('a COPY that PostgreSQL fails mid-stream rejects with its error, and the connection serves the next tenant', async () => {
    const parts: string[] = [];
    // Division by zero at row 50,000, after megabytes of rows were sent.
    await expect(
      streams.copy(a.scope('owner'), "SELECT (1 / (g - 50000))::text, repeat('x', 200) FROM generate_series(1, 100000) g", new CopyTextRecords('jsonl', ['n', 'filler'], neutralizeCell), collect(parts)),
    ).rejects.toThrow('division by zero');
    expect(parts.length).toBeGreaterThan(0);
    const after: string[] = [];
    await streams.copy(b.scope('owner'), "SELECT current_setting('app.tenant_id', true)", new CopyTextRecords('jsonl', ['t'], neutralizeCell), collect(after));
    expect(JSON.parse(after.join('').trim())).toEqual({ t: b.id });
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

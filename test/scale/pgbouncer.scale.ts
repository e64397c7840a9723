import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { loadConfig, runtimeDatabaseUrl } from '@benteng/config';
import { projectRoot, TenantSqlPool } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { appPool, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';

/**
 * The runtime role through PgBouncer 1.18 in `pool_mode = transaction` (test/scale/support/
 * pgbouncer.ts: 4 server connections for the role, shared by every client of the run). What breaks
 * code written for a direct connection, shown on the real PgBouncer, and that Benteng's statement
 * paths do none of it (docs/scaling.md).
 */
const owner = ownerPool();
const admin = new pg.Pool({ connectionString: inject('pgbouncerAdminUrl'), max: 1 });
afterAll(() => admin.end());
let a: TestTenant;
let b: TestTenant;

/** The admin console's SHOW STATS row of the test database: transactions PgBouncer forwarded there. */
async function transactionsThroughBouncer(): Promise<number> {
  const database = new URL(process.env.DATABASE_URL!).pathname.slice(1);
  // The admin console speaks the simple query protocol only.
  const { rows } = await admin.query<{ database: string; total_xact_count: string }>({ text: 'SHOW STATS', queryMode: 'simple' } as pg.QueryConfig);
  return Number(rows.find((row) => row.database === database)?.total_xact_count ?? 0);
}

beforeAll(async () => {
  [a, b] = [await createTenant(owner, 'bouncer-a'), await createTenant(owner, 'bouncer-b')];
  for (let i = 0; i < 5; i++) await insertInvoice(owner, a.id, { createdById: a.users.owner.id });
  await insertInvoice(owner, b.id, { createdById: b.users.owner.id });
});

describe('PgBouncer in transaction mode', () => {
  it(`is the Debian PgBouncer (${inject('pgbouncerVersion')}) and the runtime URL of this run goes through it`, async () => {
    expect(inject('pgbouncerVersion')).toMatch(/^PgBouncer 1\.18\./);
    expect(runtimeDatabaseUrl(loadConfig())).toBe(inject('pgbouncerAppUrl'));
    const before = await transactionsThroughBouncer();
    const { db } = tenantDatabase();
    await db.run(Scope.for(a.id, { kind: 'system', name: 'jobs' }), (tx) => tx.invoice.count());
    expect(await transactionsThroughBouncer()).toBeGreaterThan(before);
  });

  it('breaks a named prepared statement once a client gets another server connection: why Benteng uses none', async () => {
    // 8 clients, 4 server connections: a statement prepared in one transaction is on a server
    // connection the client does not get back for the next.
    const pool = appPool(8);
    const errors = new Set<string>();
    await Promise.all(
      Array.from({ length: 40 }, async () => {
        try {
          await pool.query({ name: 'probe_named', text: 'SELECT $1::int AS n', values: [1] });
        } catch (error) {
          errors.add((error as Error).message);
        }
      }),
    );
    expect([...errors].some((message) => /prepared statement "probe_named" (does not exist|already exists)/.test(message))).toBe(true);
  });

  it('gives a session-level advisory lock to whoever gets the server connection next: why the migrator (pg_advisory_lock) uses DATABASE_URL, direct', async () => {
    const key = 7_019_019;
    const holder = appPool(1);
    const others = appPool(8);
    expect((await holder.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])).rows[0]!.ok).toBe(true);
    try {
      // Through PgBouncer the lock belongs to a server session, not to `holder`: a client that is
      // lent that server connection "holds" it too and takes it again.
      const tries = await Promise.all(Array.from({ length: 24 }, async () => (await others.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [key])).rows[0]!.ok));
      expect(tries.some(Boolean)).toBe(true);
    } finally {
      // Best effort: release it through PgBouncer for a while (no server connection is killed,
      // other spec files keep theirs). A lock on this key that stays harms nothing and ends with
      // PgBouncer at the end of the run.
      const held = async () => Number((await owner.query<{ n: string }>("SELECT count(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND objid = $1", [key])).rows[0]!.n);
      const until = Date.now() + 3_000;
      while (Date.now() < until && (await held()) > 0) await Promise.all([holder, others].map((pool) => pool.query('SELECT pg_advisory_unlock_all()')));
    }
    // The migrator connects with ownerDatabaseUrl (DATABASE_URL), which this run keeps direct.
    expect(new URL(process.env.DATABASE_URL!).port).not.toBe(new URL(inject('pgbouncerAppUrl')).port);
  });

  it('names no prepared statement and LISTENs nowhere in the code that talks to PostgreSQL (pg `name:`, Prisma statementNameGenerator, LISTEN)', () => {
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const entry of readdirSync(dir)) {
        const path = join(dir, entry);
        if (entry === 'generated' || entry === 'node_modules') continue;
        if (statSync(path).isDirectory()) walk(path);
        else if (path.endsWith('.ts') && !path.endsWith('.spec.ts')) {
          const text = readFileSync(path, 'utf8');
          // Nor LISTEN (a notification goes to the server session, which PgBouncer lends to others).
          if (/query\(\s*\{[^}]*\bname:/s.test(text) || text.includes('statementNameGenerator') || /\bLISTEN\s+\w/.test(text)) offenders.push(path);
        }
      }
    };
    for (const dir of ['libs', 'apps']) walk(join(projectRoot(), dir));
    expect(offenders).toEqual([]);
  });

  it('hands a session-level setting to the next client of the server connection; the tenant setting is transaction-local and does not leak', async () => {
    const pool = appPool(1);
    const other = appPool(8);
    const client = await pool.connect();
    try {
      // A session-level set_config (is_local = false) survives on the server connection...
      await client.query("SELECT set_config('app.scale_probe', 'leaked', false)");
    } finally {
      client.release();
    }
    // ...and other clients, lent that server connection (8 clients at once over 4 server
    // connections: each of them serves some), see it.
    const probes = await Promise.all(Array.from({ length: 40 }, () => other.query<{ v: string | null }>("SELECT current_setting('app.scale_probe', true) AS v, pg_sleep(0.01)")));
    const seen = new Set(probes.map((r) => r.rows[0]!.v ?? ''));
    expect(seen.has('leaked')).toBe(true);

    // The app's tenant setting (set_config(…, true) in its transaction) is gone after COMMIT: no
    // client ever sees a tenant outside its own transaction, on any of the 4 server connections.
    const { db } = tenantDatabase(8);
    await Promise.all(Array.from({ length: 24 }, (_, i) => db.run(Scope.for((i % 2 ? a : b).id, { kind: 'system', name: 'jobs' }), (tx) => tx.invoice.count())));
    const after = await Promise.all(Array.from({ length: 16 }, () => other.query<{ v: string | null }>("SELECT current_setting('app.tenant_id', true) AS v")));
    expect(after.map((r) => r.rows[0]!.v ?? '')).toEqual(after.map(() => ''));
  });

  it('keeps every tenant to its own rows under concurrency, through Prisma (TenantDatabase) and raw pg (TenantSqlPool)', async () => {
    const { db } = tenantDatabase(10);
    const sql = new TenantSqlPool({ connectionString: () => runtimeDatabaseUrl(loadConfig()), max: 6, applicationName: 'benteng-scale' });
    try {
      const runs = await Promise.all(
        Array.from({ length: 60 }, async (_, i) => {
          const tenant = i % 2 ? a : b;
          const scope = Scope.for(tenant.id, { kind: 'system', name: 'jobs' });
          const rows =
            i % 3 === 0
              ? await sql.run(scope, async (client) => (await client.query<{ tenant_id: string }>('SELECT tenant_id FROM invoices')).rows.map((r) => r.tenant_id))
              : (await db.run(scope, (tx) => tx.invoice.findMany({ select: { tenantId: true } }))).map((r) => r.tenantId);
          return { tenant, rows };
        }),
      );
      for (const { tenant, rows } of runs) {
        expect(rows.length).toBe(tenant === a ? 5 : 1);
        expect(new Set(rows)).toEqual(new Set([tenant.id]));
      }
    } finally {
      await sql.end();
    }
  });

  it('reads through the tenant read function (one statement, unnamed) keep every tenant to its own row, and leave no tenant on any server connection', async () => {
    const { db } = tenantDatabase(8);
    const other = appPool(8);
    const ids = new Map<string, string>();
    for (const tenant of [a, b]) {
      const { rows } = await owner.query<{ id: string }>('SELECT id FROM invoices WHERE tenant_id = $1 LIMIT 1', [tenant.id]);
      ids.set(tenant.id, rows[0]!.id);
    }
    const runs = await Promise.all(
      Array.from({ length: 120 }, async (_, i) => {
        const asked = i % 2 ? a : b;
        const owning = i % 5 === 0 ? (asked === a ? b : a) : asked;
        const rows = await db.readThrough({ tenantId: asked.id }, (client, tid) => client.$queryRaw<{ tenantId: string }[]>`SELECT "tenantId" FROM tenant_invoice_by_id(${tid}::uuid, ${ids.get(owning.id)!}::uuid)`);
        return { asked, owning, rows };
      }),
    );
    for (const { asked, owning, rows } of runs) expect(rows.map((r) => r.tenantId)).toEqual(asked === owning ? [asked.id] : []);
    const after = await Promise.all(Array.from({ length: 16 }, () => other.query<{ v: string | null }>("SELECT current_setting('app.tenant_id', true) AS v")));
    expect(after.map((r) => r.rows[0]!.v ?? '')).toEqual(after.map(() => ''));
  });

  it('writes within the tenant and rolls back a failed transaction without leaving anything on the server connection', async () => {
    const { db } = tenantDatabase(4);
    const scope = Scope.for(a.id, { kind: 'system', name: 'jobs' });
    const count = () => db.run(scope, (tx) => tx.invoice.count());
    const before = await count();
    await expect(
      db.run(scope, async (tx) => {
        await tx.invoice.updateMany({ data: { customerName: 'rolled back' } });
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await db.run(scope, (tx) => tx.invoice.count({ where: { customerName: 'rolled back' } }))).toBe(0);
    await db.run(scope, (tx) => tx.invoice.updateMany({ data: { customerName: 'PT Scale' } }));
    expect(await db.run(scope, (tx) => tx.invoice.count({ where: { customerName: 'PT Scale' } }))).toBe(before);
    // Tenant B's row is untouched: the update ran under A's setting and RLS.
    expect(await db.run(Scope.for(b.id, { kind: 'system', name: 'jobs' }), (tx) => tx.invoice.count({ where: { customerName: 'PT Scale' } }))).toBe(0);
  });
});

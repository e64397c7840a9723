// Transaction granularity benchmark: one tenant transaction per repository call (what
// TenantDatabase.run does today) versus one per request, with a no-transaction, no-RLS baseline.
// The figures and the decision are in docs/decisions/0001-transaction-granularity.md.
//
//   DATABASE_URL=postgresql://postgres@127.0.0.1:5432/benteng_bench \
//     node_modules/.bin/node apps/dev/run.mjs bench/transaction-granularity.js
// (apps/dev/run.mjs builds, then runs dist/bench/transaction-granularity.js.)
//
// DATABASE_URL names the owner (migration) database. It must be on a loopback host and its name
// must end in `_bench`: the benchmark migrates it and seeds 10 tenants x 2,000 invoices into it.
// BENCH_FRESH_DB=1 drops and recreates that database first (needed when an applied migration changed).
// Tunables (environment): BENCH_ROUNDS (3), BENCH_ROUND_MS (4000), BENCH_WARMUP_MS (1000),
// BENCH_CONCURRENCY (64), BENCH_THINK_MS ("5,25": the non-DB pause between two reads, one set of
// scenarios per value); the pool size is DATABASE_POOL_MAX (10, the app's default).
// Results: a table on stdout and bench/results/transaction-granularity.json.
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { accessibleWhere } from '@benteng/authz';
import { loadConfig, ownerDatabaseUrl, runtimeDatabaseUrl } from '@benteng/config';
import { createRuntimeClient, migrateDatabase, projectRoot, recreateDatabase, type RuntimeClient, type TenantTx } from '@benteng/database';
import { Scope } from '@benteng/tenancy';

// ---------------------------------------------------------------------------------------------
// Settings

function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer between ${min} and ${max}`);
  return value;
}

const TENANTS = 10;
const INVOICES_PER_TENANT = 2_000;
const LINES_PER_INVOICE = 2;
const MEMBERS_PER_TENANT = 5;
const LIST_PAGE = 20;
const ROUNDS = intFromEnv('BENCH_ROUNDS', 3, 1, 10);
const ROUND_MS = intFromEnv('BENCH_ROUND_MS', 4_000, 500, 30_000);
const WARMUP_MS = intFromEnv('BENCH_WARMUP_MS', 1_000, 0, 10_000);
const CONCURRENCY = intFromEnv('BENCH_CONCURRENCY', 64, 1, 512);
const THINK_MS = thinkListFromEnv('BENCH_THINK_MS', [5, 25]);
/** Safety bound on requests per virtual user per round, so no loop can run away. */
const MAX_REQUESTS_PER_WORKER = 200_000;

function thinkListFromEnv(name: string, fallback: number[]): number[] {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const values = raw.split(',').map((v) => Number(v.trim()));
  if (values.length > 3 || values.some((v) => !Number.isInteger(v) || v < 1 || v > 200)) throw new Error(`${name} must list up to 3 integers between 1 and 200`);
  return values;
}

// ---------------------------------------------------------------------------------------------
// Data set

interface BenchTenant {
  id: string;
  slug: string;
  ownerUserId: string;
  userIds: string[];
  invoiceIds: string[];
}

/** A UUIDv7 for millisecond `ms` (the app's ids are UUIDv7 too, so `ORDER BY id` is creation order). */
function uuidv7(ms: number): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = (bytes[6]! & 0x0f) | 0x70;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

const slugOf = (index: number): string => `bench-t${String(index + 1).padStart(2, '0')}`;

/**
 * Seeds the data set through the owner connection, once: a later run finds it complete and only
 * reads it back. An incomplete data set (an interrupted seed) is removed and seeded again. Each
 * tenant is written in its own transaction with `app.tenant_id` set, as the test factories do, so
 * the seed also works for an owner role that is not a superuser (FORCE RLS).
 */
async function seed(owner: pg.Pool, log: (line: string) => void): Promise<BenchTenant[]> {
  const slugs = Array.from({ length: TENANTS }, (_, i) => slugOf(i));
  const existing = await owner.query<{ id: string; slug: string; invoices: string; lines: string; members: string }>(
    `SELECT t.id, t.slug,
            (SELECT count(*) FROM invoices i WHERE i.tenant_id = t.id) AS invoices,
            (SELECT count(*) FROM invoice_lines l WHERE l.tenant_id = t.id) AS lines,
            (SELECT count(*) FROM memberships m WHERE m.tenant_id = t.id) AS members
       FROM tenants t WHERE t.slug = ANY($1::text[])`,
    [slugs],
  );
  const complete =
    existing.rows.length === TENANTS &&
    existing.rows.every(
      (r) => Number(r.invoices) === INVOICES_PER_TENANT && Number(r.lines) === INVOICES_PER_TENANT * LINES_PER_INVOICE && Number(r.members) === MEMBERS_PER_TENANT,
    );

  if (!complete) {
    for (const row of existing.rows) await removeTenant(owner, row.id);
    await owner.query(`DELETE FROM users WHERE email LIKE 'user%@bench-t%.example.test' AND NOT EXISTS (SELECT 1 FROM memberships m WHERE m.user_id = users.id)`);
    const started = performance.now();
    for (const slug of slugs) await seedTenant(owner, slug);
    log(`seeded ${TENANTS} tenants x ${INVOICES_PER_TENANT} invoices x ${LINES_PER_INVOICE} lines in ${((performance.now() - started) / 1000).toFixed(1)} s`);
    await owner.query('ANALYZE tenants, users, memberships, invoices, invoice_lines');
  } else {
    log('data set already seeded');
  }

  const tenants: BenchTenant[] = [];
  for (const slug of slugs) {
    const tenant = await owner.query<{ id: string }>('SELECT id FROM tenants WHERE slug = $1', [slug]);
    const id = tenant.rows[0]!.id;
    const members = await owner.query<{ user_id: string; role: string }>('SELECT user_id, role FROM memberships WHERE tenant_id = $1 ORDER BY role, user_id', [id]);
    const invoices = await owner.query<{ id: string }>('SELECT id FROM invoices WHERE tenant_id = $1', [id]);
    tenants.push({
      id,
      slug,
      ownerUserId: members.rows.find((m) => m.role === 'owner')!.user_id,
      userIds: members.rows.map((m) => m.user_id),
      invoiceIds: invoices.rows.map((r) => r.id),
    });
  }
  return tenants;
}

async function inTenantTransaction(owner: pg.Pool, tenantId: string, work: (client: pg.PoolClient) => Promise<void>): Promise<void> {
  const client = await owner.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
    await work(client);
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

async function removeTenant(owner: pg.Pool, tenantId: string): Promise<void> {
  await inTenantTransaction(owner, tenantId, async (client) => {
    await client.query('DELETE FROM invoice_lines WHERE tenant_id = $1', [tenantId]);
    await client.query('DELETE FROM invoices WHERE tenant_id = $1', [tenantId]);
    await client.query('DELETE FROM memberships WHERE tenant_id = $1', [tenantId]);
    await client.query('DELETE FROM tenants WHERE id = $1', [tenantId]);
  });
}

async function seedTenant(owner: pg.Pool, slug: string): Promise<void> {
  const tenantId = uuidv7(Date.now());
  const users = Array.from({ length: MEMBERS_PER_TENANT }, (_, i) => ({
    id: uuidv7(Date.now()),
    email: `user${i + 1}@${slug}.example.test`,
    role: i === 0 ? 'owner' : i === 1 ? 'admin' : 'member',
  }));
  // Invoices one second apart, oldest first, so their UUIDv7 ids sort by creation time.
  const base = Date.now() - INVOICES_PER_TENANT * 1000;
  const invoiceIds = Array.from({ length: INVOICES_PER_TENANT }, (_, i) => uuidv7(base + i * 1000));
  const createdAt = invoiceIds.map((_, i) => new Date(base + i * 1000).toISOString());
  const numbers = invoiceIds.map((_, i) => `INV-${String(i + 1).padStart(6, '0')}`);
  const statuses = invoiceIds.map((_, i) => ['draft', 'issued', 'paid', 'void'][i % 4]!);
  const lineIds = invoiceIds.flatMap((_, i) => Array.from({ length: LINES_PER_INVOICE }, () => uuidv7(base + i * 1000)));
  const lineInvoiceIds = invoiceIds.flatMap((id) => Array.from({ length: LINES_PER_INVOICE }, () => id));
  const linePositions = invoiceIds.flatMap(() => Array.from({ length: LINES_PER_INVOICE }, (_, p) => p + 1));

  await inTenantTransaction(owner, tenantId, async (client) => {
    await client.query('INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3)', [tenantId, slug, `Bench ${slug}`]);
    for (const user of users) {
      await client.query('INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)', [user.id, user.email, user.email]);
      await client.query('INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, $4::membership_role)', [tenantId, uuidv7(Date.now()), user.id, user.role]);
    }
    await client.query(
      `INSERT INTO invoices (tenant_id, id, number, status, customer_name, customer_email, total_minor, created_by_id, created_at, updated_at)
       SELECT $1, id, number, status::invoice_status, 'PT Contoh ' || number, 'billing@contoh.test', ${1000 * LINES_PER_INVOICE}, $2, created_at, created_at
         FROM unnest($3::uuid[], $4::text[], $5::text[], $6::timestamptz[]) AS s(id, number, status, created_at)`,
      [tenantId, users[0]!.id, invoiceIds, numbers, statuses, createdAt],
    );
    await client.query(
      `INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, description, quantity, unit_price_minor, amount_minor)
       SELECT $1, id, invoice_id, position, 'Item ' || position, 1, 1000, 1000
         FROM unnest($2::uuid[], $3::uuid[], $4::int[]) AS s(id, invoice_id, position)`,
      [tenantId, lineIds, lineInvoiceIds, linePositions],
    );
  });
}

// ---------------------------------------------------------------------------------------------
// The simulated request: three repository reads

interface Target {
  tenantId: string;
  scope: Scope;
  userId: string;
  invoiceId: string;
}

/** The reads take a tenant transaction client (modes A, B) or the owner client (baseline C). */
type Reader = Pick<TenantTx, 'invoice' | 'membership'>;
type Filter = 'casl' | 'explicit';

/** Mirrors InvoicesRepository.findById: CASL where + id, lines included. */
async function readInvoice(db: Reader, t: Target, filter: Filter): Promise<number> {
  const tenantCondition = filter === 'casl' ? accessibleWhere(t.scope.ability, 'read', 'Invoice') : { tenantId: t.tenantId };
  const invoice = await db.invoice.findFirst({
    where: { AND: [tenantCondition, { id: t.invoiceId }] },
    include: { lines: { orderBy: { position: 'asc' } } },
  });
  if (invoice === null) throw new Error('invoice not found: the tenant setting or filter is wrong');
  return 1;
}

/** Mirrors InvoicesRepository.list: first page of 20, newest first, lines included. */
async function listInvoices(db: Reader, t: Target, filter: Filter): Promise<number> {
  const tenantCondition = filter === 'casl' ? accessibleWhere(t.scope.ability, 'read', 'Invoice') : { tenantId: t.tenantId };
  const page = await db.invoice.findMany({
    where: { AND: [tenantCondition] },
    include: { lines: { orderBy: { position: 'asc' } } },
    orderBy: { id: 'desc' },
    take: LIST_PAGE,
  });
  if (page.length !== LIST_PAGE) throw new Error(`list returned ${page.length} invoices, expected ${LIST_PAGE}`);
  return page.length;
}

/** The acting user's membership (what a guard or service reads to confirm the role). */
async function readMembership(db: Reader, t: Target, filter: Filter): Promise<number> {
  const tenantCondition = filter === 'casl' ? accessibleWhere(t.scope.ability, 'read', 'Membership') : { tenantId: t.tenantId };
  const membership = await db.membership.findFirst({
    where: { AND: [tenantCondition, { userId: t.userId }] },
    select: { id: true, role: true, userId: true },
  });
  if (membership === null) throw new Error('membership not found: the tenant setting or filter is wrong');
  return 1;
}

const READS = [readInvoice, listInvoices, readMembership] as const;

/** What one request records about the transactions it ran. */
interface TxRecorder {
  /** $transaction() called -> callback entered: pool wait + connect + BEGIN round trip. */
  startWaits: number[];
  /** Callback entered -> $transaction() resolved (COMMIT done, connection released): the hold. */
  holdMs: number;
  transactions: number;
}

/**
 * The same statements as TenantDatabase.run (BEGIN; set_config(..., true); work; COMMIT), with
 * timestamps around them. TenantDatabase itself cannot be timed from outside without changing it.
 */
async function tenantTransaction<T>(client: RuntimeClient, tenantId: string, rec: TxRecorder, work: (tx: TenantTx) => Promise<T>): Promise<T> {
  const called = performance.now();
  let entered = called;
  const result = await client.$transaction(async (tx) => {
    entered = performance.now();
    await tx.$executeRaw`SELECT set_config('app.tenant_id', ${tenantId}, true)`;
    return work(tx);
  });
  rec.startWaits.push(entered - called);
  rec.holdMs += performance.now() - entered;
  rec.transactions++;
  return result;
}

interface Scenario {
  key: string;
  label: string;
  mode: 'per-call' | 'per-request' | 'baseline';
  thinkMs: number;
  /** Round trips per request, counted from the SQL Prisma sends (see docs/decisions/0001). */
  roundTrips: number;
  run(t: Target, rec: TxRecorder): Promise<void>;
}

function scenarios(runtime: RuntimeClient, owner: RuntimeClient): Scenario[] {
  const make = (thinkMs: number, withBaseline: boolean): Scenario[] => {
    const suffix = thinkMs > 0 ? ` +${READS.length - 1}x${thinkMs}ms` : '';
    const pause = async (i: number) => {
      if (thinkMs > 0 && i > 0) await sleep(thinkMs);
    };
    const all: Scenario[] = [
      {
        key: `A-per-call${thinkMs ? `-think${thinkMs}` : ''}`,
        label: `A per call${suffix}`,
        mode: 'per-call',
        thinkMs,
        // 3 x (BEGIN, set_config, COMMIT) + 5 reads (each include is a second query).
        roundTrips: 14,
        async run(t, rec) {
          for (let i = 0; i < READS.length; i++) {
            await pause(i);
            await tenantTransaction(runtime, t.tenantId, rec, (tx) => READS[i]!(tx, t, 'casl'));
          }
        },
      },
      {
        key: `B-per-request${thinkMs ? `-think${thinkMs}` : ''}`,
        label: `B per request${suffix}`,
        mode: 'per-request',
        thinkMs,
        roundTrips: 8,
        async run(t, rec) {
          await tenantTransaction(runtime, t.tenantId, rec, async (tx) => {
            for (let i = 0; i < READS.length; i++) {
              await pause(i);
              await READS[i]!(tx, t, 'casl');
            }
          });
        },
      },
      {
        key: `C-baseline${thinkMs ? `-think${thinkMs}` : ''}`,
        label: `C baseline${suffix}`,
        mode: 'baseline',
        thinkMs,
        roundTrips: 5,
        async run(t) {
          for (let i = 0; i < READS.length; i++) {
            await pause(i);
            await READS[i]!(owner, t, 'explicit');
          }
        },
      },
    ];
    return withBaseline ? all : all.filter((s) => s.mode !== 'baseline');
  };
  // The baseline runs without pauses only: it is the ceiling, and leaving it out of the pause
  // scenarios keeps the whole run under two minutes.
  return [...make(0, true), ...THINK_MS.flatMap((think) => make(think, false))];
}

// ---------------------------------------------------------------------------------------------
// Driver

interface RoundResult {
  requests: number;
  errors: number;
  elapsedMs: number;
  rps: number;
  latencies: number[];
  startWaits: number[];
  holdPerRequest: number[];
  holdTotalMs: number;
  transactions: number;
  benchCpuPct: number;
  benchCpuMs: number;
  /** CPU time of the PostgreSQL backends serving the benchmark's pools, or null when unreadable. */
  postgresCpuMs: number | null;
  hostCpuPct: number;
  firstError?: string;
}

/**
 * CPU time (ms) of the PostgreSQL backends the benchmark's clients use (application_name
 * `benteng`), read from /proc/<pid>/stat; only possible because the server is on this machine.
 * Returns null where /proc is unavailable. Assumes the usual USER_HZ of 100.
 */
class PostgresCpuSampler {
  constructor(private readonly monitor: pg.Pool) {}

  async sample(): Promise<Map<number, number> | null> {
    const { rows } = await this.monitor.query<{ pid: number }>(
      "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'benteng'",
    );
    const result = new Map<number, number>();
    for (const { pid } of rows) {
      try {
        const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        // Fields after the command name start at field 3; utime and stime are fields 14 and 15.
        result.set(pid, ((Number(fields[11]) + Number(fields[12])) * 1000) / 100);
      } catch {
        return null;
      }
    }
    return result;
  }

  static delta(before: Map<number, number> | null, after: Map<number, number> | null): number | null {
    if (!before || !after) return null;
    let total = 0;
    for (const [pid, ms] of after) total += ms - (before.get(pid) ?? 0);
    return total;
  }
}

function hostCpuTimes(): { busy: number; total: number } {
  let busy = 0;
  let total = 0;
  for (const cpu of os.cpus()) {
    const t = cpu.times;
    const all = t.user + t.nice + t.sys + t.idle + t.irq;
    total += all;
    busy += all - t.idle;
  }
  return { busy, total };
}

async function runRound(scenario: Scenario, tenants: BenchTenant[], scopes: Map<string, Scope>, durationMs: number, pgCpu: PostgresCpuSampler): Promise<RoundResult> {
  const latencies: number[] = [];
  const startWaits: number[] = [];
  const holdPerRequest: number[] = [];
  let holdTotalMs = 0;
  let transactions = 0;
  let errors = 0;
  let firstError: string | undefined;

  const pg0 = await pgCpu.sample();
  const cpu0 = process.cpuUsage();
  const host0 = hostCpuTimes();
  const started = performance.now();
  const deadline = started + durationMs;

  const virtualUser = async (): Promise<void> => {
    for (let n = 0; n < MAX_REQUESTS_PER_WORKER && performance.now() < deadline; n++) {
      const tenant = tenants[Math.floor(Math.random() * tenants.length)]!;
      const target: Target = {
        tenantId: tenant.id,
        scope: scopes.get(tenant.id)!,
        userId: tenant.userIds[Math.floor(Math.random() * tenant.userIds.length)]!,
        invoiceId: tenant.invoiceIds[Math.floor(Math.random() * tenant.invoiceIds.length)]!,
      };
      const rec: TxRecorder = { startWaits, holdMs: 0, transactions: 0 };
      const begun = performance.now();
      try {
        await scenario.run(target, rec);
        latencies.push(performance.now() - begun);
        if (rec.transactions > 0) holdPerRequest.push(rec.holdMs);
      } catch (error) {
        errors++;
        firstError ??= (error as Error).message.split('\n').slice(-3).join(' ').slice(0, 300);
      }
      holdTotalMs += rec.holdMs;
      transactions += rec.transactions;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, virtualUser));

  const elapsedMs = performance.now() - started;
  const cpu = process.cpuUsage(cpu0);
  const host1 = hostCpuTimes();
  const pg1 = await pgCpu.sample();
  return {
    requests: latencies.length,
    errors,
    elapsedMs,
    rps: latencies.length / (elapsedMs / 1000),
    latencies,
    startWaits,
    holdPerRequest,
    holdTotalMs,
    transactions,
    benchCpuPct: ((cpu.user + cpu.system) / 1000 / elapsedMs) * 100,
    benchCpuMs: (cpu.user + cpu.system) / 1000,
    postgresCpuMs: PostgresCpuSampler.delta(pg0, pg1),
    hostCpuPct: ((host1.busy - host0.busy) / Math.max(1, host1.total - host0.total)) * 100,
    ...(firstError ? { firstError } : {}),
  };
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

function sortedOf(values: number[][]): Float64Array {
  const all = Float64Array.from(values.flat());
  return all.sort();
}

const median = (values: number[]): number => {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
const mean = (values: number[]): number => (values.length ? values.reduce((a, b) => a + b, 0) / values.length : Number.NaN);
const round1 = (n: number): number => Math.round(n * 10) / 10;
const round2 = (n: number): number => Math.round(n * 100) / 100;

function summarise(scenario: Scenario, rounds: RoundResult[], poolMax: number) {
  const lat = sortedOf(rounds.map((r) => r.latencies));
  const waits = sortedOf(rounds.map((r) => r.startWaits));
  const holds = rounds.flatMap((r) => r.holdPerRequest);
  const requests = rounds.reduce((a, r) => a + r.requests, 0);
  const transactions = rounds.reduce((a, r) => a + r.transactions, 0);
  const hasTx = transactions > 0;
  return {
    key: scenario.key,
    label: scenario.label,
    mode: scenario.mode,
    thinkMsBetweenReads: scenario.thinkMs,
    transactionsPerRequest: hasTx ? round2(transactions / Math.max(1, requests + rounds.reduce((a, r) => a + r.errors, 0))) : 0,
    roundTripsPerRequest: scenario.roundTrips,
    requestsPerSecond: {
      median: round1(median(rounds.map((r) => r.rps))),
      min: round1(Math.min(...rounds.map((r) => r.rps))),
      max: round1(Math.max(...rounds.map((r) => r.rps))),
      rounds: rounds.map((r) => round1(r.rps)),
    },
    latencyMs: {
      p50: round2(percentile(lat, 0.5)),
      p90: round2(percentile(lat, 0.9)),
      p99: round2(percentile(lat, 0.99)),
      max: round2(lat.length ? lat[lat.length - 1]! : Number.NaN),
      mean: round2(lat.length ? lat.reduce((a, b) => a + b, 0) / lat.length : Number.NaN),
    },
    transactionStartWaitMs: hasTx ? { p50: round2(percentile(waits, 0.5)), p99: round2(percentile(waits, 0.99)) } : null,
    connectionHoldPerRequestMs: hasTx ? round2(mean(holds)) : null,
    /**
     * Share of the pool's connection time spent inside transaction callbacks (hold / (elapsed x
     * pool)). A lower bound: the hold starts after the pool wait, connect and BEGIN.
     */
    poolBusyPct: hasTx ? round1(median(rounds.map((r) => (r.holdTotalMs / (r.elapsedMs * poolMax)) * 100))) : null,
    benchProcessCpuPct: round1(median(rounds.map((r) => r.benchCpuPct))),
    /** Node CPU time per completed request: robust to other load on the machine, unlike req/s. */
    nodeCpuMsPerRequest: round2(rounds.reduce((a, r) => a + r.benchCpuMs, 0) / Math.max(1, requests)),
    postgresCpuMsPerRequest: rounds.every((r) => r.postgresCpuMs !== null)
      ? round2(rounds.reduce((a, r) => a + (r.postgresCpuMs ?? 0), 0) / Math.max(1, requests))
      : null,
    hostCpuPct: round1(median(rounds.map((r) => r.hostCpuPct))),
    requests,
    errors: rounds.reduce((a, r) => a + r.errors, 0),
    firstError: rounds.find((r) => r.firstError)?.firstError ?? null,
  };
}

type Summary = ReturnType<typeof summarise>;

function printTable(rows: Summary[]): void {
  const headers = ['scenario', 'tx/req', 'RT/req', 'req/s med [min-max]', 'p50 ms', 'p99 ms', 'tx start p50/p99 ms', 'hold/req ms', 'pool busy', 'node CPU ms/req', 'PG CPU ms/req', 'host CPU', 'errors'];
  const dash = '-';
  const lines = rows.map((r) => [
    r.label,
    String(r.transactionsPerRequest),
    String(r.roundTripsPerRequest),
    `${r.requestsPerSecond.median.toFixed(0)} [${r.requestsPerSecond.min.toFixed(0)}-${r.requestsPerSecond.max.toFixed(0)}]`,
    r.latencyMs.p50.toFixed(1),
    r.latencyMs.p99.toFixed(1),
    r.transactionStartWaitMs ? `${r.transactionStartWaitMs.p50.toFixed(2)} / ${r.transactionStartWaitMs.p99.toFixed(1)}` : dash,
    r.connectionHoldPerRequestMs === null ? dash : r.connectionHoldPerRequestMs.toFixed(2),
    r.poolBusyPct === null ? dash : `${r.poolBusyPct.toFixed(0)}%`,
    r.nodeCpuMsPerRequest.toFixed(2),
    r.postgresCpuMsPerRequest === null ? dash : r.postgresCpuMsPerRequest.toFixed(2),
    `${r.hostCpuPct.toFixed(0)}%`,
    String(r.errors),
  ]);
  const widths = headers.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => `| ${cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ')} |`;
  process.stdout.write(`${fmt(headers)}\n|${widths.map((w, i) => (i === 0 ? `:${'-'.repeat(w + 1)}` : `${'-'.repeat(w + 1)}:`)).join('|')}|\n`);
  for (const line of lines) process.stdout.write(`${fmt(line)}\n`);
}

// ---------------------------------------------------------------------------------------------
// Main

function assertSafeTarget(url: string): void {
  const parsed = new URL(url);
  const host = parsed.hostname.replace(/^\[|\]$/g, '');
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Error('DATABASE_URL must point at a loopback host (127.0.0.1): the benchmark drives real load');
  const database = decodeURIComponent(parsed.pathname.slice(1));
  if (!database.endsWith('_bench')) throw new Error('DATABASE_URL must name a database ending in _bench: the benchmark seeds 20,000 invoices into it');
}

async function main(): Promise<void> {
  const log = (line: string) => process.stdout.write(`bench ${line}\n`);
  const loadAtStart = os.loadavg().map(round2);
  const config = loadConfig();
  const ownerUrl = ownerDatabaseUrl(config);
  assertSafeTarget(ownerUrl);
  const runtimeUrl = runtimeDatabaseUrl(config);
  assertSafeTarget(runtimeUrl);
  const poolMax = config.DATABASE_POOL_MAX;

  // BENCH_FRESH_DB=1: drop and recreate the disposable `_bench` database, e.g. after a migration changed.
  if (process.env.BENCH_FRESH_DB === '1') {
    await recreateDatabase(ownerUrl);
    log('recreated the bench database');
  }
  const migrated = await migrateDatabase(config, (line) => log(`migrate: ${line}`)).catch((error: unknown) => {
    throw new Error(`${(error as Error).message} (the _bench database is disposable: rerun with BENCH_FRESH_DB=1 to recreate it)`);
  });
  log(`migrations: ${migrated.applied.length} applied, ${migrated.alreadyApplied.length} already applied`);

  const ownerPool = new pg.Pool({ connectionString: ownerUrl, max: 2, application_name: 'benteng-bench-seed' });
  const monitor = new pg.Pool({ connectionString: ownerUrl, max: 1, application_name: 'benteng-bench-monitor' });
  const pgCpu = new PostgresCpuSampler(monitor);
  const runtime = createRuntimeClient(runtimeUrl, poolMax);
  const owner = createRuntimeClient(ownerUrl, poolMax);
  try {
    const tenants = await seed(ownerPool, log);
    const serverVersion = (await ownerPool.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
    const ownerRole = (await ownerPool.query<{ rolsuper: boolean }>('SELECT rolsuper FROM pg_roles WHERE rolname = current_user')).rows[0]!;
    await ownerPool.end();

    // Scopes are built once per tenant (an owner principal): building the CASL ability is the
    // same work in every mode and is not what this benchmark compares.
    const scopes = new Map(tenants.map((t) => [t.id, Scope.for(t.id, { kind: 'user', userId: t.ownerUserId, role: 'owner' })]));

    // Sanity: the runtime role really is under RLS, and the tenant setting is what lets it read.
    const role = await runtime.$queryRaw<{ rolsuper: boolean; rolbypassrls: boolean }[]>`SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user`;
    if (role[0]?.rolsuper || role[0]?.rolbypassrls) throw new Error('the runtime role bypasses RLS; the benchmark would measure the wrong thing');
    const unscoped = await runtime.invoice.count();
    const probe: TxRecorder = { startWaits: [], holdMs: 0, transactions: 0 };
    const scoped = await tenantTransaction(runtime, tenants[0]!.id, probe, (tx) => tx.invoice.count());
    if (unscoped !== 0 || scoped !== INVOICES_PER_TENANT) throw new Error(`RLS sanity check failed: ${unscoped} rows without a tenant, ${scoped} with one`);
    log(`RLS check: runtime role sees 0 invoices without app.tenant_id and ${scoped} with it`);

    const all = scenarios(runtime, owner);
    log(`scenarios: ${all.length}; concurrency ${CONCURRENCY}, pool max ${poolMax}, warm-up ${WARMUP_MS} ms, ${ROUNDS} rounds x ${ROUND_MS} ms, think ${THINK_MS} ms`);
    for (const scenario of all) if (WARMUP_MS > 0) await runRound(scenario, tenants, scopes, WARMUP_MS, pgCpu);

    const results = new Map<string, RoundResult[]>(all.map((s) => [s.key, []]));
    for (let round = 0; round < ROUNDS; round++) {
      // Rotate the order each round so background drift does not favour one scenario.
      for (let k = 0; k < all.length; k++) {
        const scenario = all[(k + round) % all.length]!;
        const result = await runRound(scenario, tenants, scopes, ROUND_MS, pgCpu);
        results.get(scenario.key)!.push(result);
        log(`round ${round + 1}/${ROUNDS} ${scenario.label.padEnd(24)} ${result.rps.toFixed(0).padStart(6)} req/s, ${result.errors} errors`);
        await sleep(200);
      }
    }

    const summaries = all.map((s) => summarise(s, results.get(s.key)!, poolMax));
    // B against A within each round (the two run next to each other), which cancels much of the
    // drift that other load on the machine causes between rounds.
    const comparisons = [0, ...THINK_MS].map((think) => {
      const a = results.get(all.find((s) => s.mode === 'per-call' && s.thinkMs === think)!.key)!;
      const b = results.get(all.find((s) => s.mode === 'per-request' && s.thinkMs === think)!.key)!;
      const ratios = a.map((ra, i) => b[i]!.rps / ra.rps);
      return { thinkMsBetweenReads: think, perRequestOverPerCallRps: { median: round2(median(ratios)), rounds: ratios.map(round2) } };
    });
    process.stdout.write('\n');
    printTable(summaries);
    for (const c of comparisons) {
      log(`B/A req/s, pause ${c.thinkMsBetweenReads} ms: median ${c.perRequestOverPerCallRps.median} (rounds ${c.perRequestOverPerCallRps.rounds.join(', ')})`);
    }
    for (const s of summaries) if (s.firstError) log(`${s.label}: first error: ${s.firstError}`);

    const cpus = os.cpus();
    const report = {
      benchmark: 'transaction-granularity',
      generatedAt: new Date().toISOString(),
      machine: {
        cpus: cpus.length,
        cpuModel: cpus[0]?.model ?? 'unknown',
        memoryGiB: round1(os.totalmem() / 2 ** 30),
        platform: `${os.platform()} ${os.release()}`,
        node: process.version,
        postgres: serverVersion,
        postgresHost: 'same machine (127.0.0.1)',
        ownerIsSuperuser: ownerRole.rolsuper,
        // Other work on the machine shows here; req/s moves with it, CPU ms per request much less.
        loadAverage1mAtStart: loadAtStart[0],
        loadAverage1mAtEnd: round2(os.loadavg()[0]!),
      },
      settings: {
        concurrency: CONCURRENCY,
        poolMax,
        warmupMs: WARMUP_MS,
        rounds: ROUNDS,
        roundMs: ROUND_MS,
        thinkMs: THINK_MS,
        request: 'get invoice by id (with lines) + list 20 newest invoices (with lines) + read the acting user membership',
        dataSet: { tenants: TENANTS, invoicesPerTenant: INVOICES_PER_TENANT, linesPerInvoice: LINES_PER_INVOICE, membersPerTenant: MEMBERS_PER_TENANT },
        notes: [
          'A: each read in its own $transaction starting with set_config(app.tenant_id, ..., true) (as TenantDatabase.run).',
          'B: one $transaction per request, one set_config, the three reads.',
          'C: owner (superuser) connection, no transaction, no RLS setting, explicit tenant_id filter.',
          'tx start wait = $transaction() called until its callback runs: pool wait + connect + BEGIN.',
          'hold = callback entered until $transaction() resolved (COMMIT done, connection back in the pool).',
          'pool busy = sum of holds / (round duration x pool max): a lower bound, as the hold leaves out BEGIN and Prisma start-up work.',
          'Node/PG CPU ms per request from process.cpuUsage() and /proc/<backend pid>/stat of the pool backends.',
          'Round trips per request counted from the SQL Prisma 7.10 sends: each include is a second query; BEGIN, set_config and COMMIT are one each.',
        ],
      },
      scenarios: summaries,
      comparisons,
    };
    const dir = join(projectRoot(), 'bench', 'results');
    await mkdir(dir, { recursive: true });
    const file = join(dir, 'transaction-granularity.json');
    await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
    log(`wrote ${file}`);
  } finally {
    await ownerPool.end().catch(() => undefined);
    await monitor.end();
    await runtime.$disconnect();
    await owner.$disconnect();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench failed: ${(error as Error).message}\n`);
  process.exitCode = 1;
});

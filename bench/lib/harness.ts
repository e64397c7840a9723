// Shared pieces of the HTTP benchmarks (read path, export, webhook fan-out, revocation/limits):
// settings from the environment, the bench database and its data set, the API / worker / baseline
// processes (always stopped, even on failure), autocannon and a small keep-alive load loop,
// statistics, the table and the JSON result. Benchmarks are not tests: nothing asserts a timing.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import autocannon from 'autocannon';
import { Redis } from 'ioredis';
import pg from 'pg';
import { generateSigningJwk, hashPassword } from '@benteng/auth';
import { loadConfig, ownerDatabaseUrl, RUNTIME_ROLE, runtimeDatabaseUrl, type AppConfig } from '@benteng/config';
import { migrateDatabase, projectRoot, recreateDatabase } from '@benteng/database';

// ---------------------------------------------------------------------------------------------
// Settings

/** BENCH_QUICK=1: small data and short rounds, for developing the benchmarks (not for figures). */
export const QUICK = process.env.BENCH_QUICK === '1';

export function intFromEnv(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer between ${min} and ${max}`);
  return value;
}

export const logger =
  (name: string) =>
  (line: string): void => {
    process.stdout.write(`bench ${name}: ${line}\n`);
  };

// ---------------------------------------------------------------------------------------------
// Statistics

export const median = (values: number[]): number => {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}
export const round1 = (n: number): number => Math.round(n * 10) / 10;
export const round2 = (n: number): number => Math.round(n * 100) / 100;
export const round3 = (n: number): number => Math.round(n * 1000) / 1000;

export { printTable } from './table.js';

export async function writeResult(name: string, report: object): Promise<void> {
  const dir = join(projectRoot(), 'bench', 'results');
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, `${name}.json`), `${JSON.stringify(report, null, 2)}\n`);
}

export function machine(postgresVersion: string): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    memoryGiB: round1(os.totalmem() / 2 ** 30),
    platform: `${os.platform()} ${os.release()}`,
    node: process.version,
    postgres: postgresVersion,
    hosts: 'PostgreSQL, Redis, API, worker and load generator on the same machine (127.0.0.1)',
    loadAverage1m: round2(os.loadavg()[0]!),
  };
}

// ---------------------------------------------------------------------------------------------
// Database and data set

function assertLoopback(url: string, what: string): void {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (!['127.0.0.1', 'localhost', '::1'].includes(host)) throw new Error(`${what} must point at a loopback host (127.0.0.1): the benchmark drives real load`);
}

export interface BenchDb {
  config: AppConfig;
  ownerUrl: string;
  runtimeUrl: string;
  owner: pg.Pool;
  postgresVersion: string;
  close(): Promise<void>;
}

/** Migrates the disposable `_bench` database named by DATABASE_URL (BENCH_FRESH_DB=1 recreates it first). */
export async function openBenchDb(log: (line: string) => void): Promise<BenchDb> {
  const config = loadConfig();
  const ownerUrl = ownerDatabaseUrl(config);
  const runtimeUrl = runtimeDatabaseUrl(config);
  assertLoopback(ownerUrl, 'DATABASE_URL');
  assertLoopback(runtimeUrl, 'DATABASE_APP_URL');
  if (!decodeURIComponent(new URL(ownerUrl).pathname.slice(1)).endsWith('_bench')) throw new Error('DATABASE_URL must name a database ending in _bench (it is seeded with benchmark data)');
  if (process.env.BENCH_FRESH_DB === '1') {
    await recreateDatabase(ownerUrl);
    log('recreated the bench database');
  }
  const migrated = await migrateDatabase(config, () => undefined).catch((error: unknown) => {
    throw new Error(`${(error as Error).message} (the _bench database is disposable: rerun with BENCH_FRESH_DB=1 to recreate it)`);
  });
  if (migrated.applied.length) log(`migrations: ${migrated.applied.length} applied`);
  const owner = new pg.Pool({ connectionString: ownerUrl, max: 3, application_name: 'benteng-bench-owner' });
  const postgresVersion = (await owner.query<{ server_version: string }>('SHOW server_version')).rows[0]!.server_version;
  return { config, ownerUrl, runtimeUrl, owner, postgresVersion, close: () => owner.end() };
}

/**
 * Deterministic ids, so pgbench scripts, the baseline and the load generator all address the same
 * rows without sharing a list: uuid = md5(label) with the version (4) and variant (8) nibbles set.
 * `bench_uuid` is the same function in SQL (created in the bench database only, not a migration).
 */
export function benchUuid(label: string): string {
  const h = createHash('md5').update(label).digest('hex');
  const hex = `${h.slice(0, 12)}4${h.slice(13, 16)}8${h.slice(17)}`;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
export const tenantId = (t: number): string => benchUuid(`benteng-bench-tenant-${t}`);
export const userId = (t: number): string => benchUuid(`benteng-bench-user-${t}`);
export const invoiceId = (t: number, i: number): string => benchUuid(`benteng-bench-invoice-${t}-${i}`);
export const userEmail = (t: number): string => `owner@bench-${t}.bench.test`;
/** Not a secret: the password of the benchmark's own users in the disposable bench database. */
export const BENCH_PASSWORD = 'bench-password-not-a-secret';

const FUNCTIONS_SQL = `
CREATE OR REPLACE FUNCTION bench_uuid(label text) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT overlay(overlay(md5(label) placing '4' from 13) placing '8' from 17)::uuid $$;
CREATE OR REPLACE FUNCTION bench_tid(t int) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT bench_uuid('benteng-bench-tenant-' || t) $$;
CREATE OR REPLACE FUNCTION bench_iid(t int, i int) RETURNS uuid LANGUAGE sql IMMUTABLE PARALLEL SAFE
  AS $$ SELECT bench_uuid('benteng-bench-invoice-' || t || '-' || i) $$;
GRANT EXECUTE ON FUNCTION bench_uuid(text), bench_tid(int), bench_iid(int, int) TO ${RUNTIME_ROLE};`;

export interface TenantSpec {
  /** 1-based tenant number (ids and e-mail derive from it). */
  t: number;
  invoices: number;
  linesPerInvoice: number;
}

/**
 * Seeds tenants idempotently through the owner connection (every insert is ON CONFLICT DO NOTHING
 * on deterministic ids), so an interrupted seed is completed by the next run and a complete one is
 * only checked. Each tenant has one owner user with BENCH_PASSWORD.
 */
export async function seedTenants(db: BenchDb, specs: TenantSpec[], log: (line: string) => void): Promise<void> {
  await db.owner.query(FUNCTIONS_SQL);
  const hash = await hashPassword(BENCH_PASSWORD);
  const started = performance.now();
  let seeded = 0;
  for (const spec of specs) {
    const tid = tenantId(spec.t);
    const counts = await db.owner.query<{ invoices: number; lines: number }>(
      `SELECT (SELECT count(*)::int FROM invoices WHERE tenant_id = $1) AS invoices, (SELECT count(*)::int FROM invoice_lines WHERE tenant_id = $1) AS lines`,
      [tid],
    );
    const c = counts.rows[0]!;
    const client = await db.owner.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tid]);
      await client.query('INSERT INTO tenants (id, slug, name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [tid, `bench-${spec.t}`, `Bench tenant ${spec.t}`]);
      await client.query('INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING', [userId(spec.t), userEmail(spec.t), `Bench owner ${spec.t}`]);
      await client.query('UPDATE users SET password_hash = $2 WHERE id = $1', [userId(spec.t), hash]);
      await client.query(
        `INSERT INTO memberships (tenant_id, id, user_id, role) SELECT $1, $2, $3, 'owner'
          WHERE NOT EXISTS (SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $3)`,
        [tid, benchUuid(`benteng-bench-membership-${spec.t}`), userId(spec.t)],
      );
      if (c.invoices !== spec.invoices || c.lines !== spec.invoices * spec.linesPerInvoice) {
        // Invoices one second apart, oldest first; numbers and statuses vary like real data.
        await client.query(
          `INSERT INTO invoices (tenant_id, id, number, status, customer_name, customer_email, total_minor, created_by_id, created_at, updated_at)
           SELECT $1, bench_iid($2::int, g), 'INV-' || lpad(g::text, 6, '0'), (ARRAY['draft','issued','paid','void'])[1 + g % 4]::invoice_status,
                  'PT Contoh Sejahtera ' || g, 'billing' || g || '@contoh.test', 1000 * $4::int, $3,
                  now() - ($5::int - g) * interval '1 second', now() - ($5::int - g) * interval '1 second'
             FROM generate_series(1, $5::int) AS g
           ON CONFLICT DO NOTHING`,
          [tid, spec.t, userId(spec.t), spec.linesPerInvoice, spec.invoices],
        );
        if (spec.linesPerInvoice > 0) {
          await client.query(
            `INSERT INTO invoice_lines (tenant_id, id, invoice_id, position, description, quantity, unit_price_minor, amount_minor)
             SELECT $1, bench_uuid('benteng-bench-line-' || $2::int || '-' || g || '-' || p), bench_iid($2::int, g), p, 'Item ' || p, 1, 1000, 1000
               FROM generate_series(1, $3::int) AS g, generate_series(1, $4::int) AS p
             ON CONFLICT DO NOTHING`,
            [tid, spec.t, spec.invoices, spec.linesPerInvoice],
          );
        }
        seeded++;
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK');
      throw error;
    } finally {
      client.release();
    }
  }
  if (seeded) {
    await db.owner.query('ANALYZE tenants, users, memberships, invoices, invoice_lines');
    log(`seeded ${seeded} tenant(s) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  }
}

// ---------------------------------------------------------------------------------------------
// Redis: a database of its own (BENCH_REDIS_DB, default 9), flushed at the start of each benchmark,
// so rate-limit windows, revocations and queues never carry over from a previous run or from tests.

export async function benchRedisUrl(config: AppConfig): Promise<string> {
  const url = new URL(config.REDIS_URL);
  assertLoopback(url.toString(), 'REDIS_URL');
  url.pathname = `/${intFromEnv('BENCH_REDIS_DB', 9, 1, 15)}`;
  const redis = new Redis(url.toString(), { lazyConnect: true, maxRetriesPerRequest: 1 });
  try {
    await redis.connect();
    await redis.flushdb();
  } finally {
    redis.disconnect();
  }
  return url.toString();
}

// ---------------------------------------------------------------------------------------------
// Processes

const children = new Set<ChildProcess>();
function killAll(): void {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
}
process.once('exit', killAll);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    killAll();
    process.exit(130);
  });
}

export interface NodeProcess {
  pid: number;
  name: string;
  /** The last 8 KiB of stderr and of the log file, for error messages. */
  tail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  stop(graceMs?: number): Promise<void>;
  exited(): boolean;
}

/** Starts a compiled entry under dist/ with the same Node binary; stdout (pino) goes to a temp file. */
export function startNode(name: string, entry: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = []): NodeProcess {
  const dir = mkdtempSync(join(os.tmpdir(), `benteng-bench-${name}-`));
  const logFile = join(dir, 'stdout.log');
  // The child writes its log straight to the file: through a pipe, this (busy) process would have
  // to drain it, and pino's synchronous writes would block the measured process when it lags.
  const out = openSync(logFile, 'a');
  const child = spawn(process.execPath, [...nodeArgs, entry.startsWith('/') ? entry : join(projectRoot(), 'dist', entry)], { cwd: entry.startsWith('/') && entry.includes('/dist/') ? entry.slice(0, entry.indexOf('/dist/')) : projectRoot(), env, stdio: ['ignore', out, 'pipe'] });
  closeSync(out);
  children.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-8192)));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    pid: child.pid!,
    name,
    exited,
    tail: () => {
      let log = '';
      try {
        log = readFileSync(logFile, 'utf8').slice(-8192);
      } catch {
        // gone already
      }
      return `${stderr}\n${log}`.trim();
    },
    stop: async (graceMs = 10_000) => {
      if (!exited()) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
        await exit;
        clearTimeout(timer);
      }
      children.delete(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function waitForHttp(url: string, proc: NodeProcess, ms = 60_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (proc.exited()) throw new Error(`${proc.name} exited during start-up:\n${proc.tail()}`);
    if (await fetch(url).then((r) => r.ok, () => false)) return;
    await sleep(200);
  }
  throw new Error(`${proc.name} was not ready within ${ms} ms:\n${proc.tail()}`);
}

/** Signing key and pepper shared by the bench's API and worker processes (fresh per run). */
export async function appSecrets(): Promise<Record<string, string>> {
  return { AUTH_SIGNING_KEYS: JSON.stringify([await generateSigningJwk()]), AUTH_TOKEN_PEPPER: randomBytes(32).toString('base64url') };
}

/**
 * The environment of the bench's API and worker. The abuse detector stays on (its counters are
 * part of the measured path) with thresholds no benchmark reaches; the rate-limit policy is the
 * caller's (each benchmark documents its own).
 */
export function appEnv(db: BenchDb, redisUrl: string, secrets: Record<string, string>, extra: Record<string, string>): NodeJS.ProcessEnv {
  return {
    ...process.env,
    ...secrets,
    NODE_ENV: 'development',
    DATABASE_URL: db.ownerUrl,
    DATABASE_APP_URL: db.runtimeUrl,
    // The internal listener's benteng_internal URL, derived from DATABASE_URL like the runtime one.
    DATABASE_INTERNAL_URL: '',
    REDIS_URL: redisUrl,
    HOST: '127.0.0.1',
    LOG_LEVEL: 'info',
    LOG_PRETTY: 'false',
    QUEUE_PREFIX: 'bench',
    ABUSE_MAX_NOT_FOUND: '1000000',
    ABUSE_MAX_AUTH_FAILURES: '1000000',
    ABUSE_MAX_DISTINCT_OBJECTS: '1000000',
    ABUSE_MAX_BURST: '1000000',
    LOGIN_MAX_FAILURES_PER_IP: '100000',
    ...extra,
  };
}

/** A port nothing listens on right now (the kernel picks it), on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

export interface ApiProcess extends NodeProcess {
  base: string;
  port: number;
}

/**
 * Starts the compiled API. `entry`: another compiled entry under dist/ (bench/tax-api.js).
 * BENCH_API_ROOT: the directory of another build whose dist/apps/api/src/main.js is started instead
 * (a paired before/after run: the same benchmark against the base commit's API; docs/benchmarks.md).
 */
export async function startApi(name: string, env: NodeJS.ProcessEnv, nodeArgs: string[] = [], entry = 'apps/api/src/main.js'): Promise<ApiProcess> {
  const port = await freePort();
  const root = process.env.BENCH_API_ROOT;
  const path = root && entry === 'apps/api/src/main.js' ? join(root, 'dist', entry) : entry;
  const proc = startNode(name, path, { ...env, PORT: String(port), INTERNAL_PORT: String(await freePort()) }, nodeArgs);
  const base = `http://127.0.0.1:${port}`;
  try {
    await waitForHttp(`${base}/health/ready`, proc);
  } catch (error) {
    await proc.stop(1000);
    throw error;
  }
  return { ...proc, base, port };
}

// ---------------------------------------------------------------------------------------------
// HTTP helpers

export async function call(base: string, method: string, path: string, options: { token?: string; body?: unknown } = {}): Promise<{ status: number; body: any }> {
  const headers: Record<string, string> = { 'idempotency-key': randomUUID() };
  if (options.token) headers.authorization = `Bearer ${options.token}`;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${base}${path}`, { method, headers, ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: res.status, body };
}

export async function expectStatus(res: Promise<{ status: number; body: any }>, status: number, what: string): Promise<any> {
  const r = await res;
  if (r.status !== status) throw new Error(`${what}: expected ${status}, got ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
  return r.body;
}

export async function login(base: string, t: number): Promise<{ accessToken: string; refreshToken: string }> {
  return expectStatus(call(base, 'POST', '/v1/auth/login', { body: { email: userEmail(t), password: BENCH_PASSWORD } }), 200, `login tenant ${t}`);
}

export interface Target {
  path: string;
  authorization: string;
}

export interface CannonResult {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** One autocannon run: `targets` are cycled at random (path + authorization per request). */
export async function cannon(base: string, targets: Target[], connections: number, durationS: number): Promise<CannonResult> {
  let n = Math.floor(Math.random() * targets.length);
  const result = await autocannon({
    url: base,
    connections,
    duration: durationS,
    pipelining: 1,
    timeout: 10,
    requests: [
      {
        method: 'GET',
        setupRequest: (req: any) => {
          const target = targets[(n = (n + 7919) % targets.length)]!;
          return { ...req, path: target.path, headers: target.authorization ? { authorization: target.authorization } : {} };
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

/**
 * A bounded keep-alive load loop with a record per request (when it was sent, its status), for
 * the revocation and rate-limit measurements, where autocannon's aggregates are not enough.
 */
export interface Sample {
  sentAt: number;
  doneAt: number;
  status: number;
}
export async function hammer(opts: {
  concurrency: number;
  durationMs: number;
  maxRequests: number;
  next: (i: number) => { base: string; path: string; authorization: string };
  stop?: () => boolean;
}): Promise<Sample[]> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: opts.concurrency });
  const samples: Sample[] = [];
  const deadline = performance.now() + opts.durationMs;
  let issued = 0;
  const once = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const target = opts.next(i);
      const sentAt = performance.now();
      const req = http.request(`${target.base}${target.path}`, { agent, headers: { authorization: target.authorization } }, (res) => {
        res.resume();
        res.on('end', () => {
          samples.push({ sentAt, doneAt: performance.now(), status: res.statusCode ?? 0 });
          resolve();
        });
      });
      req.on('error', () => {
        samples.push({ sentAt, doneAt: performance.now(), status: 0 });
        resolve();
      });
      req.end();
    });
  const loop = async () => {
    while (performance.now() < deadline && issued < opts.maxRequests && !(opts.stop?.() ?? false)) await once(issued++);
  };
  await Promise.all(Array.from({ length: opts.concurrency }, loop));
  agent.destroy();
  return samples;
}

/** Peak (VmHWM) and current (VmRSS) resident set of a process, MiB. */
export function rssMiB(pid: number): { peak: number; current: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => round1(Number(new RegExp(`${name}:\\s*(\\d+)\\s*kB`).exec(status)?.[1] ?? Number.NaN) / 1024);
  return { peak: field('VmHWM'), current: field('VmRSS') };
}

/** CPU time (user + system) a process has used so far, ms (from /proc/<pid>/stat; clock ticks of 10 ms). */
export function cpuMs(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields 14 and 15 of the file (utime, stime) are 11 and 12 after the command name.
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

// ---------------------------------------------------------------------------------------------
// Open loop: requests sent on a schedule, whatever the server's speed

export interface OpenLoopResult {
  offeredRps: number;
  /** Requests answered per second over the schedule (below offeredRps when the server falls behind). */
  achievedRps: number;
  sent: number;
  completed: number;
  failures: number;
  /** Latency from each request's *scheduled* time (not from when a connection was free): no coordinated omission. */
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
}

/**
 * Sends `rps` requests per second for `durationS` seconds at evenly spaced scheduled times over up
 * to `connections` keep-alive sockets, and measures each request's latency from its scheduled time.
 * A closed loop (autocannon) slows its sending when the server slows, and hides queueing delay; here
 * a request that waits for a free socket counts that wait, which is what a client with a fixed
 * arrival rate sees. Hand-written: autocannon's `overallRate` measures from the actual send.
 */
const OPEN_LOOP_LIMIT_MS = 10_000;

export async function openLoop(base: string, targets: Target[], rps: number, durationS: number, connections = 64): Promise<OpenLoopResult> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: connections });
  const url = new URL(base);
  const total = Math.round(rps * durationS);
  const latencies: number[] = [];
  let failures = 0;
  let n = Math.floor(Math.random() * targets.length);
  const inFlight: Promise<void>[] = [];
  const send = (scheduledAt: number) =>
    new Promise<void>((resolve) => {
      const target = targets[(n = (n + 7919) % targets.length)]!;
      const req = http.request(
        { host: url.hostname, port: url.port, path: target.path, method: 'GET', agent, headers: target.authorization ? { authorization: target.authorization } : {}, timeout: 30_000 },
        (res) => {
          res.resume();
          res.once('end', () => {
            if (res.statusCode === 200) latencies.push(performance.now() - scheduledAt);
            else failures++;
            resolve();
          });
        },
      );
      req.once('error', () => {
        failures++;
        resolve();
      });
      // Bounded: a request not answered 10 s after its scheduled time is a failure (on an overloaded
      // machine the queue would otherwise grow for as long as the schedule runs, and longer).
      const late = setTimeout(() => req.destroy(new Error('late')), Math.max(0, scheduledAt + OPEN_LOOP_LIMIT_MS - performance.now()));
      req.once('close', () => clearTimeout(late));
      req.end();
    });
  const started = performance.now();
  const interval = 1000 / rps;
  let next = 0;
  while (next < total) {
    const now = performance.now() - started;
    // Every request whose time has come leaves now, stamped with its scheduled time.
    while (next < total && next * interval <= now) inFlight.push(send(started + next++ * interval));
    if (next < total) await new Promise((resolve) => setTimeout(resolve, Math.max(0, Math.min(2, next * interval - now))));
  }
  await Promise.all(inFlight);
  const elapsedS = (performance.now() - started) / 1000;
  agent.destroy();
  const sorted = Float64Array.from(latencies).sort();
  return {
    offeredRps: rps,
    achievedRps: round1(latencies.length / elapsedS),
    sent: total,
    completed: latencies.length,
    failures,
    p50Ms: round2(percentile(sorted, 0.5)),
    p90Ms: round2(percentile(sorted, 0.9)),
    p99Ms: round2(percentile(sorted, 0.99)),
    maxMs: round2(sorted.length ? sorted[sorted.length - 1]! : Number.NaN),
  };
}

// Read path, side by side in one run (issue 9, part 1). Same data set for every scenario: 10
// tenants x 10,000 invoices (2 lines each), ids derived from (tenant, n) so every load generator
// addresses the same rows.
//   A-pk   pgbench: single-row select by primary key (owner role, no RLS), `-M prepared`
//   A-rls  pgbench: BEGIN; set_config('app.tenant_id', ...); the same select; COMMIT (runtime role, RLS on)
//   B      a bare Fastify handler (bench/baseline-server.ts): the invoice by primary key + its lines with `pg`, no security
//   C-get  GET /v1/invoices/:id, everything on: JWT + revocation check + rate limit + abuse counters + CASL + RLS
//          transaction + response allowlist + pino request logging (to a file)
//   C-list GET /v1/invoices?limit=50 (page of 50, with lines)
//   C-partner GET /partner/v1/invoices/:id with an API key
//   C-partner-list GET /partner/v1/invoices?limit=50 with an API key (page of 50, with lines)
// HTTP load: autocannon in this process; each scenario gets a warm-up, then BENCH_ROUNDS rounds,
// the scenarios' order rotated each round; figures are medians over rounds, ratios are taken
// within a round (the scenarios run back to back) and their median reported.
// Rate limits: RATE_LIMIT_POLICY raises the `user` and `partner:standard` read budgets and the
// tenant aggregate to 10,000,000 per minute, so the benchmark users are never throttled (the limiter
// still runs and counts in Redis on every request); the abuse detector's thresholds likewise.
// Open loop (issue 18): B and C-get at fixed offered loads (BENCH_OPEN_RATES, 200 and 400 req/s),
// BENCH_OPEN_S seconds each, latency from each request's scheduled time (harness openLoop).
// Security tax (BENCH_TAX=1): C-get's server CPU per request with one control switched off at a
// time (bench/tax-api.ts, dependency injection, benchmark only), against the same entry with
// nothing switched off, alternated round by round; the difference is the control's cost.
// Tunables: BENCH_CONNECTIONS (64), BENCH_ROUNDS (3), BENCH_ROUND_S (8), BENCH_WARMUP_S (3),
// BENCH_INVOICES (10000), BENCH_PROFILE=1 (run the API with --cpu-prof; summary of the hottest
// functions in the result, the .cpuprofile under bench/results/profiles/).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from '@benteng/database';
import {
  appEnv,
  appSecrets,
  benchRedisUrl,
  cannon,
  call,
  cpuMs,
  expectStatus,
  freePort,
  intFromEnv,
  invoiceId,
  logger,
  login,
  machine,
  median,
  openBenchDb,
  openLoop,
  percentile,
  printTable,
  QUICK,
  round1,
  round2,
  round3,
  seedTenants,
  startApi,
  startNode,
  tenantId,
  waitForHttp,
  writeResult,
  type ApiProcess,
  type NodeProcess,
  type OpenLoopResult,
  type Target,
} from './lib/harness.js';

const log = logger('read-path');
const TENANTS = 10;
const INVOICES = intFromEnv('BENCH_INVOICES', QUICK ? 1_000 : 10_000, 100, 1_000_000);
const LINES = 2;
const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 64, 1, 512);
const ROUNDS = intFromEnv('BENCH_ROUNDS', QUICK ? 1 : 3, 1, 10);
const ROUND_S = intFromEnv('BENCH_ROUND_S', QUICK ? 3 : 8, 1, 60);
const WARMUP_S = intFromEnv('BENCH_WARMUP_S', QUICK ? 1 : 3, 0, 30);
const PROFILE = process.env.BENCH_PROFILE === '1';
/** Node options for the API processes (this tree's and BENCH_COMPARE_ROOT's), e.g. "--max-semi-space-size=32". */
const API_NODE_ARGS = (process.env.BENCH_API_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');
const OPEN_RATES = (process.env.BENCH_OPEN_RATES ?? '200,400').split(',').filter(Boolean).map(Number);
const OPEN_S = intFromEnv('BENCH_OPEN_S', QUICK ? 3 : 10, 1, 120);
const TAX = process.env.BENCH_TAX === '1';
const TAX_ROUNDS = intFromEnv('BENCH_TAX_ROUNDS', QUICK ? 1 : 3, 1, 10);
const TAX_ROUND_S = intFromEnv('BENCH_TAX_ROUND_S', QUICK ? 2 : 5, 1, 60);
const TAX_CONNECTIONS = intFromEnv('BENCH_TAX_CONNECTIONS', 16, 1, 512);
/** The controls bench/tax-api.ts can switch off (BENCH_TAX_CONTROLS: a subset). */
const TAX_CONTROLS = (process.env.BENCH_TAX_CONTROLS ?? 'token-check,revocation,blocks,limiter,abuse-counters,casl-ability-per-request,logging').split(',').filter(Boolean);
const POOL_MAX = 10;
const NO_THROTTLE = JSON.stringify({ user: { read: [10_000_000, 60] }, 'partner:standard': { read: [10_000_000, 60] }, tenant: [10_000_000, 60] });

interface RoundFigures {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  failures: number;
  /** CPU ms the serving process (API or baseline) used per completed request; null for pgbench. */
  serverCpuMsPerRequest: number | null;
}
interface Scenario {
  key: string;
  label: string;
  run(seconds: number): Promise<RoundFigures>;
}

// ---------------------------------------------------------------------------------------------
// A: pgbench (or, without pgbench, a documented Node `pg` loop)

const SELECT = `SELECT id, number, status, currency, customer_name, customer_email, customer_tax_id, total_minor, due_date, issued_at, created_at, updated_at, version, created_by_id FROM invoices WHERE tenant_id = bench_tid(:t) AND id = bench_iid(:t, :i);`;
const PK_SCRIPT = `\\set t random(1, ${TENANTS})\n\\set i random(1, ${INVOICES})\n${SELECT}\n`;
const RLS_SCRIPT = `\\set t random(1, ${TENANTS})\n\\set i random(1, ${INVOICES})\nBEGIN;\nSELECT set_config('app.tenant_id', bench_tid(:t)::text, true);\n${SELECT}\nCOMMIT;\n`;

function pgbenchPath(): string | null {
  for (const candidate of ['/usr/bin/pgbench', '/usr/local/bin/pgbench', ...(process.env.PATH ?? '').split(':').map((d) => join(d, 'pgbench'))]) if (existsSync(candidate)) return candidate;
  return null;
}

function pgbenchScenario(key: string, label: string, script: string, url: string): Scenario {
  const binary = pgbenchPath();
  return {
    key,
    label,
    async run(seconds) {
      const dir = mkdtempSync(join(os.tmpdir(), 'benteng-pgbench-'));
      try {
        const file = join(dir, 'script.sql');
        writeFileSync(file, script);
        const parsed = new URL(url);
        const env = { ...process.env, PGPASSWORD: decodeURIComponent(parsed.password) };
        parsed.password = '';
        const args = ['-n', '-M', 'prepared', '-c', String(CONNECTIONS), '-j', '2', '-T', String(seconds), '-f', file, '--log', `--log-prefix=${join(dir, 'tx')}`, parsed.toString()];
        const output = await new Promise<string>((resolve, reject) => {
          const child = spawn(binary!, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
          let out = '';
          child.stdout.on('data', (c: Buffer) => (out += c.toString()));
          child.stderr.on('data', (c: Buffer) => (out += c.toString()));
          const kill = setTimeout(() => child.kill('SIGKILL'), (seconds + 60) * 1000);
          child.once('exit', (code) => {
            clearTimeout(kill);
            if (code === 0) resolve(out);
            else reject(new Error(`pgbench exited ${code}: ${out.slice(-1000)}`));
          });
        });
        const tps = Number(/tps = ([\d.]+) \(without initial connection time\)/.exec(output)?.[1] ?? /tps = ([\d.]+)/.exec(output)?.[1]);
        const failed = Number(/number of failed transactions: (\d+)/.exec(output)?.[1] ?? 0);
        // Per-transaction log lines: client_id transaction_no time_us script_no epoch_s epoch_us
        const latencies: number[] = [];
        for (const name of readdirSync(dir).filter((n) => n.startsWith('tx'))) {
          for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
            const us = Number(line.split(' ')[2]);
            if (Number.isFinite(us) && line) latencies.push(us / 1000);
          }
        }
        const sorted = Float64Array.from(latencies).sort();
        return { rps: tps, p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), requests: latencies.length, failures: failed, serverCpuMsPerRequest: null };
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

/** Fallback when pgbench is missing: the same statements from a `pg` pool of CONNECTIONS clients. */
function nodeLoopScenario(key: string, label: string, rls: boolean, url: string): Scenario {
  return {
    key,
    label: `${label} (node pg loop: pgbench not found)`,
    async run(seconds) {
      const pool = new pg.Pool({ connectionString: url, max: CONNECTIONS });
      const sql = SELECT.replace('bench_tid(:t)', 'bench_tid($1)').replace('bench_iid(:t, :i)', 'bench_iid($1, $2)').replace(/;$/, '');
      const latencies: number[] = [];
      let failures = 0;
      const deadline = performance.now() + seconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: CONNECTIONS }, async () => {
          const client = await pool.connect();
          try {
            while (performance.now() < deadline) {
              const t = 1 + Math.floor(Math.random() * TENANTS);
              const i = 1 + Math.floor(Math.random() * INVOICES);
              const begun = performance.now();
              try {
                if (rls) {
                  await client.query('BEGIN');
                  await client.query({ name: 'set', text: "SELECT set_config('app.tenant_id', bench_tid($1)::text, true)", values: [t] });
                }
                await client.query({ name: 'sel', text: sql, values: [t, i] });
                if (rls) await client.query('COMMIT');
                latencies.push(performance.now() - begun);
              } catch {
                failures++;
              }
            }
          } finally {
            client.release();
          }
        }),
      );
      await pool.end();
      const sorted = Float64Array.from(latencies).sort();
      return { rps: latencies.length / ((performance.now() - started) / 1000), p50: percentile(sorted, 0.5), p99: percentile(sorted, 0.99), requests: latencies.length, failures, serverCpuMsPerRequest: null };
    },
  };
}

function httpScenario(key: string, label: string, base: () => string, pid: () => number, targets: Target[]): Scenario {
  return {
    key,
    label,
    async run(seconds) {
      const cpu0 = cpuMs(pid());
      const r = await cannon(base(), targets, CONNECTIONS, seconds);
      const cpu = cpuMs(pid()) - cpu0;
      return { rps: r.rps, p50: r.p50, p99: r.p99, requests: r.requests, failures: r.non2xx + r.errors + r.timeouts, serverCpuMsPerRequest: cpu / Math.max(1, r.requests) };
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Profile summary: self time per function from a V8 .cpuprofile (open the file itself in Chrome
// DevTools or speedscope for the flame graph).

interface CpuProfile {
  nodes: { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; children?: number[] }[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}
/**
 * Self time per function over the samples taken from `fromUs` on (CLOCK_MONOTONIC microseconds,
 * the clock of both V8's profile timestamps and process.hrtime), so start-up and warm-up stay out.
 */
function summariseProfile(file: string, fromUs: number, top = 25): { function: string; selfPct: number }[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const self = new Map<string, number>();
  let total = 0;
  let at = profile.startTime;
  profile.samples.forEach((id, k) => {
    const dt = profile.timeDeltas[k] ?? 0;
    at += dt;
    if (at < fromUs) return;
    const frame = byId.get(id)!.callFrame;
    const where = frame.url.replace(/^file:\/\//, '').replace(projectRoot(), '').replace(/.*node_modules\//, 'node_modules/');
    const name = `${frame.functionName || '(anonymous)'} ${where}${where ? `:${frame.lineNumber + 1}` : ''}`;
    self.set(name, (self.get(name) ?? 0) + dt);
    total += dt;
  });
  return [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([fn, us]) => ({ function: fn, selfPct: round1((us / total) * 100) }));
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const db = await openBenchDb(log);
  let api: ApiProcess | undefined;
  let baseline: NodeProcess | undefined;
  let baseApi: ApiProcess | undefined;
  try {
    await seedTenants(db, Array.from({ length: TENANTS }, (_, k) => ({ t: k + 1, invoices: INVOICES, linesPerInvoice: LINES })), log);
    const check = await db.owner.query<{ n: number }>('SELECT count(*)::int AS n FROM invoices WHERE tenant_id = bench_tid(1) AND id = bench_iid(1, $1::int)', [INVOICES]);
    if (check.rows[0]!.n !== 1) throw new Error('the data set does not match the id scheme');

    const redisUrl = await benchRedisUrl(db.config);
    const secrets = await appSecrets();
    const profileDir = join(projectRoot(), 'bench', 'results', 'profiles');
    if (PROFILE) await mkdir(profileDir, { recursive: true });
    // BENCH_API_LOG_LEVEL: for experiments only (e.g. `warn` to see what request logging costs).
    const env = appEnv(db, redisUrl, secrets, { RATE_LIMIT_POLICY: NO_THROTTLE, DATABASE_POOL_MAX: String(POOL_MAX), LOG_LEVEL: process.env.BENCH_API_LOG_LEVEL || 'info' });
    api = await startApi('api', env, [...API_NODE_ARGS, ...(PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [])]);
    // BENCH_COMPARE_ROOT: another build (e.g. the base commit's, built into a temporary directory)
    // whose API serves the same C scenarios as `<key>@base`, alternated with this tree's in every
    // round: a paired before/after under the same machine load (docs/benchmarks.md).
    const compareRoot = process.env.BENCH_COMPARE_ROOT;
    if (compareRoot) {
      const previous = process.env.BENCH_API_ROOT;
      process.env.BENCH_API_ROOT = compareRoot;
      try {
        baseApi = await startApi('api-base', env, API_NODE_ARGS);
      } finally {
        if (previous === undefined) delete process.env.BENCH_API_ROOT;
        else process.env.BENCH_API_ROOT = previous;
      }
    }
    const baselinePort = await freePort();
    baseline = startNode('baseline', 'bench/baseline-server.js', { ...process.env, BASELINE_DATABASE_URL: db.ownerUrl, BASELINE_PORT: String(baselinePort), BASELINE_POOL_MAX: String(POOL_MAX) });
    const baselineBase = `http://127.0.0.1:${baselinePort}`;
    await waitForHttp(`${baselineBase}/health`, baseline);

    // Credentials: one owner session and one partner API key (standard tier, read scope) per tenant.
    const tokens: string[] = [];
    const keys: string[] = [];
    for (let t = 1; t <= TENANTS; t++) {
      const { accessToken } = await login(api.base, t);
      tokens.push(accessToken);
      const client = await expectStatus(
        call(api.base, 'POST', '/v1/partner-clients', { token: accessToken, body: { name: `bench ${Date.now()}`, environment: 'test', scopes: ['invoices:read'], tier: 'standard' } }),
        201,
        'create partner client',
      );
      const key = await expectStatus(call(api.base, 'POST', `/v1/partner-clients/${client.id}/keys`, { token: accessToken, body: {} }), 201, 'create partner key');
      keys.push(key.key);
    }
    // Access tokens live ACCESS_TOKEN_TTL_S (600 s by default), less than a run with
    // BENCH_COMPARE_ROOT and BENCH_TAX: renewTokens logs in again before each later phase.

    const TARGETS = 20_000;
    const pick = () => ({ t: 1 + Math.floor(Math.random() * TENANTS), i: 1 + Math.floor(Math.random() * INVOICES) });
    const getTargets: Target[] = [];
    const getTenants: number[] = [];
    const partnerTargets: Target[] = [];
    const baselineTargets: Target[] = [];
    for (let k = 0; k < TARGETS; k++) {
      const { t, i } = pick();
      getTargets.push({ path: `/v1/invoices/${invoiceId(t, i)}`, authorization: `Bearer ${tokens[t - 1]}` });
      getTenants.push(t);
      partnerTargets.push({ path: `/partner/v1/invoices/${invoiceId(t, i)}`, authorization: `Bearer ${keys[t - 1]}` });
      baselineTargets.push({ path: `/invoices/${tenantId(t)}/${invoiceId(t, i)}`, authorization: '' });
    }
    const listTargets: Target[] = tokens.map((token) => ({ path: '/v1/invoices?limit=50', authorization: `Bearer ${token}` }));
    const partnerListTargets: Target[] = keys.map((key) => ({ path: '/partner/v1/invoices?limit=50', authorization: `Bearer ${key}` }));
    /** New access tokens for the owner targets (API keys do not expire). */
    const renewTokens = async (base: string) => {
      for (let t = 1; t <= TENANTS; t++) tokens[t - 1] = (await login(base, t)).accessToken;
      getTargets.forEach((target, k) => (target.authorization = `Bearer ${tokens[getTenants[k]! - 1]}`));
      listTargets.forEach((target, k) => (target.authorization = `Bearer ${tokens[k]}`));
    };

    // Every route answers as expected before load starts.
    for (const [base, target, what] of [
      [api.base, getTargets[0]!, 'C get'],
      [api.base, partnerTargets[0]!, 'C partner get'],
      [api.base, listTargets[0]!, 'C list'],
      [api.base, partnerListTargets[0]!, 'C partner list'],
      [baselineBase, baselineTargets[0]!, 'B'],
    ] as const) {
      const res = await fetch(`${base}${target.path}`, { headers: target.authorization ? { authorization: target.authorization } : {} });
      const body = (await res.json()) as { items?: unknown[]; lines?: unknown[] };
      if (res.status !== 200) throw new Error(`${what}: ${res.status} ${JSON.stringify(body).slice(0, 300)}`);
      if ((what === 'C list' || what === 'C partner list') && body.items?.length !== 50) throw new Error(`${what} returned ${body.items?.length} items`);
    }

    const pgbench = pgbenchPath();
    const apiBase = () => api!.base;
    const apiPid = () => api!.pid;
    const scenarios: Scenario[] = [
      pgbench ? pgbenchScenario('A-pk', 'A  pgbench PK select (no RLS)', PK_SCRIPT, db.ownerUrl) : nodeLoopScenario('A-pk', 'A  PK select (no RLS)', false, db.ownerUrl),
      pgbench
        ? pgbenchScenario('A-rls', 'A  pgbench BEGIN+set_config+select+COMMIT (RLS)', RLS_SCRIPT, db.runtimeUrl)
        : nodeLoopScenario('A-rls', 'A  BEGIN+set_config+select+COMMIT (RLS)', true, db.runtimeUrl),
      httpScenario('B', 'B  bare Fastify + pg (invoice + lines)', () => baselineBase, () => baseline!.pid, baselineTargets),
      httpScenario('C-get', 'C  GET /v1/invoices/:id', apiBase, apiPid, getTargets),
      httpScenario('C-list', 'C  GET /v1/invoices?limit=50', apiBase, apiPid, listTargets),
      httpScenario('C-partner', 'C  GET /partner/v1/invoices/:id (API key)', apiBase, apiPid, partnerTargets),
      httpScenario('C-partner-list', 'C  GET /partner/v1/invoices?limit=50 (API key)', apiBase, apiPid, partnerListTargets),
    ];
    if (baseApi) {
      const base = baseApi;
      scenarios.push(
        httpScenario('C-get@base', 'C  GET /v1/invoices/:id (base build)', () => base.base, () => base.pid, getTargets),
        httpScenario('C-list@base', 'C  GET /v1/invoices?limit=50 (base build)', () => base.base, () => base.pid, listTargets),
        httpScenario('C-partner@base', 'C  GET /partner/v1/invoices/:id (base build)', () => base.base, () => base.pid, partnerTargets),
        httpScenario('C-partner-list@base', 'C  GET /partner/v1/invoices?limit=50 (base build)', () => base.base, () => base.pid, partnerListTargets),
      );
    }
    // BENCH_SCENARIOS=C-get,B: a subset, for profiling and experiments (`@base` ones stay with their key).
    if (process.env.BENCH_SCENARIOS) {
      const wanted = process.env.BENCH_SCENARIOS.split(',');
      scenarios.splice(0, scenarios.length, ...scenarios.filter((s) => wanted.includes(s.key.replace('@base', ''))));
    }
    log(`${scenarios.length} scenarios; ${CONNECTIONS} connections, warm-up ${WARMUP_S} s, ${ROUNDS} rounds x ${ROUND_S} s; ${pgbench ? `pgbench ${pgbench}` : 'pgbench not found: Node pg loop for A'}`);
    if (WARMUP_S > 0) for (const s of scenarios) await s.run(WARMUP_S);

    const results = new Map<string, RoundFigures[]>(scenarios.map((s) => [s.key, []]));
    const roundsStartedUs = Number(process.hrtime.bigint() / 1000n);
    for (let round = 0; round < ROUNDS; round++) {
      for (let k = 0; k < scenarios.length; k++) {
        const s = scenarios[(k + round) % scenarios.length]!;
        const r = await s.run(ROUND_S);
        results.get(s.key)!.push(r);
        log(`round ${round + 1}/${ROUNDS} ${s.key.padEnd(9)} ${r.rps.toFixed(0).padStart(6)} req/s  p50 ${r.p50.toFixed(1)} ms  p99 ${r.p99.toFixed(1)} ms  failures ${r.failures}`);
      }
    }

    const summary = scenarios.map((s) => {
      const rounds = results.get(s.key)!;
      return {
        key: s.key,
        label: s.label,
        rps: round1(median(rounds.map((r) => r.rps))),
        p50Ms: round2(median(rounds.map((r) => r.p50))),
        p99Ms: round2(median(rounds.map((r) => r.p99))),
        serverCpuMsPerRequest: rounds[0]!.serverCpuMsPerRequest === null ? null : round2(median(rounds.map((r) => r.serverCpuMsPerRequest!))),
        rounds: rounds.map((r) => ({ rps: round1(r.rps), p50Ms: round2(r.p50), p99Ms: round2(r.p99), requests: r.requests, failures: r.failures, serverCpuMsPerRequest: r.serverCpuMsPerRequest === null ? null : round2(r.serverCpuMsPerRequest) })),
        failures: rounds.reduce((a, r) => a + r.failures, 0),
      };
    });
    const ratio = (c: string, b: string) => {
      const rc = results.get(c) ?? [];
      const rb = results.get(b) ?? [];
      if (!rc.length || !rb.length) return { median: Number.NaN, rounds: [] as number[] };
      const perRound = rc.map((r, k) => r.rps / rb[k]!.rps);
      return { median: round2(median(perRound)), rounds: perRound.map(round2) };
    };
    const ratios = {
      'C-get/B': ratio('C-get', 'B'),
      'C-get/A-pk': ratio('C-get', 'A-pk'),
      'C-get/A-rls': ratio('C-get', 'A-rls'),
      'C-partner/B': ratio('C-partner', 'B'),
      'B/A-pk': ratio('B', 'A-pk'),
      'A-rls/A-pk': ratio('A-rls', 'A-pk'),
    };
    // The list page's CPU per request against C-get's (target: a page of 50 <= 2 x C-get), per round.
    const cpuRatio = (c: string, b: string) => {
      const rc = results.get(c) ?? [];
      const rb = results.get(b) ?? [];
      if (!rc.length || !rb.length || rc[0]!.serverCpuMsPerRequest === null) return { median: Number.NaN, rounds: [] as number[] };
      const perRound = rc.map((r, k) => r.serverCpuMsPerRequest! / rb[k]!.serverCpuMsPerRequest!);
      return { median: round2(median(perRound)), rounds: perRound.map(round2) };
    };
    const cpuRatios = {
      'C-list/C-get CPU': cpuRatio('C-list', 'C-get'),
      'C-partner-list/C-partner CPU': cpuRatio('C-partner-list', 'C-partner'),
      'C-get/B CPU': cpuRatio('C-get', 'B'),
      ...(baseApi
        ? {
            'C-get/C-get@base CPU': cpuRatio('C-get', 'C-get@base'),
            'C-list/C-list@base CPU': cpuRatio('C-list', 'C-list@base'),
            'C-partner/C-partner@base CPU': cpuRatio('C-partner', 'C-partner@base'),
            'C-partner-list/C-partner-list@base CPU': cpuRatio('C-partner-list', 'C-partner-list@base'),
            'C-get@base/B': ratio('C-get@base', 'B'),
          }
        : {}),
    };
    for (const [name, r] of Object.entries(cpuRatios)) log(`${name.padEnd(16)} ${r.median} (rounds ${r.rounds.join(', ')})`);

    // Open loop: B and C-get alternated at each offered load.
    const openLoopResults: Record<string, Record<string, OpenLoopResult & { serverCpuMsPerRequest: number }>> = {};
    const openScenarios = [
      { key: 'B', base: baselineBase, pid: () => baseline!.pid, targets: baselineTargets },
      { key: 'C-get', base: api.base, pid: apiPid, targets: getTargets },
      ...(baseApi ? [{ key: 'C-get@base', base: baseApi.base, pid: () => baseApi!.pid, targets: getTargets }] : []),
    ].filter((o) => scenarios.some((s) => s.key === o.key));
    for (const rate of OPEN_RATES) {
      for (const o of openScenarios) {
        const cpu0 = cpuMs(o.pid());
        const r = await openLoop(o.base, o.targets, rate, OPEN_S, CONNECTIONS);
        const cpu = round2((cpuMs(o.pid()) - cpu0) / Math.max(1, r.completed));
        (openLoopResults[String(rate)] ??= {})[o.key] = { ...r, serverCpuMsPerRequest: cpu };
        log(`open loop ${rate} req/s ${o.key.padEnd(6)} achieved ${r.achievedRps} req/s  p50 ${r.p50Ms} ms  p99 ${r.p99Ms} ms  max ${r.maxMs} ms  failures ${r.failures}  ${cpu} CPU ms/req`);
      }
    }

    // Security tax: C-get's CPU per request with each control off, paired with nothing off.
    const tax: { control: string; onCpuMs: number; offCpuMs: number; costUs: number; failures: number; rounds: { on: number; off: number }[] }[] = [];
    // Not with BENCH_PROFILE: the profiled API must keep running until its profile is taken below.
    if (TAX && !PROFILE) {
      await baseApi?.stop();
      baseApi = undefined;
      await api.stop();
      api = undefined;
      let taxFailures = 0;
      const cpuPerRequest = async (proc: ApiProcess, seconds: number) => {
        const cpu0 = cpuMs(proc.pid);
        const r = await cannon(proc.base, getTargets, TAX_CONNECTIONS, seconds);
        // A variant that answers errors measures the error path, not the control: counted and reported.
        taxFailures += r.non2xx + r.errors + r.timeouts;
        return (cpuMs(proc.pid) - cpu0) / Math.max(1, r.requests);
      };
      for (const control of TAX_CONTROLS) {
        const on = await startApi('tax-on', { ...env, BENCH_TAX_OFF: 'none' }, [], 'bench/tax-api.js');
        const offEnv = control === 'logging' ? { ...env, BENCH_TAX_OFF: 'none', LOG_LEVEL: 'warn' } : { ...env, BENCH_TAX_OFF: control };
        const off = await startApi('tax-off', offEnv, [], 'bench/tax-api.js');
        try {
          await renewTokens(on.base);
          taxFailures = 0;
          if (WARMUP_S > 0) for (const proc of [on, off]) await cpuPerRequest(proc, WARMUP_S);
          const rounds: { on: number; off: number }[] = [];
          for (let k = 0; k < TAX_ROUNDS; k++) {
            const first = k % 2 === 0 ? on : off;
            const second = first === on ? off : on;
            const a = await cpuPerRequest(first, TAX_ROUND_S);
            const b = await cpuPerRequest(second, TAX_ROUND_S);
            rounds.push(first === on ? { on: a, off: b } : { on: b, off: a });
          }
          const onCpuMs = round3(median(rounds.map((r) => r.on)));
          const offCpuMs = round3(median(rounds.map((r) => r.off)));
          const costUs = Math.round(median(rounds.map((r) => (r.on - r.off) * 1000)));
          tax.push({ control, onCpuMs, offCpuMs, costUs, failures: taxFailures, rounds: rounds.map((r) => ({ on: round3(r.on), off: round3(r.off) })) });
          log(`security tax ${control.padEnd(26)} on ${onCpuMs} / off ${offCpuMs} CPU ms/req: ${costUs} µs per request (failures ${taxFailures}${taxFailures > 0 ? ': the error path was measured, not the control; discard this line' : ''})`);
        } finally {
          await on.stop();
          await off.stop();
        }
      }
    }

    const cGet = summary.find((s) => s.key === 'C-get');
    const targets = {
      'C-get >= 0.6 x B': { met: ratios['C-get/B'].median >= 0.6, value: ratios['C-get/B'].median },
      [`C-get p99 < 25 ms at ${CONNECTIONS} connections`]: { met: (cGet?.p99Ms ?? Number.NaN) < 25, value: cGet?.p99Ms ?? null },
      'C-get CPU <= 0.4 ms per request': { met: (cGet?.serverCpuMsPerRequest ?? Number.NaN) <= 0.4, value: cGet?.serverCpuMsPerRequest ?? null },
      'C-list CPU <= 2 x C-get': { met: cpuRatios['C-list/C-get CPU'].median <= 2, value: cpuRatios['C-list/C-get CPU'].median },
      'open loop C-get p99 < 15 ms at 200 req/s': { met: (openLoopResults['200']?.['C-get']?.p99Ms ?? Number.NaN) < 15, value: openLoopResults['200']?.['C-get']?.p99Ms ?? null },
      'open loop C-get p99 < 25 ms at 400 req/s': { met: (openLoopResults['400']?.['C-get']?.p99Ms ?? Number.NaN) < 25, value: openLoopResults['400']?.['C-get']?.p99Ms ?? null },
    };

    process.stdout.write('\n');
    printTable(
      ['scenario', 'req/s (median)', 'p50 ms', 'p99 ms', 'server CPU ms/req', 'failures'],
      summary.map((s) => [s.label, s.rps.toFixed(0), s.p50Ms.toFixed(1), s.p99Ms.toFixed(1), s.serverCpuMsPerRequest === null ? '-' : s.serverCpuMsPerRequest.toFixed(2), String(s.failures)]),
    );
    for (const [name, r] of Object.entries(ratios)) log(`${name.padEnd(12)} ${r.median} (rounds ${r.rounds.join(', ')})`);
    for (const [name, t] of Object.entries(targets)) log(`target ${name}: ${t.met ? 'met' : 'NOT met'} (${t.value})`);

    let profile: { file: string; top: { function: string; selfPct: number }[] } | undefined;
    if (PROFILE && api) {
      const before = new Set(readdirSync(profileDir));
      await api.stop(30_000);
      api = undefined;
      const file = readdirSync(profileDir).find((n) => n.endsWith('.cpuprofile') && !before.has(n));
      if (file) {
        profile = { file: `bench/results/profiles/${file}`, top: summariseProfile(join(profileDir, file), roundsStartedUs) };
        log(`CPU profile of the API: ${profile.file}; hottest functions during the measured rounds (self time):`);
        for (const f of profile.top.slice(0, 15)) log(`  ${String(f.selfPct).padStart(5)}%  ${f.function}`);
      } else log('no .cpuprofile was written (the API did not exit cleanly)');
    }

    await writeResult('read-path', {
      benchmark: 'read-path',
      generatedAt: new Date().toISOString(),
      machine: machine(db.postgresVersion),
      settings: {
        dataSet: { tenants: TENANTS, invoicesPerTenant: INVOICES, linesPerInvoice: LINES },
        connections: CONNECTIONS,
        rounds: ROUNDS,
        roundS: ROUND_S,
        warmupS: WARMUP_S,
        poolMax: POOL_MAX,
        loadGenerator: pgbench ? 'pgbench (A), autocannon (B, C)' : 'node pg loop (A: pgbench not found), autocannon (B, C)',
        rateLimitPolicy: NO_THROTTLE,
        logging: `pino at ${process.env.BENCH_API_LOG_LEVEL || 'info'} (info: one line per request), to a file`,
        quick: QUICK,
      },
      scenarios: summary,
      ratios: { ...ratios, ...cpuRatios },
      openLoop: { durationS: OPEN_S, connections: CONNECTIONS, byRate: openLoopResults },
      ...(TAX && !PROFILE ? { securityTax: { connections: TAX_CONNECTIONS, rounds: TAX_ROUNDS, roundS: TAX_ROUND_S, controls: tax } } : {}),
      targets,
      ...(profile ? { profile } : {}),
    });
  } finally {
    await api?.stop();
    await baseApi?.stop();
    await baseline?.stop();
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench read-path failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});

// Export (issue 9, part 2): a CSV export of 100,000 invoices through the real API and worker
// processes — wall time from POST /v1/exports to the export row being `ready` (the file is then
// stored in PostgreSQL, as the worker always leaves it) — against `COPY (SELECT the same columns
// of the same rows ORDER BY id) TO STDOUT WITH CSV HEADER` read by psql (or by `pg` when psql is
// missing), and the worker's peak RSS (VmHWM from /proc/<pid>/status, which includes start-up).
// Each round uses a freshly started worker, so its VmHWM is that export's peak.
// Tunables: BENCH_EXPORT_ROWS (100000), BENCH_EXPORT_ROUNDS (2), BENCH_WORKER_NODE_ARGS (none).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  appEnv,
  appSecrets,
  benchRedisUrl,
  call,
  cpuMs,
  expectStatus,
  intFromEnv,
  logger,
  login,
  machine,
  median,
  openBenchDb,
  printTable,
  QUICK,
  round1,
  round2,
  rssMiB,
  seedTenants,
  startApi,
  startNode,
  tenantId,
  writeResult,
  type ApiProcess,
  type NodeProcess,
} from './lib/harness.js';

const log = logger('export');
const T = 11;
const ROWS = intFromEnv('BENCH_EXPORT_ROWS', QUICK ? 10_000 : 100_000, 100, 2_000_000);
const ROUNDS = intFromEnv('BENCH_EXPORT_ROUNDS', QUICK ? 1 : 2, 1, 10);
/** Node options for the worker, for experiments: e.g. BENCH_WORKER_NODE_ARGS="--max-old-space-size=64". */
const WORKER_NODE_ARGS = (process.env.BENCH_WORKER_NODE_ARGS ?? '').split(' ').filter((a) => a !== '');

// The columns of the CSV (libs/exports/src/export-rows.ts, an owner's view), in the same order.
const COPY_SQL = (tenant: string) =>
  `COPY (SELECT id, number, status, currency, customer_name, customer_email, customer_tax_id, total_minor, due_date, issued_at, created_at
           FROM invoices WHERE tenant_id = '${tenant}' ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)`;

async function copyWithPsql(url: string, tenant: string): Promise<{ ms: number; bytes: number }> {
  const psql = ['/usr/bin/psql', '/usr/local/bin/psql'].find((p) => existsSync(p));
  if (!psql) throw new Error('psql not found');
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(psql, ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-d', url, '-c', COPY_SQL(tenant)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let bytes = 0;
    let err = '';
    child.stdout.on('data', (c: Buffer) => (bytes += c.length));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    const kill = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.once('exit', (code) => {
      clearTimeout(kill);
      if (code === 0) resolve({ ms: performance.now() - started, bytes });
      else reject(new Error(`psql exited ${code}: ${err.slice(-500)}`));
    });
  });
}

/** Milliseconds from the worker's `job started` line of the export to its `export ready` line (pino `time`), when both are in the log's tail. */
function jobTime(tail: string): number | null {
  let start: number | undefined;
  let end: number | undefined;
  for (const line of tail.split('\n')) {
    if (!line.includes('"exports.run"') && !line.includes('"export ready"')) continue;
    const time = Number(/"time":(\d+)/.exec(line)?.[1]);
    if (line.includes('"msg":"job started"')) start = time;
    if (line.includes('"msg":"export ready"')) end = time;
  }
  return start !== undefined && end !== undefined ? end - start : null;
}

async function main(): Promise<void> {
  const db = await openBenchDb(log);
  let api: ApiProcess | undefined;
  let worker: NodeProcess | undefined;
  try {
    await seedTenants(db, [{ t: T, invoices: ROWS, linesPerInvoice: 0 }], log);
    const tenant = tenantId(T);
    const redisUrl = await benchRedisUrl(db.config);
    const env = appEnv(db, redisUrl, await appSecrets(), { RATE_LIMIT_POLICY: JSON.stringify({ user: { export: [1000, 60] } }), OUTBOX_RELAY_ENABLED: 'false' });
    api = await startApi('api', env);
    const { accessToken } = await login(api.base, T);

    const rounds: {
      exportMs: number;
      copyMs: number;
      ratio: number;
      peakRssMiB: number;
      rssAtStartMiB: number;
      rssAtEndMiB: number;
      bytes: number;
      copyBytes: number;
      workerCpuMs: number;
      workerCpuMsPer1kRows: number;
      jobMs: number | null;
    }[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      worker = startNode('worker', 'apps/worker/src/main.js', env, WORKER_NODE_ARGS);
      // Ready once its log says so (BullMQ workers connected).
      const deadline = Date.now() + 60_000;
      while (!/worker ready/i.test(worker.tail())) {
        if (worker.exited() || Date.now() > deadline) throw new Error(`worker did not start:\n${worker.tail()}`);
        await sleep(100);
      }
      const rssAtStart = rssMiB(worker.pid).peak;
      const cpuAtStart = cpuMs(worker.pid);
      const started = performance.now();
      const created = await expectStatus(call(api.base, 'POST', '/v1/exports', { token: accessToken, body: { type: 'invoices', format: 'csv' } }), 202, 'request export');
      let row: { status: string; row_count: number | null; byte_size: string | null } | undefined;
      for (;;) {
        row = (await db.owner.query('SELECT status, row_count, byte_size::text FROM exports WHERE tenant_id = $1 AND id = $2', [tenant, created.id])).rows[0];
        if (row?.status === 'ready' || row?.status === 'failed') break;
        if (performance.now() - started > 300_000) throw new Error('export not ready within 300 s');
        await sleep(20);
      }
      const exportMs = performance.now() - started;
      if (row.status !== 'ready' || row.row_count !== ROWS) throw new Error(`export ended ${row.status} with ${row.row_count} rows`);
      const { peak, current: rssAtEnd } = rssMiB(worker.pid);
      const workerCpu = cpuMs(worker.pid) - cpuAtStart;
      const jobMs = jobTime(worker.tail());
      await worker.stop();
      worker = undefined;
      const copy = await copyWithPsql(db.ownerUrl, tenant);
      rounds.push({
        exportMs: round1(exportMs),
        copyMs: round1(copy.ms),
        ratio: round1(exportMs / copy.ms),
        peakRssMiB: peak,
        rssAtStartMiB: rssAtStart,
        rssAtEndMiB: rssAtEnd,
        bytes: Number(row.byte_size),
        copyBytes: copy.bytes,
        workerCpuMs: workerCpu,
        workerCpuMsPer1kRows: round2((workerCpu / ROWS) * 1000),
        jobMs,
      });
      log(
        `round ${round + 1}/${ROUNDS}: export ${exportMs.toFixed(0)} ms (job ${jobMs ?? '?'} ms in the worker; ${row.byte_size} bytes), COPY ${copy.ms.toFixed(0)} ms (${copy.bytes} bytes), worker CPU ${workerCpu} ms (${round2((workerCpu / ROWS) * 1000)} ms per 1k rows), worker peak RSS ${peak} MiB (${rssAtStart} MiB when ready, ${rssAtEnd} MiB after)`,
      );
    }
    const summary = {
      rows: ROWS,
      exportMs: round1(median(rounds.map((r) => r.exportMs))),
      copyMs: round1(median(rounds.map((r) => r.copyMs))),
      exportOverCopy: round1(median(rounds.map((r) => r.ratio))),
      workerPeakRssMiB: Math.max(...rounds.map((r) => r.peakRssMiB)),
      workerRssWhenReadyMiB: round1(median(rounds.map((r) => r.rssAtStartMiB))),
      /** What the export itself added on top of the idle worker's footprint. */
      workerPeakGrowthMiB: round1(Math.max(...rounds.map((r) => r.peakRssMiB - r.rssAtStartMiB))),
      /** Worker CPU (user + system) from POST to ready, per 1,000 rows: steadier than wall time on a loaded machine. */
      workerCpuMsPer1kRows: round2(median(rounds.map((r) => r.workerCpuMsPer1kRows))),
    };
    const targets = {
      'export <= 3 x COPY': { met: summary.exportOverCopy <= 3, value: summary.exportOverCopy },
      'worker peak RSS < 150 MB': { met: summary.workerPeakRssMiB * 1.048576 < 150, value: `${summary.workerPeakRssMiB} MiB` },
    };
    process.stdout.write('\n');
    printTable(
      ['export', 'rows', 'export ms', 'COPY ms', 'export/COPY', 'worker CPU ms/1k rows', 'worker peak RSS MiB', 'idle worker RSS MiB', 'growth MiB'],
      [
        [
          'CSV, invoices',
          String(ROWS),
          summary.exportMs.toFixed(0),
          summary.copyMs.toFixed(0),
          summary.exportOverCopy.toFixed(1),
          summary.workerCpuMsPer1kRows.toFixed(2),
          summary.workerPeakRssMiB.toFixed(1),
          summary.workerRssWhenReadyMiB.toFixed(1),
          summary.workerPeakGrowthMiB.toFixed(1),
        ],
      ],
    );
    for (const [name, t] of Object.entries(targets)) log(`target ${name}: ${t.met ? 'met' : 'NOT met'} (${t.value})`);
    await writeResult('export', {
      benchmark: 'export',
      generatedAt: new Date().toISOString(),
      machine: machine(db.postgresVersion),
      settings: {
        rows: ROWS,
        rounds: ROUNDS,
        exportWallTime: 'POST /v1/exports -> export row ready (worker wrote every chunk to PostgreSQL), polled every 20 ms',
        copy: 'psql: COPY (SELECT the CSV columns ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER), owner role, output counted and discarded',
        rss: 'VmHWM of a worker started fresh for each round (includes its start-up)',
        workerNodeArgs: WORKER_NODE_ARGS,
        quick: QUICK,
      },
      summary,
      rounds,
      targets,
    });
  } finally {
    await worker?.stop();
    await api?.stop();
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench export failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});

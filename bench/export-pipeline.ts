// Export pipeline in one process (issue 18): the part of the export the COPY change touched,
// without the API, the queue, a fresh worker's start-up or the chunk writes — the invoice rows of
// the export tenant read, put through the formula guard and encoded as CSV into ChunkedFile (whose
// chunks go nowhere), by the paged read (before: rowSource, 2,000-row batches, one read ahead) and
// by the COPY stream (after: copyRows), alternated round by round in the same process, against a
// bare `COPY (SELECT the same columns) TO STDOUT` read through pg-copy-streams' `to(…)` (the stream
// copyOut uses) straight into a sink that drops it (what any node client pays for COPY). Figures: wall ms and this process's CPU ms (user + system)
// per path, medians of the rounds, and the ratios within each round, which hold up on a busy machine
// where the wall times do not.
// Tunables: BENCH_EXPORT_PIPELINE_ROUNDS (5).
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { to as copyTo } from 'pg-copy-streams';
import { TenantSqlPool } from '@benteng/database';
import { ChunkedFile, ExportStreams, neutralizeCell } from '@benteng/exports';
import { Scope } from '@benteng/tenancy';
import { copyRows, rowSource } from '../libs/exports/src/export-rows.js';
import { intFromEnv, logger, machine, median, openBenchDb, printTable, QUICK, round1, round2, seedTenants, tenantId, userId, writeResult } from './lib/harness.js';

const log = logger('export-pipeline');
const T = 11;
const ROWS = intFromEnv('BENCH_EXPORT_ROWS', QUICK ? 10_000 : 100_000, 100, 2_000_000);
const ROUNDS = intFromEnv('BENCH_EXPORT_PIPELINE_ROUNDS', QUICK ? 2 : 5, 1, 20);
const BATCH = 2_000;

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};

async function measure(work: () => Promise<number>): Promise<{ ms: number; cpuMs: number; rows: number }> {
  const c0 = cpu();
  const t0 = performance.now();
  const rows = await work();
  return { ms: performance.now() - t0, cpuMs: cpu() - c0, rows };
}

const discard = (): Writable =>
  new Writable({
    objectMode: true,
    write(_chunk, _encoding, callback) {
      callback();
    },
  });

async function main(): Promise<void> {
  const db = await openBenchDb(log);
  const streams = new ExportStreams(db.config);
  const raw = new TenantSqlPool({ connectionString: () => db.runtimeUrl, max: 1, applicationName: 'benteng-bench-copy' });
  try {
    await seedTenants(db, [{ t: T, invoices: ROWS, linesPerInvoice: 0 }], log);
    const scope = Scope.for(tenantId(T), { kind: 'user', userId: userId(T), role: 'owner' });
    const nowhere = () => new ChunkedFile(async () => undefined);

    const paged = () =>
      measure(async () => {
        const file = nowhere();
        const source = rowSource({ db: undefined as never, streams }, scope, 'owner', 'invoices', 'csv', {}, neutralizeCell);
        await file.write(source.header());
        let rows = 0;
        let next: Promise<{ text: string; count: number }> | undefined = source.next(BATCH);
        while (next) {
          const batch: { text: string; count: number } = await next;
          next = batch.count < BATCH ? undefined : source.next(BATCH);
          rows += batch.count;
          await file.write(batch.text);
        }
        await file.end();
        return rows;
      });
    const copied = () =>
      measure(async () => {
        const file = nowhere();
        await file.write(rowSource({ db: undefined as never, streams }, scope, 'owner', 'invoices', 'csv', {}, neutralizeCell).header());
        const rows = await copyRows(streams, scope, 'invoices', 'csv', {}, neutralizeCell, new Writable({ objectMode: true, write: (text: string, _e, cb) => void file.write(text).then(() => cb(), cb) }));
        await file.end();
        return rows ?? -1;
      });
    const bare = () =>
      measure(async () => {
        const source = await raw.run(scope, async (client) => {
          const copy = client.query(
            copyTo(
              `COPY (SELECT id, number, status, currency, customer_name, customer_email, customer_tax_id, total_minor, due_date, issued_at, created_at FROM invoices WHERE tenant_id = '${scope.tenantId}' ORDER BY id) TO STDOUT WITH (FORMAT csv, HEADER)`,
            ),
          );
          await pipeline(copy, discard());
          return copy;
        });
        // `COPY n` is read after the COMMIT (the CommandComplete may follow the stream's end).
        return source.rowCount;
      });

    await copied(); // warm-up (JIT, connections)
    await paged();
    const rounds: { paged: Awaited<ReturnType<typeof paged>>; copy: Awaited<ReturnType<typeof copied>>; bare: Awaited<ReturnType<typeof bare>> }[] = [];
    for (let i = 0; i < ROUNDS; i++) {
      // Alternated order, so neither path always runs first in a round.
      const round = i % 2 === 0 ? { paged: await paged(), copy: await copied(), bare: await bare() } : { bare: await bare(), copy: await copied(), paged: await paged() };
      rounds.push(round);
      log(
        `round ${i + 1}/${ROUNDS}: paged ${round.paged.ms.toFixed(0)} ms (${round.paged.cpuMs.toFixed(0)} CPU ms), COPY stream ${round.copy.ms.toFixed(0)} ms (${round.copy.cpuMs.toFixed(0)} CPU ms), bare COPY ${round.bare.ms.toFixed(0)} ms (${round.bare.cpuMs.toFixed(0)} CPU ms); rows ${round.paged.rows}/${round.copy.rows}/${round.bare.rows}`,
      );
    }
    const med = (f: (r: (typeof rounds)[number]) => number) => round1(median(rounds.map(f)));
    const summary = {
      rows: ROWS,
      rounds: ROUNDS,
      pagedMs: med((r) => r.paged.ms),
      copyStreamMs: med((r) => r.copy.ms),
      bareCopyMs: med((r) => r.bare.ms),
      pagedCpuMs: med((r) => r.paged.cpuMs),
      copyStreamCpuMs: med((r) => r.copy.cpuMs),
      bareCopyCpuMs: med((r) => r.bare.cpuMs),
      /** Medians of the per-round ratios. */
      pagedOverBareCopy: round2(median(rounds.map((r) => r.paged.ms / r.bare.ms))),
      copyStreamOverBareCopy: round2(median(rounds.map((r) => r.copy.ms / r.bare.ms))),
      copyStreamOverPaged: round2(median(rounds.map((r) => r.copy.ms / r.paged.ms))),
      copyStreamCpuOverPagedCpu: round2(median(rounds.map((r) => r.copy.cpuMs / r.paged.cpuMs))),
    };
    process.stdout.write('\n');
    printTable(
      ['path', 'wall ms (median)', 'CPU ms (median)', 'wall / bare COPY (median of rounds)'],
      [
        ['paged read (before)', summary.pagedMs.toFixed(0), summary.pagedCpuMs.toFixed(0), summary.pagedOverBareCopy.toFixed(2)],
        ['COPY stream + guard (after)', summary.copyStreamMs.toFixed(0), summary.copyStreamCpuMs.toFixed(0), summary.copyStreamOverBareCopy.toFixed(2)],
        ['bare COPY, CSV, dropped', summary.bareCopyMs.toFixed(0), summary.bareCopyCpuMs.toFixed(0), '1.00'],
      ],
    );
    await writeResult('export-pipeline', { benchmark: 'export-pipeline', generatedAt: new Date().toISOString(), machine: machine(db.postgresVersion), settings: { rows: ROWS, rounds: ROUNDS, batch: BATCH, quick: QUICK }, summary, rounds });
  } finally {
    await streams.onModuleDestroy();
    await raw.end();
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench export-pipeline failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});

// `npm run bench`: runs every benchmark in turn, each as its own process, and collects their
// figures in bench/results/latest.json. Benchmarks are not tests: nothing here asserts a timing.
// PostgreSQL: the server DATABASE_URL names (the benchmarks use a disposable `benteng_bench`
// database on it), or the embedded PostgreSQL under .data/pg-bench when DATABASE_URL is unset.
// All traffic stays on 127.0.0.1.
import { spawn } from 'node:child_process';
import { mkdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import { join } from 'node:path';
import { projectRoot, startLocalPostgres, type LocalPostgres } from '@benteng/database';
import { headlineFigures, mergeIntoFile } from './lib/latest.js';
import { printSummary } from './lib/summary.js';

const ALL = ['read-path', 'export', 'export-pipeline', 'webhook-fanout', 'revocation-limits', 'transaction-granularity'] as const;
// BENCH_ONLY=read-path,export runs a subset.
const BENCHMARKS = process.env.BENCH_ONLY ? ALL.filter((name) => process.env.BENCH_ONLY!.split(',').includes(name)) : ALL;
const LOCAL_PORT = Number(process.env.BENTENG_BENCH_PG_PORT ?? 54331);

function benchDatabaseUrl(adminUrl: string): string {
  const url = new URL(adminUrl);
  url.pathname = '/benteng_bench';
  return url.toString();
}

function runOne(name: string, env: NodeJS.ProcessEnv): Promise<number | null> {
  const entry = join(projectRoot(), 'dist', 'bench', `${name}.js`);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [entry], { env, stdio: 'inherit' });
    child.once('exit', (code) => resolve(code));
  });
}

let local: LocalPostgres | undefined;
try {
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    process.stdout.write(`bench: DATABASE_URL is not set; starting the embedded PostgreSQL on 127.0.0.1:${LOCAL_PORT}\n`);
    local = await startLocalPostgres('pg-bench', LOCAL_PORT);
    adminUrl = local.urlFor('postgres');
  }
  const env = { ...process.env, NODE_ENV: 'development', DATABASE_URL: benchDatabaseUrl(adminUrl), DATABASE_APP_URL: '', DATABASE_INTERNAL_URL: '' };
  const results: Record<string, unknown> = {};
  const failed: string[] = [];
  for (const name of BENCHMARKS) {
    process.stdout.write(`\n=== ${name} ===\n`);
    await rm(join(projectRoot(), 'bench', 'results', `${name}.json`), { force: true });
    if ((await runOne(name, env)) !== 0) {
      failed.push(name);
      continue;
    }
    results[name] = JSON.parse(await readFile(join(projectRoot(), 'bench', 'results', `${name}.json`), 'utf8'));
  }
  const dir = join(projectRoot(), 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const cpus = os.cpus();
  const machine = { cpus: cpus.length, cpuModel: cpus[0]?.model ?? 'unknown', memoryGiB: Math.round((os.totalmem() / 2 ** 30) * 10) / 10, node: process.version, loadAverage1mAtEnd: os.loadavg()[0] };
  // Merged, not replaced: a BENCH_ONLY run keeps the other benchmarks' figures (bench/lib/latest.ts).
  // The headline figures at the top level (issue 18): `ratios`, `openLoop` and `securityTax` from the
  // read path, `export` and `webhooks` from theirs (headlineFigures).
  const readPath = results['read-path'] as { ratios?: unknown; openLoop?: unknown; securityTax?: unknown } | undefined;
  const headline = {
    ...(readPath?.ratios ? { ratios: readPath.ratios } : {}),
    ...(readPath?.openLoop ? { openLoop: readPath.openLoop } : {}),
    ...(readPath?.securityTax ? { securityTax: readPath.securityTax } : {}),
    ...headlineFigures(results),
  };
  await mergeIntoFile(join(dir, 'latest.json'), { generatedAt: new Date().toISOString(), machine, ...headline, benchmarks: results, failed });
  process.stdout.write('\n');
  printSummary(results as Record<string, Record<string, any>>);
  process.stdout.write(`\nbench: wrote bench/results/latest.json (${Object.keys(results).length} benchmark(s)${failed.length ? `, failed: ${failed.join(', ')}` : ''})\n`);
  if (failed.length) process.exitCode = 1;
} finally {
  await local?.stop();
}

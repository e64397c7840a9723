// `npm run test:scale`: the scale tests (docs/scaling.md). Builds first (exports and worker specs
// start the compiled worker), then runs Vitest with test/scale/vitest.config.ts, whose global setup
// makes the run's test database as `npm test` does (DATABASE_URL, or the embedded PostgreSQL) and
// starts a real Redis Cluster (Debian redis-server, 3 masters + 3 replicas, `redis-cli --cluster
// create`) and PgBouncer 1.18 in transaction mode on free loopback ports. Every spec then uses the
// cluster (REDIS_CLUSTER_NODES) and reaches PostgreSQL as the runtime role through PgBouncer.
// Ends with one plain line, "Tests: N passed, N failed, N skipped", and the wall time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib/paths.mjs';

const started = Date.now();
const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const results = join(root, '.data', 'vitest-scale-results.json');
mkdirSync(join(root, '.data'), { recursive: true });
rmSync(results, { force: true });
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const args = ['run', '--config', join(root, 'test', 'scale', 'vitest.config.ts'), '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)];
const result = spawnSync(process.execPath, [vitest, ...args], { cwd: root, stdio: 'inherit' });
const seconds = Math.round((Date.now() - started) / 1000);

try {
  const report = JSON.parse(readFileSync(results, 'utf8'));
  const skipped = report.numPendingTests + (report.numTodoTests ?? 0);
  process.stdout.write(`\nTests: ${report.numPassedTests} passed, ${report.numFailedTests} failed, ${skipped} skipped (${seconds} s)\n`);
  if (report.numTotalTests === 0) {
    process.stderr.write('No test ran.\n');
    process.exit(1);
  }
  if (!report.success || report.numFailedTests > 0 || report.numFailedTestSuites > 0) process.exit(1);
} catch {
  process.stderr.write('Vitest wrote no results file.\n');
  process.exit(result.status || 1);
}
process.exit(result.status ?? 1);

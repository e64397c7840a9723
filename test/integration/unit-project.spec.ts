import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';

const run = promisify(execFile);
const root = projectRoot();
const vitest = join(root, 'node_modules', 'vitest', 'vitest.mjs');

/** Every spec file of the main suite: *.spec.ts under apps, libs and test, but not the fault tests. */
function specFiles(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory() && entry.name !== 'node_modules' && relative(root, path) !== join('test', 'faults')) walk(path);
      else if (entry.isFile() && entry.name.endsWith('.spec.ts')) files.push(relative(root, path));
    }
  };
  for (const dir of ['apps', 'libs', 'test']) walk(join(root, dir));
  return files.sort();
}

/** The spec files of each Vitest project of test/vitest.config.ts (`vitest list --filesOnly` needs no services). */
async function filesByProject(): Promise<Map<string, string[]>> {
  const { stdout } = await run(process.execPath, [vitest, 'list', '--config', join(root, 'test', 'vitest.config.ts'), '--filesOnly', '--json'], { cwd: root, maxBuffer: 16 * 1024 * 1024 });
  const byProject = new Map<string, string[]>();
  for (const { file, projectName } of JSON.parse(stdout) as { file: string; projectName: string }[]) {
    byProject.set(projectName, [...(byProject.get(projectName) ?? []), relative(root, file)]);
  }
  return byProject;
}

/** Unreachable services: nothing listens on port 1. */
const NO_SERVICES = { DATABASE_URL: 'postgresql://x@127.0.0.1:1/x', REDIS_URL: 'redis://127.0.0.1:1' };
const WITHOUT = ['DATABASE_APP_URL', 'DATABASE_INTERNAL_URL', 'AUTH_SIGNING_KEYS', 'AUTH_TOKEN_PEPPER', 'CI'];

/**
 * The Vitest projects (test/vitest.config.ts, docs/operations.md): unit, integration, e2e and
 * security. `npm test` runs them all, each spec file once; `npm test -- --project unit` runs the
 * unit specs beside the code and needs no build, PostgreSQL or Redis.
 */
describe('Vitest projects', () => {
  it('puts every spec file in exactly one project: unit beside the code, the others by folder under test/', async () => {
    const byProject = await filesByProject();
    expect([...byProject.keys()].sort()).toEqual(['e2e', 'integration', 'security', 'unit']);
    const listed = [...byProject.values()].flat();
    expect(listed.sort()).toEqual(specFiles());
    expect(new Set(listed).size).toBe(listed.length);
    for (const file of byProject.get('unit')!) expect(file).toMatch(/^(apps|libs)\//);
    for (const name of ['integration', 'e2e', 'security']) for (const file of byProject.get(name)!) expect(file).toMatch(new RegExp(`^test/${name}/`));
  });

  it('`npm test -- --project unit` passes with PostgreSQL and Redis unreachable, and runs only the unit specs', async () => {
    const unit = ((await filesByProject()).get('unit') ?? []).sort();
    const env = Object.fromEntries(Object.entries({ ...process.env, ...NO_SERVICES }).filter(([name]) => !WITHOUT.includes(name)));
    // The npm script is `node apps/dev/test.mjs` (package.json).
    const { stdout } = await run(process.execPath, [join(root, 'apps', 'dev', 'test.mjs'), '--project', 'unit'], { cwd: root, env, maxBuffer: 64 * 1024 * 1024 });
    expect(stdout).toMatch(/Tests: [1-9]\d* passed, 0 failed, 0 skipped\n$/);
    const report = JSON.parse(readFileSync(join(root, '.data', 'vitest-unit-results.json'), 'utf8')) as { success: boolean; testResults: { name: string }[] };
    expect(report.success).toBe(true);
    const ran = report.testResults.map((file) => relative(root, file.name)).sort();
    expect(ran).toEqual(unit);
  }, 300_000);
});

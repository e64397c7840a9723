import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';

const run = promisify(execFile);
const root = projectRoot();

/** Module specifiers that reach the Prisma client: the package itself or the generated client. */
const PRISMA = /^(@prisma\/client(\/.*)?|.*\/generated\/prisma(\/.*)?)$/;
const SPECIFIERS = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;

export function prismaImports(source: string): string[] {
  return [...source.matchAll(SPECIFIERS)].map((m) => m[1]!).filter((s) => PRISMA.test(s));
}

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((e) => e.isFile() && /\.(ts|mts|js|mjs)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !/\/(node_modules|dist|generated)\//.test(f));
}

/** Invariant 2: only libs/database imports the Prisma client; everything else goes through a Scope. */
describe('module boundaries', () => {
  it('finds every form of a Prisma import (the check itself can fail)', () => {
    const sample = [
      "import { PrismaClient } from '@prisma/client';",
      "import type { Prisma } from '../../libs/database/src/generated/prisma/client.js';",
      "export * from '@prisma/client/runtime/client';",
      "const m = await import('@prisma/client');",
      "const r = require('../generated/prisma/client.js');",
      "import '@prisma/client';",
      "import { Scope } from '@benteng/tenancy';",
    ].join('\n');
    expect(prismaImports(sample)).toEqual([
      '@prisma/client',
      '../../libs/database/src/generated/prisma/client.js',
      '@prisma/client/runtime/client',
      '@prisma/client',
      '../generated/prisma/client.js',
      '@prisma/client',
    ]);
  });

  it('no file outside libs/database imports the Prisma client', async () => {
    const files = (await Promise.all(['apps', 'libs', 'prisma', 'test', 'bench'].map((d) => sourceFiles(join(root, d)).catch(() => [])))).flat();
    expect(files.length).toBeGreaterThan(20);
    const violations: string[] = [];
    for (const file of files) {
      const path = relative(root, file);
      // This file's own samples above are the only expected hits outside libs/database.
      if (path.startsWith('libs/database/') || path === 'test/integration/boundaries.spec.ts') continue;
      for (const specifier of prismaImports(await readFile(file, 'utf8'))) violations.push(`${path} imports ${specifier}`);
    }
    expect(violations).toEqual([]);
  });

  it('the lint rule reports a Prisma import outside libs/database, and the repository lints clean', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'benteng-lint-'));
    const oxlint = join(root, 'node_modules', '.bin', 'oxlint');
    try {
      const probe = join(dir, 'probe.ts');
      await writeFile(probe, "import { PrismaClient } from '@prisma/client';\nexport const client = PrismaClient;\n");
      const failed = await run(oxlint, ['-c', join(root, '.oxlintrc.json'), probe]).then(
        () => null,
        (error: { stdout: string; code: number }) => error,
      );
      expect(failed?.code).toBe(1);
      expect(failed?.stdout).toContain('Only libs/database talks to Prisma');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    const clean = await run(oxlint, ['apps', 'libs', 'test', 'bench', 'prisma'], { cwd: root });
    expect(clean.stdout).toMatch(/Found 0 warnings and 0 errors/);
  });
});

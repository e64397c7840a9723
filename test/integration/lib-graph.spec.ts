import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { describe, expect, it } from 'vitest';

/** This file is test/integration/lib-graph.spec.ts: the repository root is two folders up. */
const root = resolve(import.meta.dirname, '..', '..');

/** Every module specifier of a source: `import`, `import type`, `export … from`, `import()`, `require()`. */
const SPECIFIERS = /(?:\bfrom\s*|\bimport\s*\(\s*|\brequire\s*\(\s*|^\s*import\s+)['"]([^'"]+)['"]/gm;
const LIB = /^@benteng\/([a-z0-9-]+)(?:\/.*)?$/;

export function specifiersOf(source: string): string[] {
  return [...source.matchAll(SPECIFIERS)].map((m) => m[1]!);
}

/** The libs a source imports through their `@benteng/<lib>` alias, values and types alike. */
export function libImports(source: string): string[] {
  return specifiersOf(source).flatMap((s) => LIB.exec(s)?.[1] ?? []);
}

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && /\.(ts|mts)$/.test(e.name))
    .map((e) => join(e.parentPath, e.name))
    .filter((f) => !/[/\\](node_modules|dist|generated)[/\\]/.test(f));
}

const libNames = (): string[] =>
  readdirSync(join(root, 'libs'), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort();

/** lib → the libs it imports (spec files included: a test dependency is a dependency), with the files that do. */
function libGraph(): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>();
  for (const lib of libNames()) {
    const edges = new Map<string, string[]>();
    for (const file of sourceFiles(join(root, 'libs', lib))) {
      for (const target of new Set(libImports(readFileSync(file, 'utf8')))) {
        if (target !== lib) edges.set(target, [...(edges.get(target) ?? []), relative(root, file)]);
      }
    }
    graph.set(lib, edges);
  }
  return graph;
}

/**
 * The cycles of a directed graph as the paths that close them (`a → b → a`): one per back edge of a
 * depth-first search from every node in name order, so at least one in every group of nodes that
 * reach each other, and the same answer every run.
 */
export function cyclesOf(graph: ReadonlyMap<string, Iterable<string>>): string[][] {
  const cycles: string[][] = [];
  const done = new Set<string>();
  const path: string[] = [];
  const visit = (node: string) => {
    const onPath = path.indexOf(node);
    if (onPath >= 0) {
      cycles.push([...path.slice(onPath), node]);
      return;
    }
    if (done.has(node)) return;
    path.push(node);
    for (const next of [...(graph.get(node) ?? [])].sort()) visit(next);
    path.pop();
    done.add(node);
  };
  for (const node of [...graph.keys()].sort()) visit(node);
  return cycles;
}

/** Relative specifiers that leave their lib for another lib or an app (only `@benteng/<lib>` crosses libs). */
function crossingRelativeImports(lib: string, file: string, source: string): string[] {
  const own = join(root, 'libs', lib) + sep;
  return specifiersOf(source)
    .filter((s) => s.startsWith('.'))
    .filter((s) => {
      const target = resolve(dirname(file), s);
      return !target.startsWith(own) && (target.startsWith(join(root, 'libs') + sep) || target.startsWith(join(root, 'apps') + sep));
    });
}

/** Names an import statement takes from `@benteng/database`, and whether it takes the whole namespace. */
const DATABASE_IMPORT = /\bimport\s+(?:type\s+)?(\*\s+as\s+\w+|\{[^}]*\}|\w+(?:\s*,\s*\{[^}]*\})?)\s*from\s*['"]@benteng\/database['"]/g;
export function prismaFromDatabase(source: string): string[] {
  return [...source.matchAll(DATABASE_IMPORT)]
    .map((m) => m[1]!)
    .filter((clause) => clause.startsWith('*') || /(?:^|[{,]\s*)(?:type\s+)?Prisma\b(?!\w)/.test(clause))
    .map((clause) => clause.replace(/\s+/g, ' '));
}

/**
 * The libs depend on each other without cycles (docs/architecture.md): a lib can be read, tested
 * and replaced from the bottom up (common, config, database, authz, tenancy, … the features), and
 * libs/database stays generic, knowing no tenancy, authorization or feature.
 */
describe('libs dependency graph', () => {
  it('finds a planted cycle, a self-contained one, and none in a chain (the check itself can fail)', () => {
    const chain = new Map([
      ['common', []],
      ['database', ['common']],
      ['authz', ['database', 'common']],
      ['tenancy', ['authz', 'common']],
    ]);
    expect(cyclesOf(chain)).toEqual([]);
    const planted = new Map([...chain, ['database', ['common', 'tenancy']]]);
    expect(cyclesOf(planted)).toEqual([['authz', 'database', 'tenancy', 'authz']]);
    expect(cyclesOf(new Map([['a', ['b']], ['b', ['a']], ['c', ['c']]]))).toEqual([['a', 'b', 'a'], ['c', 'c']]);
  });

  it('reads a lib import in every form, types included', () => {
    const sample = [
      "import type { Scope } from '@benteng/tenancy';",
      "import { TenantDatabase, type Prisma } from '@benteng/database';",
      "export { isUuid } from '@benteng/common';",
      "export type { AppAbility } from '@benteng/authz/src/ability.js';",
      "const m = await import('@benteng/jobs');",
      "import '@benteng/config';",
      "import { z } from 'zod';",
      "import { x } from './local.js';",
    ].join('\n');
    expect(libImports(sample)).toEqual(['tenancy', 'database', 'common', 'authz', 'jobs', 'config']);
  });

  it('has no cycle among libs/*', () => {
    const graph = libGraph();
    expect(graph.size).toBeGreaterThan(10);
    const cycles = cyclesOf(new Map([...graph].map(([lib, edges]) => [lib, [...edges.keys()]])));
    // Each cycle with the files that make its edges, so the message says what to move.
    const explained = cycles.map((cycle) =>
      [cycle.join(' → '), ...cycle.slice(1).map((to, i) => `  ${cycle[i]} → ${to}: ${graph.get(cycle[i]!)!.get(to)!.join(', ')}`)].join('\n'),
    );
    expect(explained, `cycles among libs:\n${explained.join('\n')}`).toEqual([]);
  });

  it('libs/database imports no other lib but common and config', () => {
    for (const target of libGraph().get('database')!.keys()) expect(['common', 'config'], `libs/database imports @benteng/${target}`).toContain(target);
  });

  it('no lib reaches into another lib or an app by a relative path', () => {
    const violations: string[] = [];
    for (const lib of libNames()) {
      for (const file of sourceFiles(join(root, 'libs', lib))) {
        for (const specifier of crossingRelativeImports(lib, file, readFileSync(file, 'utf8'))) violations.push(`${relative(root, file)} imports ${specifier}`);
      }
    }
    expect(violations).toEqual([]);
  });
});

/** Apps get generic helpers (keyset pagination, TenantDatabase, repositories) from libs, never the Prisma namespace. */
describe('apps and the Prisma namespace', () => {
  it('recognises Prisma taken from @benteng/database in every form (the check itself can fail)', () => {
    expect(prismaFromDatabase("import { isUniqueViolation, TenantDatabase, type Prisma } from '@benteng/database';")).toEqual(['{ isUniqueViolation, TenantDatabase, type Prisma }']);
    expect(prismaFromDatabase("import type { Prisma } from '@benteng/database';")).toEqual(['{ Prisma }']);
    expect(prismaFromDatabase("import {\n  Prisma,\n  PrismaService,\n} from '@benteng/database';")).toEqual(['{ Prisma, PrismaService, }']);
    expect(prismaFromDatabase("import * as db from '@benteng/database';")).toEqual(['* as db']);
    expect(prismaFromDatabase("import { PrismaService, type Keyset } from '@benteng/database';")).toEqual([]);
    expect(prismaFromDatabase("import { Prisma } from '@benteng/invoices';")).toEqual([]);
  });

  it('no file under apps/ imports Prisma (value or type) from @benteng/database', () => {
    const files = sourceFiles(join(root, 'apps'));
    expect(files.length).toBeGreaterThan(20);
    const violations = files.flatMap((file) => prismaFromDatabase(readFileSync(file, 'utf8')).map((clause) => `${relative(root, file)}: import ${clause}`));
    expect(violations).toEqual([]);
  });
});

import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { ASVS, CONTROL_IDS, CONTROLS, controlTagsOf, OWASP_API, tag } from './support/controls.js';
import type { KillSwitchScenario } from './support/kill-switch.js';

/**
 * The control catalog is the contract of the security suite (issue 8): every control it lists
 * points at code that exists and has at least one kill-switch scenario (an attack shown blocked
 * with the control and succeeding without it). A control added to the catalog without a scenario,
 * or a code location that moved away, fails here. Whether every control also has tagged attack
 * tests, and whether every kill switch was detected, is judged over a whole run's results by
 * `npm run security:report` (and by `npm test` after the suite, apps/dev/security-report.mjs).
 */
const root = process.cwd();
const scenarioDir = join(root, 'test', 'security', 'kill-switches');

/** Every scenario exported by the modules under test/security/kill-switches/, without running any. */
async function allScenarios(): Promise<{ module: string; scenario: KillSwitchScenario }[]> {
  const found: { module: string; scenario: KillSwitchScenario }[] = [];
  for (const file of readdirSync(scenarioDir).filter((f) => f.endsWith('.ts')).sort()) {
    const exports = (await import(join(scenarioDir, file))) as Record<string, unknown>;
    for (const value of Object.values(exports)) {
      if (!Array.isArray(value)) continue;
      for (const item of value) {
        if (item && typeof item === 'object' && 'control' in item && 'run' in item && 'target' in item) found.push({ module: file, scenario: item as KillSwitchScenario });
      }
    }
  }
  return found;
}

const scenarios = await allScenarios();

describe('the control catalog', () => {
  it.each(CONTROL_IDS)('%s names an OWASP API 2023 item, an ASVS 5.0 chapter, a threat and code', (id) => {
    const control = CONTROLS[id];
    expect(control.owasp.length).toBeGreaterThan(0);
    expect(control.owasp.every((item) => item in OWASP_API)).toBe(true);
    expect(control.asvs.length).toBeGreaterThan(0);
    expect(control.asvs.every((chapter) => chapter in ASVS)).toBe(true);
    expect(control.threat.length).toBeGreaterThan(20);
    expect(control.code.length).toBeGreaterThan(0);
  });

  it.each(CONTROL_IDS.flatMap((id) => CONTROLS[id].code.map((location) => [id, location] as const)))('%s: code location %s exists and defines its symbol', (_id, location) => {
    const [path, symbol] = location.split('#');
    const file = join(root, path!);
    expect(existsSync(file), `${path} does not exist`).toBe(true);
    expect(symbol, 'a code location is path#symbol').toBeTruthy();
    expect(definitionsIn(file), `${path} does not define ${symbol}`).toContain(symbol);
  });

  it('a code location is judged by definitions, not by text: a name only in a comment, a string or a call does not count', () => {
    const probe = join(root, '.data', 'catalog-probe.ts');
    mkdirSync(dirname(probe), { recursive: true });
    writeFileSync(probe, "// Guarded by ProbeGuard.\nconst note = 'ProbeGuard';\nProbeGuard();\nexport class Other { method(): void {} }\nexport const value = 1;\n");
    const names = definitionsIn(probe);
    expect(names).not.toContain('ProbeGuard');
    expect(names).toEqual(expect.arrayContaining(['Other', 'Other.method', 'method', 'value', 'note']));
  });

  it.each(CONTROL_IDS)('%s has at least one kill-switch scenario', (id) => {
    expect(scenarios.filter(({ scenario }) => scenario.control === id).map(({ scenario }) => scenario.attack)).not.toEqual([]);
  });

  it('every kill-switch module is run by a spec file, and every scenario names a known control and a distinct attack', () => {
    const specs = readdirSync(join(root, 'test', 'security')).filter((f) => f.endsWith('.spec.ts'));
    const specText = specs.map((f) => readFileSync(join(root, 'test', 'security', f), 'utf8')).join('\n');
    for (const module of new Set(scenarios.map((s) => s.module))) expect(specText, `no spec imports kill-switches/${module}`).toContain(`./kill-switches/${module.replace(/\.ts$/, '.js')}`);
    for (const { scenario } of scenarios) expect(CONTROL_IDS).toContain(scenario.control);
    const keys = scenarios.map(({ scenario }) => `${scenario.control}/${scenario.attack}`);
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('tags carry the control id, its OWASP items and its ASVS chapters, and are read back by the report', () => {
    const title = tag('TENANT-RLS', 'a query without its tenant condition reads nothing');
    expect(title).toBe('[TENANT-RLS · API1:2023 · ASVS V8,V15] a query without its tenant condition reads nothing');
    expect(controlTagsOf(`outer ${title} inner`)).toEqual(['TENANT-RLS']);
    expect(controlTagsOf('[NOT-A-CONTROL · API1:2023 · ASVS V8] x')).toEqual([]);
  });
});

describe('the threat model (docs/threat-model.md)', () => {
  const text = readFileSync(join(root, 'docs', 'threat-model.md'), 'utf8');
  const boundaries = text.split(/^## /m).slice(1);
  const STRIDE = ['Spoofing', 'Tampering', 'Repudiation', 'Information disclosure', 'Denial of service', 'Elevation of privilege'];

  it('covers every trust boundary with all six STRIDE categories, each pointing at controls', () => {
    expect(boundaries.map((b) => b.split('\n')[0])).toEqual([
      'Public API (`/v1`, tenant users)',
      'Partner API (`/partner/v1`, integrations)',
      'Internal API (`/internal/v1`, operators and services)',
      'Worker and queue (BullMQ jobs)',
      'PostgreSQL',
      'Redis',
      'Webhook egress (deliveries to customer endpoints)',
      'Webhook ingress (payment provider events)',
      'Deployment secrets and the repository (keys, passwords, peppers)',
    ]);
    for (const boundary of boundaries) {
      const rows = boundary.split('\n').filter((line) => STRIDE.some((category) => line.startsWith(`| ${category} |`)));
      expect(rows.map((row) => row.split('|')[1]!.trim())).toEqual(STRIDE);
      for (const row of rows) expect(controlIdsIn(row.split('|')[3]!), `${row}`).not.toEqual([]);
    }
  });

  it('names only controls of the catalog, and every control answers some threat', () => {
    const named = controlIdsIn(text);
    const unknown = [...text.matchAll(/\b[A-Z]{3,}(?:-[A-Z0-9]+)+\b/g)].map((m) => m[0]).filter((id) => !(id in CONTROLS) && !/^API\d|^RFC|^ASVS|^STRIDE/.test(id));
    expect(unknown).toEqual([]);
    expect(CONTROL_IDS.filter((id) => !named.includes(id))).toEqual([]);
  });
});

function controlIdsIn(text: string): string[] {
  return [...new Set([...text.matchAll(/\b[A-Z]{3,}(?:-[A-Z0-9]+)+\b/g)].map((m) => m[0]).filter((id) => id in CONTROLS))];
}

/**
 * The names a file defines, read with the TypeScript compiler API (not by searching its text, where
 * a comment or a call would do): top-level classes, functions, variables, interfaces, types and
 * enums, and each class member both as `member` and `Class.member`. For a SQL migration, the objects
 * it creates (`CREATE POLICY name`, `CREATE FUNCTION name`, …).
 */
function definitionsIn(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  if (file.endsWith('.sql')) {
    return [...text.matchAll(/\bCREATE\s+(?:OR\s+REPLACE\s+)?(?:POLICY|FUNCTION|TABLE|VIEW|TYPE|ROLE|INDEX|TRIGGER)\s+(?:IF\s+NOT\s+EXISTS\s+)?(?:[a-z_]+\.)?"?([A-Za-z_][A-Za-z0-9_]*)/gi)].map((m) => m[1]!);
  }
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.Latest, false, file.endsWith('.tsx') ? ts.ScriptKind.TSX : ts.ScriptKind.TS);
  const names: string[] = [];
  const nameOf = (node: { name?: ts.Node }) => (node.name && (ts.isIdentifier(node.name) || ts.isStringLiteral(node.name)) ? node.name.text : undefined);
  for (const statement of source.statements) {
    if (ts.isVariableStatement(statement)) {
      for (const declaration of statement.declarationList.declarations) if (ts.isIdentifier(declaration.name)) names.push(declaration.name.text);
    } else if (ts.isClassDeclaration(statement) || ts.isFunctionDeclaration(statement) || ts.isInterfaceDeclaration(statement) || ts.isTypeAliasDeclaration(statement) || ts.isEnumDeclaration(statement)) {
      const name = nameOf(statement);
      if (!name) continue;
      names.push(name);
      if (ts.isClassDeclaration(statement)) {
        for (const member of statement.members) {
          const memberName = nameOf(member);
          if (memberName) names.push(memberName, `${name}.${memberName}`);
        }
      }
    }
  }
  return names;
}

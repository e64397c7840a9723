import { execFile } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildInternalOpenApi } from '../../apps/api/src/internal/internal-openapi.js';
import { buildOpenApiDocument } from '../../apps/api/src/openapi/openapi.document.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { tag } from '../security/support/controls.js';

/**
 * The three OpenAPI documents pass the two common linters: Redocly's `recommended` rules
 * (redocly.yaml) with no error and no warning, and Spectral's `spectral:oas` plus the OWASP API
 * Security ruleset (.spectral.yaml) with no error. Every exception is a commented entry in
 * .spectral.yaml. Both tools run from node_modules/.bin, with nothing fetched (docs/openapi.md).
 * The second block states the fixes the linters cannot see whole: names, path parameters, rate
 * limits on every operation, and the optional headers documented as the API treats them.
 */
const root = join(import.meta.dirname, '..', '..');
const bin = (name: string) => join(root, 'node_modules', '.bin', name);
const run = promisify(execFile);
const DOCUMENTS = ['public', 'partner', 'internal'] as const;
type Name = (typeof DOCUMENTS)[number];

/** Beside the rulesets (.spectral.yaml's exceptions name these files), under the ignored .data/. */
const dir = join(root, '.data', 'openapi-lint');
const fileOf = (name: Name) => join(dir, `openapi.${name}.json`);

interface Finding {
  document: Name;
  rule: string;
  severity: 'error' | 'warn';
  where: string;
  message: string;
}
let redocly: Finding[];
let spectral: Finding[];
type Operation = {
  operationId?: string;
  summary?: string;
  parameters?: { name: string; in: string; required?: boolean }[];
  responses: Record<string, { headers?: Record<string, { $ref?: string }> }>;
};
type Document = { paths: Record<string, Record<string, Operation>>; components: { headers: Record<string, { required?: boolean }> } };
const documents = {} as Record<Name, Document>;
const operations = (name: Name) => Object.entries(documents[name].paths).flatMap(([path, item]) => Object.entries(item).map(([method, op]) => ({ label: `${method.toUpperCase()} ${path}`, path, op })));

const nameOf = (file: string): Name => DOCUMENTS.find((name) => resolve(root, file) === fileOf(name))!;

/** Runs a linter that exits non-zero on findings; its JSON report is on stdout either way. */
async function report(file: string, args: string[]): Promise<string> {
  // No telemetry, no update check: the lint runs offline (redocly.yaml also says `telemetry: off`).
  const env = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };
  try {
    // The running Node (24, as npm test uses), not whichever `node` is first on PATH.
    return (await run(process.execPath, [file, ...args], { cwd: root, env, maxBuffer: 64 * 1024 * 1024 })).stdout;
  } catch (error) {
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    if (!stdout) throw new Error(`${file} ${args.join(' ')} failed: ${stderr}`);
    return stdout;
  }
}

async function runRedocly(): Promise<Finding[]> {
  const out = await report(bin('redocly'), ['lint', ...DOCUMENTS.map(fileOf), '--config', join(root, 'redocly.yaml'), '--format', 'json']);
  // One JSON report per file, one after the other.
  const reports = JSON.parse(`[${out.replace(/^\}\{$/gm, '},{')}]`) as { problems: { ruleId: string; severity: string; message: string; location: { pointer: string; source: { ref: string } }[] }[] }[];
  const problems = reports.flatMap((r) => r.problems);
  return problems.map((p) => ({
    document: nameOf(p.location[0]!.source.ref),
    rule: p.ruleId,
    severity: p.severity === 'error' ? 'error' : 'warn',
    where: p.location[0]?.pointer ?? '',
    message: p.message,
  }));
}

async function runSpectral(): Promise<Finding[]> {
  const out = await report(bin('spectral'), ['lint', ...DOCUMENTS.map(fileOf), '--ruleset', join(root, '.spectral.yaml'), '--format', 'json', '--quiet']);
  const results = JSON.parse(out.slice(out.indexOf('['))) as { code: string; severity: number; message: string; path: string[]; source: string }[];
  return results.map((r) => ({ document: nameOf(r.source), rule: r.code, severity: r.severity === 0 ? 'error' : 'warn', where: r.path.join('.'), message: r.message }));
}

beforeAll(async () => {
  mkdirSync(dir, { recursive: true });
  const api: TestApi = await buildApi();
  const internal: TestApi = await buildInternalApi();
  try {
    Object.assign(documents, {
      public: buildOpenApiDocument(api.app, 'public'),
      partner: buildOpenApiDocument(api.app, 'partner'),
      internal: buildInternalOpenApi(internal.app),
    });
    for (const name of DOCUMENTS) writeFileSync(fileOf(name), JSON.stringify(documents[name], null, 2));
  } finally {
    await internal.close();
    await api.close();
  }
  // Each tool once over the three files, both at once: most of their time is start-up.
  [redocly, spectral] = await Promise.all([runRedocly(), runSpectral()]);
}, 120_000);

const summary = (findings: Finding[]) => findings.slice(0, 20).map((f) => `${f.severity} ${f.rule} at ${f.where}: ${f.message}`);

describe('OpenAPI documents under the linters', () => {
  for (const name of DOCUMENTS) {
    it(`${name}: Redocly (recommended) reports no error and no warning`, () => {
      expect(redocly.every((f) => DOCUMENTS.includes(f.document))).toBe(true);
      expect(summary(redocly.filter((f) => f.document === name))).toEqual([]);
    });
    it(`${name}: Spectral (spectral:oas + OWASP API Security) reports no error`, () => {
      expect(spectral.every((f) => DOCUMENTS.includes(f.document))).toBe(true);
      expect(summary(spectral.filter((f) => f.document === name && f.severity === 'error'))).toEqual([]);
    });
  }
});

describe(tag('API-INVENTORY', 'the OpenAPI documents state what the API does: names, path parameters, rate limits, optional headers'), () => {
  for (const name of DOCUMENTS) {
    it(`${name}: every operation has a summary and a readable operationId, unique in its document`, () => {
      const ids = operations(name).map(({ op }) => op.operationId);
      expect(operations(name).filter(({ op }) => !/^[a-z][A-Za-z]+$/.test(op.operationId ?? '') || !op.summary).map(({ label }) => label)).toEqual([]);
      expect(new Set(ids).size).toBe(ids.length);
    });

    it(`${name}: every path parameter is defined, and every limited operation documents RateLimit headers and 429 with Retry-After`, () => {
      const required = (ref: { $ref?: string } | undefined) => documents[name].components.headers[ref?.$ref?.replace('#/components/headers/', '') ?? '']?.required === true;
      const undefinedParameters = operations(name).filter(({ path, op }) => {
        const templated = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]).sort();
        return JSON.stringify(op.parameters?.filter((p) => p.in === 'path').map((p) => p.name).sort() ?? []) !== JSON.stringify(templated);
      });
      expect(undefinedParameters.map(({ label }) => label)).toEqual([]);
      const withoutLimits = operations(name).filter(({ op }) => {
        const success = Object.entries(op.responses).filter(([status]) => status.startsWith('2'));
        const counted = success.length > 0 && success.every(([, r]) => required(r.headers?.['RateLimit']) && required(r.headers?.['RateLimit-Policy']));
        return !counted || !required(op.responses['429']?.headers?.['Retry-After']);
      });
      expect(withoutLimits.map(({ label }) => label)).toEqual([]);
    });
  }

  it('documents Idempotency-Key and If-Match as optional, as IdempotencyInterceptor and parseIfMatch treat them', () => {
    const headers = (['public', 'partner'] as const).flatMap((name) =>
      operations(name).flatMap(({ label, op }) => (op.parameters ?? []).filter((p) => p.name === 'Idempotency-Key' || p.name === 'If-Match').map((p) => ({ parameter: `${label} ${p.name}`, required: p.required }))),
    );
    expect(headers.length).toBeGreaterThan(10);
    expect(headers.filter((h) => h.required !== false)).toEqual([]);
    const create = documents.public.paths['/v1/invoices']!['post']!;
    expect(create.parameters).toContainEqual(expect.objectContaining({ name: 'Idempotency-Key', required: false }));
    expect(create.responses['201']!.headers!['Idempotent-Replayed']).toEqual({ $ref: '#/components/headers/Idempotent-Replayed' });
  });
});

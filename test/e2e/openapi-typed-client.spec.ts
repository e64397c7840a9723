import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildOpenApiDocument } from '../../apps/api/src/openapi/openapi.document.js';
import { buildApi, type TestApi } from '../support/api.js';
import { tenantWithPassword } from '../security/support/fixtures.js';

/**
 * The public OpenAPI document is usable as it is: examples/typed-client/schema.ts is what
 * openapi-typescript generates from it today (so the committed client cannot drift from the API),
 * the example client type-checks against it with its own strict tsconfig, and, run as its own Node
 * process against a real listener on 127.0.0.1, it logs in, creates invoices, lists them and
 * follows a page cursor.
 */
const root = join(import.meta.dirname, '..', '..');
const example = join(root, 'examples', 'typed-client');
const run = promisify(execFile);
const node = (args: string[], env: Record<string, string> = {}) => run(process.execPath, args, { cwd: root, env: { ...process.env, ...env }, maxBuffer: 16 * 1024 * 1024 });

let api: TestApi;
let baseUrl: string;
let login: { email: string; password: string; tenant: string };
let documentFile: string;

beforeAll(async () => {
  api = await buildApi();
  await api.app.listen(0, '127.0.0.1');
  baseUrl = `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
  const { tenant, password } = await tenantWithPassword('typed-client');
  login = { email: tenant.users.owner.email, password, tenant: tenant.slug };
  const dir = join(root, '.data', 'typed-client');
  mkdirSync(dir, { recursive: true });
  documentFile = join(dir, 'openapi.public.json');
  writeFileSync(documentFile, JSON.stringify(buildOpenApiDocument(api.app, 'public'), null, 2));
});
afterAll(() => api?.close());

describe('the typed example client (openapi-typescript + openapi-fetch)', () => {
  it('commits the types openapi-typescript generates from the current public document', async () => {
    const generated = join(root, '.data', 'typed-client', 'schema.ts');
    await node([join(root, 'node_modules', 'openapi-typescript', 'bin', 'cli.js'), documentFile, '--output', generated]);
    // On failure: node_modules/.bin/openapi-typescript <document> -o examples/typed-client/schema.ts (docs/openapi.md).
    expect(readFileSync(join(example, 'schema.ts'), 'utf8'), 'examples/typed-client/schema.ts is stale').toBe(readFileSync(generated, 'utf8'));
  });

  it('type-checks with its own strict tsconfig', async () => {
    const tsc = await node([join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', join(example, 'tsconfig.json')]).catch((error: { stdout?: string }) => ({ stdout: error.stdout ?? String(error) }));
    expect(tsc.stdout).toBe('');
  });

  it('logs in, creates invoices (with and without Idempotency-Key), lists them and follows the cursor, against a real listener', async () => {
    const { stdout } = await node([join(example, 'client.ts')], { BENTENG_URL: baseUrl, BENTENG_EMAIL: login.email, BENTENG_PASSWORD: login.password, BENTENG_TENANT: login.tenant });
    const result = JSON.parse(stdout) as { tenantRole: string; created: { id: string; number: string; replayed: boolean }[]; pages: { numbers: string[]; nextCursor: string | null }[] };
    expect(result.tenantRole).toBe('owner');
    const [first, retry, second] = result.created;
    // The retry with the same key is the stored answer, not a second invoice; the keyless create is a new one.
    expect(retry).toEqual({ ...first, replayed: true });
    expect(second!.id).not.toBe(first!.id);
    // Newest first, one per page: the second page is reached only through the first page's cursor.
    expect(result.pages).toHaveLength(2);
    expect(result.pages[0]).toEqual({ numbers: [second!.number], nextCursor: expect.any(String) });
    expect(result.pages[1]!.numbers).toEqual([first!.number]);
  });
});

/**
 * A typed client of the public API, generated from its OpenAPI document and nothing else:
 * `schema.ts` is openapi-typescript's output for /v1/openapi.json, and openapi-fetch turns it into
 * checked calls (paths, parameters, bodies and responses are all typed; a wrong field does not
 * compile). It logs in, creates two invoices (one with an Idempotency-Key, one without), lists
 * them one per page and follows the cursor to the second page.
 *
 *   BENTENG_URL=http://127.0.0.1:3000 BENTENG_EMAIL=… BENTENG_PASSWORD=… [BENTENG_TENANT=slug] node examples/typed-client/client.ts
 *
 * test/e2e/openapi-typed-client.spec.ts type-checks it with its own tsconfig, checks schema.ts is
 * current, and runs it against a real listener; docs/openapi.md explains how to regenerate.
 */
import { randomUUID } from 'node:crypto';
import createClient, { type Middleware } from 'openapi-fetch';
import type { components, paths } from './schema.ts';

type Invoice = components['schemas']['Invoice'];

export interface ExampleResult {
  tenantRole: string;
  created: { id: string; number: string; replayed: boolean }[];
  pages: { numbers: string[]; nextCursor: string | null }[];
}

/** Throws with the problem+json the API answered, so a failure says what went wrong. */
function ok<T>(result: { data?: T; error?: unknown; response: Response }, what: string): T {
  if (result.data === undefined) throw new Error(`${what}: ${result.response.status} ${JSON.stringify(result.error)}`);
  return result.data;
}

export async function runExample(options: { baseUrl: string; email: string; password: string; tenant?: string }): Promise<ExampleResult> {
  const client = createClient<paths>({ baseUrl: options.baseUrl });

  const tokens = ok(await client.POST('/v1/auth/login', { body: { email: options.email, password: options.password, ...(options.tenant ? { tenant: options.tenant } : {}) } }), 'login');
  const auth: Middleware = {
    onRequest({ request }) {
      request.headers.set('authorization', `Bearer ${tokens.accessToken}`);
      return request;
    },
  };
  client.use(auth);

  const run = randomUUID().slice(0, 8);
  const created: ExampleResult['created'] = [];
  const newInvoice = (n: number) => ({
    number: `EX-${run}-${n}`,
    currency: 'IDR' as const,
    customer: { name: 'PT Contoh', email: 'billing@contoh.example' },
    lines: [{ description: 'Consulting', quantity: 2, unitPriceMinor: 150_000 }],
  });

  // Idempotency-Key is optional: with one, a retry (same key, same body) replays the stored answer.
  const key = randomUUID();
  const first = await client.POST('/v1/invoices', { body: newInvoice(1), params: { header: { 'Idempotency-Key': key } } });
  const invoice: Invoice = ok(first, 'create');
  created.push({ id: invoice.id, number: invoice.number, replayed: false });
  const retry = await client.POST('/v1/invoices', { body: newInvoice(1), params: { header: { 'Idempotency-Key': key } } });
  created.push({ id: ok(retry, 'retry').id, number: ok(retry, 'retry').number, replayed: retry.response.headers.get('idempotent-replayed') === 'true' });
  // Without the header the create simply runs.
  const second = ok(await client.POST('/v1/invoices', { body: newInvoice(2) }), 'create without key');
  created.push({ id: second.id, number: second.number, replayed: false });

  const pages: ExampleResult['pages'] = [];
  let cursor: string | undefined;
  for (let i = 0; i < 2; i++) {
    const page = ok(await client.GET('/v1/invoices', { params: { query: { limit: 1, sort: '-createdAt', ...(cursor ? { cursor } : {}) } } }), 'list');
    pages.push({ numbers: page.items.map((item) => item.number), nextCursor: page.nextCursor });
    if (!page.nextCursor) break;
    cursor = page.nextCursor;
  }

  const me = ok(await client.GET('/v1/me'), 'me');
  return { tenantRole: me.role, created, pages };
}

if (import.meta.main) {
  const env = (name: string) => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is required`);
    return value;
  };
  const result = await runExample({ baseUrl: env('BENTENG_URL'), email: env('BENTENG_EMAIL'), password: env('BENTENG_PASSWORD'), ...(process.env['BENTENG_TENANT'] ? { tenant: process.env['BENTENG_TENANT'] } : {}) });
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

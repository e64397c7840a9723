import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';
import { oauthErrorRoutes } from '../../apps/api/src/partner/oauth-error.filter.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import type { TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { createPartnerClient, createPartnerKey } from '../support/partners.js';
import { PublicClient, testPassword, type ApiResponse } from '../support/public-api.js';
import { tag } from './support/controls.js';
import { answerViolations, bodyOf, cursorArb, fuzzSeed, invalidBodyArb, operationsOf, resolve, validArb, type OpenApiDoc, type OperationEntry, type Parameter } from './support/fuzz-schema.js';

/**
 * Property-based fuzzing from the OpenAPI documents the API publishes: /v1/openapi.json,
 * /partner/v1/openapi.json and, on the internal listener with signed requests,
 * /internal/v1/openapi.json. For every operation, fast-check derives requests from the operation's
 * parameters and request-body schema, both valid-shaped and mutated (wrong types, unknown and
 * prototype keys, overlong strings, huge arrays, deep nesting, arbitrary unicode in paths, queries
 * and headers; undocumented and repeated query keys; crafted pagination cursors), sent with a credential that reaches the handlers: the tenant owner's access token,
 * a partner API key with every scope, a signed request of a platform-admin operator.
 *
 * Properties of every answer: never a 5xx; every 4xx/5xx is application/problem+json whose
 * `status` is the HTTP status (on the token endpoint: RFC 6749 JSON with a known `error` code); no error body carries a stack frame, a file path, node_modules,
 * Prisma, SQL or an internal error name.
 *
 * Runs are bounded (FUZZ_RUNS scales them) and seeded: FUZZ_SEED (default a constant) is printed
 * with every failure, with the counterexample, and written to .data/security/fuzz/, so
 * `FUZZ_SEED=<seed> npm test -- test/security/openapi-fuzz.spec.ts` replays it.
 */
const SEED = fuzzSeed();
const SCALE = Number(process.env.FUZZ_RUNS ?? '1') || 1;
const RUNS = { public: Math.ceil(10 * SCALE), partner: Math.ceil(24 * SCALE), internal: Math.ceil(8 * SCALE) };
const GENEROUS = [1_000_000, 60];
const RATE_LIMIT_POLICY = JSON.stringify(
  Object.fromEntries(
    ['anonymous', 'user', 'partner:free', 'partner:standard', 'partner:premium', 'operator'].map((c) => [c, { auth: GENEROUS, write: GENEROUS, read: GENEROUS, search: GENEROUS, export: GENEROUS }]),
  ),
);
const env = { RATE_LIMIT_POLICY };

const api = await buildApi({ env });
const internal = await buildInternalApi({ env });
/** Operations whose errors are RFC 6749 JSON (the token endpoint), checked as such; problem+json everywhere else. */
const oauthRoutes = oauthErrorRoutes(api.app);
afterAll(async () => {
  await api.close();
  await internal.close();
});

const owner = ownerPool();
const client = new PublicClient(api);
const serviceKey = internalServiceKeys(loadConfig()).keys.get('derived')!;
const operatorId = randomUUID();
await owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, 'Fuzz operator', $3, 'active')`, [
  operatorId,
  `fuzz-${operatorId}@benteng.example`,
  ['platform-admin', 'security', 'support'],
]);

/** Percent-encodes the UTF-8 bytes of any string (lone surrogates become U+FFFD, as a client would send). */
const pct = (text: string): string =>
  [...Buffer.from(text, 'utf8')].map((b) => (/[A-Za-z0-9\-._~]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');

interface Sent {
  method: string;
  url: string;
  headers: Record<string, string>;
  payload?: string | Buffer;
}

async function inject(app: TestApi, sent: Sent): Promise<ApiResponse> {
  const res = await app.app.getHttpAdapter().getInstance().inject({ method: sent.method as 'GET', url: sent.url, headers: sent.headers, remoteAddress: client.ip, ...(sent.payload !== undefined ? { payload: sent.payload } : {}) });
  let body: unknown;
  try {
    body = res.body ? JSON.parse(res.body) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.statusCode, headers: res.headers, text: res.body, body };
}

/** A signed internal request of the fuzz operator, over the exact path, query and body sent. */
function signInternal(sent: Sent): Sent {
  const body = sent.payload === undefined ? undefined : String(sent.payload);
  const headers = signServiceRequest({ method: sent.method, url: sent.url, keyId: serviceKey.kid, secret: serviceKey.secret, operatorId, reason: 'fuzzing the internal surface', body });
  return { ...sent, headers: { ...sent.headers, ...headers } };
}

const signedGet = (path: string) => inject(internal, signInternal({ method: 'GET', url: path, headers: {} }));

const docs: Record<'public' | 'partner' | 'internal', OpenApiDoc> = {
  public: (await client.call('GET', '/v1/openapi.json')).body as OpenApiDoc,
  partner: (await client.call('GET', '/partner/v1/openapi.json')).body as OpenApiDoc,
  internal: (await signedGet('/internal/v1/openapi.json')).body as OpenApiDoc,
};

/** Printable ASCII (a header value a client can send at all), valid-looking or not. */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 });
/** Any text a client can put in a path segment or query value, including non-BMP and lone surrogates. */
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.constantFrom('', '..', '%2e%2e', '-1', '0', '1e309', 'null', 'undefined', "1' OR '1'='1", '00000000-0000-0000-0000-000000000000', '\u0000', '\u202e', 'x'.repeat(5000), '[object Object]', '__proto__'),
);

const valueText = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value) ?? '');

/** A value for a parameter: valid-shaped for its schema, or any text (a cursor: also a crafted one, issue 14). */
const paramArb = (doc: OpenApiDoc, p: Parameter): fc.Arbitrary<string> =>
  p.in === 'query' && p.name === 'cursor'
    ? fc.oneof({ weight: 4, arbitrary: cursorArb }, { weight: 1, arbitrary: anyText })
    : fc.oneof({ weight: 2, arbitrary: validArb(doc, p.schema).map(valueText) }, { weight: 1, arbitrary: anyText });

/**
 * Query entries beyond the documented ones: none mostly, else an undocumented key (a paging key on
 * a route that does not page, a prototype key, arbitrary text) or a documented key given twice.
 */
const extraQueryArb = (documented: string[]): fc.Arbitrary<[string, string][]> =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constant<[string, string][]>([]) },
    {
      weight: 2,
      arbitrary: fc.array(fc.tuple(fc.oneof(fc.constantFrom('cursor', 'limit', 'sort', 'foo', 'tenantId', '__proto__', 'constructor', ...documented), fc.string({ maxLength: 12 })), anyText), { minLength: 1, maxLength: 3 }),
    },
  );

const MULTIPART_BOUNDARY = `----fuzz${randomBytes(6).toString('hex')}`;
function multipart(fields: Record<string, string>, fileName: string, content: string): Buffer {
  const parts = Object.entries(fields).map(([name, value]) => `--${MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="${name.replace(/["\r\n]/g, '')}"\r\n\r\n${value}\r\n`);
  return Buffer.from(`${parts.join('')}--${MULTIPART_BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${fileName.replace(/["\r\n]/g, '')}"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n--${MULTIPART_BOUNDARY}--\r\n`, 'utf8');
}

/**
 * The RFC 9421 signature headers of the partner document are a credential, like Authorization: a
 * fuzzed value is always (rightly) a 401 `signature.*`, which would keep every fuzzed partner request
 * from reaching validation. Their refusals are attacked in test/security/request-signing.spec.ts.
 */
const CREDENTIAL_HEADERS = new Set(['Signature', 'Signature-Input', 'Content-Digest']);

/** Every request fast-check may make for an operation (without credentials). */
function requestArb(doc: OpenApiDoc, entry: OperationEntry): fc.Arbitrary<Sent> {
  const params = (entry.op.parameters ?? []).filter((p) => p.in === 'path' || p.in === 'query' || (p.in === 'header' && !CREDENTIAL_HEADERS.has(p.name)));
  const paramsArb = fc.record(Object.fromEntries(params.map((p) => [`${p.in}:${p.name}`, p.in === 'path' ? paramArb(doc, p) : fc.option(p.in === 'header' ? fc.oneof(validArb(doc, p.schema).map(valueText), headerText) : paramArb(doc, p), { nil: undefined })])));
  const body = bodyOf(doc, entry.op);
  const bodyArb: fc.Arbitrary<{ payload?: string | Buffer; contentType?: string }> = !body
    ? fc.oneof({ weight: 3, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((v) => ({ payload: JSON.stringify(v), contentType: 'application/json' })) })
    : body.contentType === 'multipart/form-data'
      ? fc
          .tuple(
            fc.oneof(validArb(doc, { ...body.schema, properties: Object.fromEntries(Object.entries(body.schema.properties ?? {}).filter(([k]) => k !== 'file')), required: [] }), fc.dictionary(fc.string({ maxLength: 12 }), fc.string({ maxLength: 40 }), { maxKeys: 4 })),
            fc.string({ unit: 'binary', maxLength: 40 }),
            fc.string({ maxLength: 200 }),
          )
          .map(([fields, fileName, content]) => ({
            payload: multipart(Object.fromEntries(Object.entries(fields as Record<string, unknown>).filter(([, v]) => v !== undefined).map(([k, v]) => [k, valueText(v)])), fileName, content),
            contentType: `multipart/form-data; boundary=${MULTIPART_BOUNDARY}`,
          }))
      : fc.oneof(validArb(doc, body.schema), invalidBodyArb(doc, body.schema), fc.jsonValue({ maxDepth: 4 })).map((v) => ({ payload: JSON.stringify(v) ?? 'null', contentType: 'application/json' }));
  const documented = params.filter((p) => p.in === 'query').map((p) => p.name);
  // On a paged route, half the requests carry the cursor as their only query parameter, so a bad
  // cursor is not hidden behind another parameter's refusal.
  const cursorOnly = documented.includes('cursor') ? fc.boolean() : fc.constant(false);
  return fc.tuple(paramsArb, bodyArb, extraQueryArb(documented), cursorOnly).map(([values, b, extra, onlyCursor]) => {
    let path = entry.path;
    const query = new URLSearchParams();
    if (!onlyCursor) for (const [key, value] of extra) query.append(key, value);
    const headers: Record<string, string> = {};
    for (const p of params) {
      const value = values[`${p.in}:${p.name}`];
      if (value === undefined || (onlyCursor && p.in === 'query' && p.name !== 'cursor')) continue;
      if (p.in === 'path') path = path.replace(`{${p.name}}`, pct(value) || '%20');
      else if (p.in === 'query') query.append(p.name, value);
      else headers[p.name.toLowerCase()] = value;
    }
    const search = [...query.entries()].map(([k, v]) => `${pct(k)}=${pct(v)}`).join('&');
    if (b.contentType) headers['content-type'] = b.contentType;
    return { method: entry.method, url: search ? `${path}?${search}` : path, headers, ...(b.payload !== undefined ? { payload: b.payload } : {}) };
  });
}

/** A seed per operation derived from the run's seed, so one FUZZ_SEED replays every operation. */
const seedOf = (label: string): number => (SEED ^ createHash('sha256').update(label).digest().readInt32LE(0)) | 0;

/** Writes the failing seed and counterexample where the security report picks up its records. */
function record(surface: string, label: string, seed: number, detail: string): void {
  mkdirSync('.data/security/fuzz', { recursive: true });
  const file = `.data/security/fuzz/${surface}-${label.replace(/[^A-Za-z0-9]+/g, '_')}.json`;
  writeFileSync(file, JSON.stringify({ surface, operation: label, FUZZ_SEED: SEED, operationSeed: seed, detail }, null, 2));
}

const SESSION_ENDING = new Set(['POST /v1/auth/logout', 'POST /v1/auth/logout-all']);

/** Statuses seen per surface: the fuzzing must reach handlers (2xx) and validation (400), not only guards. */
const seen: Record<string, Map<number, number>> = { public: new Map(), partner: new Map(), internal: new Map() };

describe(tag('ERROR-PROBLEM', `OpenAPI-driven fuzzing (FUZZ_SEED=${SEED})`), () => {
  let tenant: TestTenant;
  let password: string;
  let ownerToken: string;
  let partnerKey: string;

  beforeAll(async () => {
    password = testPassword();
    tenant = await createTenantWithLogins(owner, 'fuzz', password);
    ownerToken = (await client.login(tenant.users.owner.email, password)).accessToken;
    const partner = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read', 'invoices:write', 'tickets:read', 'tickets:write', 'documents:read'] });
    partnerKey = (await createPartnerKey(owner, tenant.id, partner.clientId, tenant.users.owner.id)).key;
  });

  it('has three documents to fuzz, each with operations', () => {
    for (const [surface, doc] of Object.entries(docs)) expect(operationsOf(doc).length, `operations in the ${surface} document`).toBeGreaterThan(0);
    expect(operationsOf(docs.internal).some((o) => o.method === 'POST'), 'internal write operations').toBe(true);
  });

  for (const surface of ['public', 'partner', 'internal'] as const) {
    const doc = docs[surface];
    const app = surface === 'internal' ? internal : api;
    describe(`${surface} document`, () => {
      it.each(operationsOf(doc).map((o) => [`${o.method} ${o.path}`, o] as const))('%s: no 5xx, every error problem+json with its status, no internals', async (label, entry) => {
        const seed = seedOf(label);
        const anonymous = (entry.op.security ?? []).length === 0 || (entry.op.security ?? []).some((s) => Object.keys(s).length === 0);
        const credential = async (): Promise<Record<string, string>> => {
          if (surface === 'internal' || anonymous) return {};
          if (surface === 'partner') return { authorization: `Bearer ${partnerKey}` };
          // Logging out ends the session: those operations get a session of their own each time.
          if (SESSION_ENDING.has(`${entry.method} ${entry.routePath}`)) return { authorization: `Bearer ${(await client.login(tenant.users.member.email, password)).accessToken}` };
          return { authorization: `Bearer ${ownerToken}` };
        };
        const numRuns = SESSION_ENDING.has(`${entry.method} ${entry.routePath}`) ? Math.min(RUNS[surface], 5) : RUNS[surface];
        let failure: string | undefined;
        try {
          await fc.assert(
            fc.asyncProperty(requestArb(doc, entry), async (request) => {
              const withAuth = { ...request, headers: { ...request.headers, ...(await credential()) } };
              const res = await inject(app, surface === 'internal' ? signInternal(withAuth) : withAuth);
              seen[surface]!.set(res.status, (seen[surface]!.get(res.status) ?? 0) + 1);
              const violations = answerViolations(res, surface !== 'internal' && oauthRoutes.has(`${entry.method} ${entry.routePath}`) ? 'oauth' : 'problem');
              if (violations.length > 0) throw new Error(`${request.method} ${request.url.slice(0, 300)} -> ${res.status}: ${violations.join('; ')}; body ${res.text.slice(0, 300)}`);
            }),
            { seed, numRuns, endOnFailure: true, includeErrorInReport: true },
          );
        } catch (error) {
          const detail = error instanceof Error ? error.message : String(error);
          record(surface, label, seed, detail);
          failure = `fuzzing ${label} failed; replay with FUZZ_SEED=${SEED} (operation seed ${seed})\n${detail}`;
        }
        expect(failure).toBeUndefined();
      });
    });
  }

  it('answers what the router refuses by itself (an overlong path parameter) as problem+json, without echoing the path', async () => {
    const long = 'z'.repeat(400);
    for (const [app, sent] of [
      [api, { method: 'GET', url: `/v1/invoices/${long}`, headers: { authorization: `Bearer ${ownerToken}` } }],
      [api, { method: 'GET', url: `/partner/v1/tickets/${long}`, headers: { authorization: `Bearer ${partnerKey}` } }],
      [internal, signInternal({ method: 'POST', url: `/internal/v1/tenants/${long}/suspend`, headers: {} })],
    ] as const) {
      const res = await inject(app, sent);
      expect(answerViolations(res), `${sent.url.slice(0, 40)}… -> ${res.status} ${res.text.slice(0, 120)}`).toEqual([]);
      expect(res.status).toBeGreaterThanOrEqual(400);
      expect(res.text).not.toContain(long);
    }
  });

  it('reached the handlers and the validation of every surface, not only its guards', () => {
    for (const [surface, statuses] of Object.entries(seen)) {
      const codes = [...statuses.keys()];
      expect(codes.some((s) => s >= 200 && s < 300), `${surface}: some fuzzed requests succeeded (${JSON.stringify(Object.fromEntries(statuses))})`).toBe(true);
      expect(codes, `${surface}: some fuzzed requests were refused by validation`).toContain(400);
    }
  });

  it('still answers the owner after the fuzzing (no fuzzed request ended or broke the session)', async () => {
    expect((await client.call('GET', '/v1/me', { token: ownerToken })).status).toBe(200);
    expect(resolve(docs.public, { $ref: '#/components/schemas/Problem' }).properties).toHaveProperty('status');
  });
});

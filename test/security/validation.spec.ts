import { randomBytes, randomUUID } from 'node:crypto';
import { defaultMetadataStorage } from 'class-transformer/cjs/storage.js';
import { getMetadataStorage, ValidationTypes } from 'class-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FORM_MEDIA, JSON_MEDIA, mediaTypesByRoute, MULTIPART_MEDIA } from '../../apps/api/src/http/media-types.js';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { oauthErrorRoutes } from '../../apps/api/src/partner/oauth-error.filter.js';
import { buildApi, buildInternalApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { paymentSucceeded, SimulatedPaymentProvider } from '../support/payment-provider.js';
import { PublicClient, setPasswords, testPassword, type ApiResponse } from '../support/public-api.js';
import { ANONYMOUS_ENV, fill, isDriven, label, makerOf, randomParams, routeFactories, tenantTables, AFTER_RESPONSE_TABLES } from '../support/route-factories.js';
import { tag } from './support/controls.js';
import {
  answerViolations,
  bodyOf,
  deepNest,
  deepNestText,
  INVALID_UTF8,
  NUL,
  operationsOf,
  overlong,
  resolve,
  sampleValid,
  structuralWrongs,
  UNICODE_EDGES,
  withRawBytes,
  wrongTypes,
  type OpenApiDoc,
  type Schema,
} from './support/fuzz-schema.js';

/**
 * Generated invalid input, for every write route (POST/PUT/PATCH) the router registers on /v1,
 * /partner (and the signed inbound webhook), taken from the router's own metadata (listRoutes):
 * a write route added tomorrow is probed the day it is registered. Each route is called by a
 * principal allowed to call it (the owner on /v1, the partner client with every scope on
 * /partner/v1; anonymous routes as anyone, the signed webhook signed), so the validation answers,
 * not the authorization.
 *
 * The bodies are derived from each route's request schema in its OpenAPI document (itself derived
 * from the DTOs' validation rules): wrong types, overlong strings, unknown fields, deep nesting,
 * huge arrays, non-object bodies, malformed JSON, U+0000, prototype-polluting keys at the top and
 * nested, and unicode edge cases. What must happen:
 * - an invalid body is refused with 400 application/problem+json (the upload route: 400/413/415),
 *   never a 5xx, never an echo of internals; a well-formed unknown field is the exception where the
 *   document says the body ignores them (`additionalProperties: true`: the token endpoint, RFC 6749
 *   3.2), and is answered there exactly as the body without it;
 * - a prototype-polluting body is refused and creates nothing (no row in any tenant table);
 * - unicode edge cases (lone surrogates, RTL override, zero-width, combining marks, invalid UTF-8
 *   sent as raw bytes) are refused where the field has a format (enum, pattern, uuid, email) or
 *   the text is a field name, and are data elsewhere: accepted or refused, never a 5xx.
 */
const WRITES = ['POST', 'PUT', 'PATCH'];
const GENEROUS = [1_000_000, 60];
const RATE_LIMIT_POLICY = JSON.stringify(
  Object.fromEntries(['anonymous', 'user', 'partner:free', 'partner:standard', 'partner:premium'].map((c) => [c, { auth: GENEROUS, write: GENEROUS, read: GENEROUS, search: GENEROUS, export: GENEROUS }])),
);

const api = await buildApi({ env: { ...ANONYMOUS_ENV, RATE_LIMIT_POLICY } });
/** Routes whose errors are RFC 6749 JSON rather than problem+json (the token endpoint). */
const oauthRoutes = oauthErrorRoutes(api.app);
afterAll(() => api.close());
const routes = listRoutes(api.app);
const inScope = (r: RouteEntry) => r.path.startsWith('/v1/') || r.path.startsWith('/partner/') || r.surface === 'inbound';
const writeRoutes = routes.filter((r) => WRITES.includes(r.method) && inScope(r));
const provider = new SimulatedPaymentProvider(ANONYMOUS_ENV.PAYMENTS_WEBHOOK_SECRET!);

/**
 * How a case must be answered: refused as invalid (400), simply handled (never a 5xx), or ignored:
 * answered exactly as the same body without the case's addition (an unknown field where the
 * document says the body ignores them, `additionalProperties: true`: the token endpoint, RFC 6749 3.2).
 */
type Expect = 'refused' | 'handled' | 'ignored';
interface Case {
  name: string;
  /** An object is sent as JSON; a Buffer or string as raw bytes with `contentType`. */
  body: unknown;
  raw?: boolean;
  contentType?: string;
  expect: Expect;
}

/** Raw JSON texts: JSON.stringify cannot write `__proto__` as an own key, a hostile client can. */
const spliced = (base: Record<string, unknown>, fragment: string): string => {
  const text = JSON.stringify(base);
  return text === '{}' ? `{${fragment}}` : `{${fragment},${text.slice(1)}`;
};
const POLLUTION = '{"polluted":"yes","isAdmin":true,"tenantId":"00000000-0000-4000-8000-000000000000"}';
const prototypePollution = (base: Record<string, unknown>, schema: Schema | undefined, doc: OpenApiDoc | undefined): { name: string; text: string }[] => {
  const cases = [
    { name: '__proto__ at the top level', text: spliced(base, `"__proto__":${POLLUTION}`) },
    { name: 'constructor.prototype at the top level', text: spliced(base, `"constructor":{"prototype":${POLLUTION}}`) },
    { name: 'prototype at the top level', text: spliced(base, `"prototype":${POLLUTION}`) },
  ];
  if (!schema || !doc) return cases;
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    const prop = resolve(doc, raw);
    if (prop.type === 'object' || prop.properties) {
      const inner = JSON.stringify(base[name] ?? {});
      const nested = inner === '{}' ? `{"__proto__":${POLLUTION}}` : `{"__proto__":${POLLUTION},${inner.slice(1)}`;
      cases.push({ name: `__proto__ nested in ${name}`, text: JSON.stringify({ ...base, [name]: '__NESTED__' }).replace('"__NESTED__"', nested) });
    }
    if (prop.type === 'array' && resolve(doc, prop.items).properties) {
      cases.push({ name: `constructor.prototype nested in ${name}[0]`, text: JSON.stringify({ ...base, [name]: '__NESTED__' }).replace('"__NESTED__"', `[{"constructor":{"prototype":${POLLUTION}}}]`) });
    }
  }
  return cases;
};

/** A field whose text has a format (refused when bent), as opposed to free text (data). */
const hasFormat = (s: Schema) => Boolean(s.enum || s.pattern || s.format);

/** Every generated case for a route whose JSON body follows `schema` (none: the route takes no body). */
function casesFor(doc: OpenApiDoc | undefined, schema: Schema | undefined, base: Record<string, unknown>): Case[] {
  const refused = (name: string, body: unknown, raw = false): Case => ({ name, body, raw, expect: 'refused' });
  // A well-formed unknown field: refused by a strict body, ignored where the document says so.
  // Its structural faults (a lone surrogate, depth, U+0000, prototype keys) are refused everywhere.
  const unknown = (name: string, body: unknown): Case => (schema?.additionalProperties === true ? { name, body, expect: 'ignored' } : refused(name, body));
  const cases: Case[] = [
    unknown('an unknown field', { ...base, unexpectedField: 1 }),
    unknown('an unknown field named with zero-width and RTL characters', { ...base, ['role\u200b\u202e']: 'owner' }),
    refused('an unknown field named with a lone surrogate', { ...base, ['x\ud800']: 1 }),
    refused('a top-level array', [base]),
    refused('a huge top-level array', Array.from({ length: 5_000 }, () => ({}))),
    refused('a string instead of an object', '"text"', true),
    refused('a number instead of an object', '42', true),
    refused('true instead of an object', 'true', true),
    refused('malformed JSON', '{"a":', true),
    refused('JSON with trailing garbage', `${JSON.stringify(base)}}}`, true),
    refused('an unknown field nested 60 levels deep', { ...base, nested: deepNest(60) }),
    refused('an unknown field nested 5000 levels deep (raw)', spliced(base, `"nested":${deepNestText(5000)}`), true),
    refused('U+0000 in an unknown field', { ...base, note: NUL }),
    refused('U+0000 in a field name', { ...base, [`a${'\u0000'}b`]: 1 }),
    refused('invalid UTF-8 bytes in an unknown field', withRawBytes(base, 'unexpectedField', INVALID_UTF8), true),
    ...prototypePollution(base, schema, doc).map((c) => refused(c.name, c.text, true)),
  ];
  if (!schema || !doc) return cases;
  for (const [name, raw] of Object.entries(schema.properties ?? {})) {
    const prop = resolve(doc, raw);
    const type = prop.type ?? (prop.properties ? 'object' : 'string');
    for (const value of wrongTypes(doc, prop)) cases.push(refused(`${name} as ${JSON.stringify(value)?.slice(0, 20)}`, { ...base, [name]: value }));
    // A nested object takes an object, an array of them an array of objects, nothing else (issue 14).
    // Sent with the required fields only: a generated optional field (a PATCH's sample dueDate) may
    // be invalid by itself and would make the refusal someone else's.
    const requiredOnly = Object.fromEntries(Object.entries(base).filter(([key]) => schema.required?.includes(key)));
    for (const value of structuralWrongs(doc, prop)) cases.push(refused(`${name} as ${JSON.stringify(value)?.slice(0, 30)} (not what it nests)`, { ...requiredOnly, [name]: value }));
    if (type === 'string') {
      cases.push(refused(`${name} one character too long`, { ...base, [name]: overlong(prop) }));
      cases.push(refused(`${name} with U+0000`, { ...base, [name]: NUL }));
      for (const [edge, text] of Object.entries(UNICODE_EDGES)) {
        const value = prop.enum ? `${String(prop.enum[0])}${text}` : text;
        cases.push({ name: `${name} with ${edge}`, body: { ...base, [name]: value }, expect: hasFormat(prop) ? 'refused' : 'handled' });
      }
      cases.push({ name: `${name} with invalid UTF-8 as raw bytes`, body: withRawBytes(base, name, INVALID_UTF8), raw: true, expect: hasFormat(prop) ? 'refused' : 'handled' });
    }
    if (type === 'array') {
      const items = Array.from({ length: (prop.maxItems ?? 5_000) + 1 }, (_, i) => (resolve(doc, prop.items).enum ? `x${i}` : sampleValid(doc, prop.items, i)));
      cases.push(refused(`${name} as a huge array`, { ...base, [name]: items }));
    }
    if (type === 'object') cases.push(refused(`${name} nested 60 levels deep`, { ...base, [name]: deepNest(60) }));
  }
  return cases;
}

/**
 * Valid bodies for the routes that create something, so the prototype-pollution cases differ
 * from an accepted request only by their polluting key (other routes use a generated sample).
 */
const VALID_BODIES: Record<string, () => Record<string, unknown>> = {
  'POST /v1/invoices': () => ({ number: `VAL-${randomBytes(4).toString('hex')}`, customer: { name: 'PT Validasi', email: 'ap@validasi.test' }, lines: [{ description: 'Jasa', quantity: 1, unitPriceMinor: 1000 }] }),
  'POST /partner/v1/invoices': () => ({ number: `VAL-${randomBytes(4).toString('hex')}`, customer: { name: 'PT Validasi' }, lines: [{ description: 'Jasa', quantity: 1, unitPriceMinor: 1000 }] }),
  'POST /v1/tickets': () => ({ subject: 'Validasi', body: 'Printer rusak' }),
  'POST /partner/v1/tickets': () => ({ subject: 'Validasi', body: 'Integrasi rusak' }),
  'POST /v1/invitations': () => ({ email: `val.${randomBytes(4).toString('hex')}@example.test`, displayName: 'Anggota', role: 'viewer' }),
  'POST /v1/partner-clients': () => ({ name: 'Klien validasi', environment: 'test', scopes: ['invoices:read'] }),
  'POST /v1/webhook-endpoints': () => ({ url: 'https://hooks.example.com/validasi', events: ['invoice.paid'] }),
  'POST /v1/exports': () => ({ type: 'invoices', format: 'csv' }),
};

describe(tag('INPUT-VALIDATION', 'generated invalid bodies on every write route'), () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  let tenant: TestTenant;
  let tables: string[];
  let docs: Record<'public' | 'partner', OpenApiDoc>;
  const { as, upload } = routeFactories({ api, client, owner, password });
  let ownerToken: string;

  beforeAll(async () => {
    tenant = await createTenantWithLogins(owner, 'val', password);
    tables = (await tenantTables(owner)).filter((t) => !AFTER_RESPONSE_TABLES.includes(t));
    docs = {
      public: (await client.call('GET', '/v1/openapi.json')).body as OpenApiDoc,
      partner: (await client.call('GET', '/partner/v1/openapi.json')).body as OpenApiDoc,
    };
    ownerToken = (await client.login(tenant.users.owner.email, password)).accessToken;
  });

  /** The route's request schema in its surface's OpenAPI document, if it takes a JSON body. */
  function schemaOf(route: RouteEntry): { doc: OpenApiDoc; schema: Schema; contentType: string } | undefined {
    const doc = route.surface === 'partner' ? docs.partner : route.surface === 'public' ? docs.public : undefined;
    const entry = doc && operationsOf(doc).find((o) => o.method === route.method && o.routePath === route.path);
    const body = doc && entry ? bodyOf(doc, entry.op) : undefined;
    return doc && body ? { doc, ...body } : undefined;
  }

  /** A token of the route's most powerful caller; routes that end sessions get a session of their own. */
  async function tokenFor(route: RouteEntry): Promise<string | undefined> {
    if (!isDriven(route)) return undefined;
    if (route.surface === 'public' && !route.path.startsWith('/v1/auth/')) return ownerToken;
    return (await as(tenant, makerOf(route))).token;
  }

  async function send(route: RouteEntry, url: string, token: string | undefined, c: Case): Promise<ApiResponse> {
    const signed = route.surface === 'inbound';
    if (!c.raw && !signed) return client.call(route.method, url, { token, body: c.body });
    const payload = c.raw ? (c.body as string | Buffer) : JSON.stringify(c.body);
    const headers: Record<string, string> = { 'content-type': c.contentType ?? 'application/json' };
    if (token) headers.authorization = `Bearer ${token}`;
    // The signed webhook is signed over the exact bytes, so the signature never answers first.
    // (the provider signs bytes as given: a Buffer is signed as is, invalid UTF-8 included)
    if (signed) Object.assign(headers, provider.sign(payload as string));
    const res = await api.app.getHttpAdapter().getInstance().inject({ method: route.method as 'POST', url, headers, payload, remoteAddress: client.ip });
    let body: unknown;
    try {
      body = res.body ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, body };
  }

  /** Rows per tenant table for the tenant: a refused write adds none. */
  async function rowCounts(): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const table of tables) counts[table] = (await owner.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" WHERE tenant_id = $1`, [tenant.id])).rows[0]!.n;
    return counts;
  }

  it('finds the write routes of /v1, /partner and the inbound webhook, and the request schema of each that takes a body', () => {
    for (const prefix of ['/v1/', '/partner/v1/', '/partner/oauth/', '/webhooks/inbound/']) expect(writeRoutes.some((r) => r.path.startsWith(prefix)), `write routes under ${prefix}`).toBe(true);
    expect(writeRoutes.filter((r) => r.access?.auth !== 'none' && !isDriven(r)).map(label), 'write routes no caller can drive').toEqual([]);
    expect(schemaOf(writeRoutes.find((r) => label(r) === 'POST /v1/invoices')!)?.schema.properties).toHaveProperty('lines');
  });

  it('derives its bodies from documents whose every schema reference resolves', () => {
    for (const [surface, doc] of Object.entries(docs)) {
      const refs = [...JSON.stringify(doc).matchAll(/"\$ref":"#\/components\/schemas\/([^"]+)"/g)].map((m) => m[1]!);
      expect(refs.filter((name) => !doc.components?.schemas?.[name]), `dangling references in the ${surface} document`).toEqual([]);
    }
  });

  const jsonRoutes = writeRoutes.filter((r) => label(r) !== 'POST /v1/documents');
  it.each(jsonRoutes.map((r) => [label(r), r] as const))('%s: every generated invalid body is 400 problem+json, never 5xx, and pollution creates nothing', async (_, route) => {
    const found = schemaOf(route);
    const signed = route.surface === 'inbound';
    const base: Record<string, unknown> = VALID_BODIES[label(route)]?.() ?? (signed ? { ...paymentSucceeded(`acct_${randomBytes(6).toString('hex')}`, randomUUID(), '1000') } : found ? (sampleValid(found.doc, found.schema) as Record<string, unknown>) : {});
    // The inbound webhook is in no OpenAPI document: its schema is the shape of a genuine event.
    const schema = found?.schema ?? (signed ? inferred(base) : undefined);
    const doc = found?.doc ?? ({ paths: {} } as OpenApiDoc);
    const cases = casesFor(schema ? doc : undefined, schema, base);
    const token = await tokenFor(route);
    const url = fill(route.path, randomParams(route.path));

    // The signed webhook's signature is checked over the body as text: bytes that are not UTF-8
    // cannot carry a valid signature there, so those cases may be refused as unsigned (401) instead.
    const expectOf = (c: Case): Expect => (signed && Buffer.isBuffer(c.body) ? 'handled' : c.expect);
    const failures: string[] = [];
    // What the base body itself gets, for the cases whose addition must be ignored.
    const answerOf = (res: ApiResponse) => ({ status: res.status, error: (res.body as { error?: unknown; code?: unknown } | undefined)?.error ?? (res.body as { code?: unknown } | undefined)?.code });
    let baseline: ReturnType<typeof answerOf> | undefined;
    const probe = async (c: Case) => {
      const res = await send(route, url, token, c);
      const violations = answerViolations(res, oauthRoutes.has(label(route)) ? 'oauth' : 'problem');
      if (expectOf(c) === 'refused' && res.status !== 400) violations.push(`expected 400, got ${res.status}`);
      if (expectOf(c) === 'ignored') {
        baseline ??= answerOf(await send(route, url, token, { name: 'base', body: base, expect: 'handled' }));
        if (JSON.stringify(answerOf(res)) !== JSON.stringify(baseline)) violations.push(`expected the answer to the body without it, ${JSON.stringify(baseline)}, got ${JSON.stringify(answerOf(res))}`);
      }
      if (/polluted/.test(res.text)) violations.push('the answer repeats the polluting property');
      if (violations.length > 0) failures.push(`${c.name}: ${violations.join('; ')} — ${res.text.slice(0, 200)}`);
    };
    // Refused bodies first (pollution included): together they write nothing in any tenant table.
    const countsBefore = await rowCounts();
    for (const c of cases.filter((x) => expectOf(x) === 'refused')) await probe(c);
    expect(failures, `${label(route)}: cases answered wrongly`).toEqual([]);
    expect(await rowCounts(), 'no row added in any tenant table').toEqual(countsBefore);
    // Then the unicode text a field may take as data (accepted or refused, never a 5xx), and the
    // ignored unknown fields (answered as the body without them).
    for (const c of cases.filter((x) => expectOf(x) !== 'refused')) await probe(c);
    expect(failures, `${label(route)}: cases answered wrongly`).toEqual([]);

    // The same body without its polluting key is accepted: the refusal was the key's, not the body's.
    const valid = VALID_BODIES[label(route)];
    const accepted = valid ? await send(route, url, token, { name: 'valid', body: valid(), expect: 'handled' }) : undefined;
    expect(accepted === undefined || accepted.status < 300, `${label(route)} accepts the valid body: ${accepted?.text}`).toBe(true);
  });

  /**
   * Undeclared request media types (issue 14): every state-changing route of every listener (the
   * internal one included, where the check answers before the signature) gets its usual body in
   * each media type it does not declare, and a body without a Content-Type. Each is 415
   * problem+json, coded, and nothing is written; the OpenAPI documents declare exactly what is
   * admitted. A route added tomorrow is probed from its own declaration.
   */
  describe(tag('INPUT-VALIDATION', 'undeclared request media types are 415 on every state-changing route, before the body is parsed'), () => {
    const STATE_CHANGING = ['POST', 'PUT', 'PATCH', 'DELETE'];
    const boundary = `----media${randomBytes(6).toString('hex')}`;
    /** The route's usual body, in each undeclared media type (undefined: no Content-Type at all). */
    const encodings: { type: string | undefined; encode: (body: Record<string, unknown>) => string }[] = [
      { type: FORM_MEDIA, encode: (body) => new URLSearchParams(Object.entries(body).map(([k, v]): [string, string] => [k, typeof v === 'string' ? v : JSON.stringify(v)])).toString() },
      { type: 'text/plain', encode: (body) => JSON.stringify(body) },
      { type: `${MULTIPART_MEDIA}; boundary=${boundary}`, encode: (body) => Object.entries(body).map(([k, v]) => `--${boundary}\r\nContent-Disposition: form-data; name="${k}"\r\n\r\n${typeof v === 'string' ? v : JSON.stringify(v)}\r\n`).join('') + `--${boundary}--\r\n` },
      { type: 'application/xml', encode: () => '<?xml version="1.0"?><invoice><number>X</number></invoice>' },
      { type: 'application/json-patch+json', encode: (body) => JSON.stringify(body) },
      { type: undefined, encode: (body) => JSON.stringify(body) },
    ];

    it.each(['public', 'internal'] as const)('%s listener: every state-changing route refuses each undeclared media type with 415, and nothing changes', async (listener) => {
      const app = listener === 'public' ? api : await buildInternalApi();
      try {
        const admitted = mediaTypesByRoute(app.app);
        const targets = listRoutes(app.app).filter((r) => STATE_CHANGING.includes(r.method) && (listener === 'internal' ? r.surface === 'internal' : inScope(r)));
        expect(targets.length, 'state-changing routes found').toBeGreaterThan(listener === 'public' ? 30 : 5);
        // Credentials first: obtaining them writes sessions and audit events of their own.
        const tokens = new Map<RouteEntry, string | undefined>();
        for (const route of targets) tokens.set(route, listener === 'public' ? await tokenFor(route) : undefined);
        const countsBefore = await rowCounts();
        const failures: string[] = [];
        let probes = 0;
        for (const route of targets) {
          const types = admitted.get(`${route.method} ${route.path}`)!;
          const found = listener === 'public' ? schemaOf(route) : undefined;
          const base: Record<string, unknown> = VALID_BODIES[label(route)]?.() ?? (found ? (sampleValid(found.doc, found.schema) as Record<string, unknown>) : { note: 'x' });
          const token = tokens.get(route);
          for (const { type, encode } of encodings.filter((e) => e.type === undefined || !types.includes(e.type.split(';')[0]!))) {
            const headers: Record<string, string> = type === undefined ? {} : { 'content-type': type };
            if (token) headers.authorization = `Bearer ${token}`;
            const res = await app.app.getHttpAdapter().getInstance().inject({ method: route.method as 'POST', url: fill(route.path, randomParams(route.path)), headers, payload: encode(base), remoteAddress: client.ip });
            probes++;
            let body: { code?: unknown } | undefined;
            try {
              body = JSON.parse(res.body) as { code?: unknown };
            } catch {
              body = undefined;
            }
            const violations = answerViolations({ status: res.statusCode, headers: res.headers, text: res.body, body }, oauthErrorRoutes(app.app).has(label(route)) ? 'oauth' : 'problem');
            if (res.statusCode !== 415 || body?.code !== 'request.unsupported_media_type') violations.push(`expected 415 request.unsupported_media_type, got ${res.statusCode}`);
            if (violations.length > 0) failures.push(`${label(route)} as ${type ?? '(no content-type)'}: ${violations.join('; ')} — ${res.body.slice(0, 160)}`);
          }
        }
        expect(failures).toEqual([]);
        expect(probes).toBeGreaterThan(targets.length * 4);
        expect(await rowCounts(), 'no row added in any tenant table').toEqual(countsBefore);
      } finally {
        if (listener === 'internal') await app.close();
      }
    });

    it('the OpenAPI documents declare exactly the media types each route admits', () => {
      const admitted = mediaTypesByRoute(api.app);
      const mismatches: string[] = [];
      for (const route of writeRoutes.filter((r) => r.surface === 'public' || r.surface === 'partner')) {
        const doc = route.surface === 'partner' ? docs.partner : docs.public;
        const entry = operationsOf(doc).find((o) => o.method === route.method && o.routePath === route.path);
        const declared = Object.keys((entry?.op as { requestBody?: { content?: object } } | undefined)?.requestBody?.content ?? {});
        const types = admitted.get(`${route.method} ${route.path}`)!;
        // A route without a body declares none; the listener lets JSON through to the unexpected-body check (400).
        if (declared.length === 0 ? types.join() !== JSON_MEDIA : declared.join() !== types.join()) mismatches.push(`${label(route)}: documented ${declared.join(', ') || '(none)'}, admitted ${types.join(', ')}`);
      }
      expect(mismatches).toEqual([]);
      expect(admitted.get('POST /partner/oauth/token')).toEqual([FORM_MEDIA, JSON_MEDIA]);
      expect(admitted.get('POST /v1/documents')).toEqual([MULTIPART_MEDIA]);
      expect(admitted.get('POST /v1/invoices')).toEqual([JSON_MEDIA]);
    });
  });

  describe('the upload route (multipart/form-data)', () => {
    const boundary = `----fuzz${randomBytes(6).toString('hex')}`;
    const part = (name: string, value: string, extra = '') => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"${extra}\r\n\r\n${value}\r\n`;
    const file = (fileName = 'a.txt', content = 'hello\n') => `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/plain\r\n\r\n${content}\r\n`;
    const end = `--${boundary}--\r\n`;
    const mp = `multipart/form-data; boundary=${boundary}`;
    const cases: (Case & { statuses?: number[] })[] = [
      { name: 'a JSON body', body: '{"file":"x"}', raw: true, contentType: 'application/json', expect: 'refused', statuses: [415] },
      { name: 'text/plain', body: 'hello', raw: true, contentType: 'text/plain', expect: 'refused', statuses: [415] },
      { name: 'multipart without a boundary', body: file() + end, raw: true, contentType: 'multipart/form-data', expect: 'refused' },
      { name: 'garbage under a multipart type', body: 'not a form at all', raw: true, contentType: mp, expect: 'refused' },
      { name: 'a truncated form', body: file().slice(0, 60), raw: true, contentType: mp, expect: 'refused' },
      { name: 'no file', body: part('invoiceId', randomUUID()) + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'two files', body: file() + file('b.txt') + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'an unknown field', body: part('tenantId', randomUUID()) + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'a __proto__ field', body: part('__proto__', POLLUTION) + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'a constructor field', body: part('constructor', POLLUTION) + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'a prototype field', body: part('prototype', POLLUTION) + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'invoiceId not a uuid', body: part('invoiceId', 'not-a-uuid') + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'invoiceId given twice', body: part('invoiceId', randomUUID()) + part('invoiceId', randomUUID()) + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'an overlong field', body: part('invoiceId', 'x'.repeat(10_000)) + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'U+0000 in a field', body: part('invoiceId', NUL) + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'an RTL override in a uuid field', body: part('ticketId', `${randomUUID()}\u202e`) + file() + end, raw: true, contentType: mp, expect: 'refused' },
      { name: 'a field without a name', body: `--${boundary}\r\nContent-Disposition: form-data\r\n\r\nx\r\n${file()}${end}`, raw: true, contentType: mp, expect: 'refused' },
      { name: 'too many fields', body: Array.from({ length: 10 }, (_, i) => part(`f${i}`, 'x')).join('') + file() + end, raw: true, contentType: mp, expect: 'refused' },
      ...Object.entries({ ...UNICODE_EDGES, 'U+0000': NUL }).map(([edge, text]): Case => ({ name: `a file name with ${edge}`, body: file(`a${text}.txt`) + end, raw: true, contentType: mp, expect: 'handled' })),
      { name: 'a file name with invalid UTF-8 bytes', body: Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a`), INVALID_UTF8, Buffer.from(`.txt"\r\nContent-Type: text/plain\r\n\r\nhello\r\n${end}`)]), raw: true, contentType: mp, expect: 'handled' },
      { name: 'a file name with path traversal', body: file('../../etc/passwd') + end, raw: true, contentType: mp, expect: 'handled' },
    ];
    const route = writeRoutes.find((r) => label(r) === 'POST /v1/documents');

    it('is a write route the router registers', () => {
      expect(route).toBeDefined();
    });

    it('refuses every malformed or polluted form with 400/413/415 problem+json, handles odd file names, never 5xx, and pollution creates nothing', async () => {
      const token = ownerToken;
      const failures: string[] = [];
      const countsBefore = await rowCounts();
      const documents = async () => (await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM documents WHERE tenant_id = $1', [tenant.id])).rows[0]!.n;
      const refusedCases = cases.filter((c) => c.expect === 'refused');
      for (const c of refusedCases) {
        const before = await documents();
        const res = await send(route!, '/v1/documents', token, c);
        const violations = answerViolations(res);
        if ((await documents()) !== before) violations.push('a document was stored');
        if (!(c.statuses ?? [400, 413, 415]).includes(res.status)) violations.push(`expected ${(c.statuses ?? [400, 413, 415]).join('/')}, got ${res.status}`);
        if (violations.length > 0) failures.push(`${c.name}: ${violations.join('; ')} — ${res.text.slice(0, 200)}`);
      }
      expect(failures).toEqual([]);
      expect(await rowCounts(), 'no row added in any tenant table').toEqual(countsBefore);
      for (const c of cases.filter((x) => x.expect === 'handled')) {
        const res = await send(route!, '/v1/documents', token, c);
        const violations = answerViolations(res);
        if (violations.length > 0) failures.push(`${c.name}: ${violations.join('; ')} — ${res.text.slice(0, 200)}`);
      }
      expect(failures).toEqual([]);
      // The helper every other test uploads with still works against the same app.
      expect((await upload(token, 'ok.txt', 'fine\n')).status).toBe(201);
    });
  });
});

/**
 * @ValidateNested is not a type check: class-validator validates an array in a nested object's
 * place element by element (so `customer: []` passed and failed in the database, `filters: []` was
 * dropped silently) and recurses into an element of an array that is itself an array. Every nested
 * property of every DTO the apps load (public, partner, inbound and internal modules: buildApi
 * imports them all) must therefore carry the object check, or the array check plus the object
 * check on each element, and a @Type to build the nested class: what NestedObject and NestedArray
 * (apps/api/src/http/nested.decorator.ts) declare. A new DTO that uses a bare @ValidateNested fails
 * here by name.
 */
type ValidationMetadata = ReturnType<ReturnType<typeof getMetadataStorage>['getTargetValidationMetadatas']>[number];
describe(tag('INPUT-VALIDATION', 'nested DTO properties are type-checked'), () => {
  it('pairs every @ValidateNested with the object or array-of-objects check and a @Type', () => {
    const storage = getMetadataStorage();
    const all = [...(storage as unknown as { validationMetadatas: Map<unknown, ValidationMetadata[]> }).validationMetadatas.values()].flat();
    const nested = all.filter((m) => m.type === ValidationTypes.NESTED_VALIDATION);
    const where = (m: ValidationMetadata) => `${(m.target as { name?: string }).name}.${m.propertyName}`;
    expect(nested.map(where)).toEqual(expect.arrayContaining(['CreateInvoiceDto.customer', 'CreateInvoiceDto.lines', 'UpdateInvoiceDto.customer', 'PartnerCreateInvoiceDto.customer', 'CreateExportDto.filters', 'PaymentEventDto.data']));
    const gaps: string[] = [];
    for (const m of nested) {
      const rules = all.filter((o) => o.target === m.target && o.propertyName === m.propertyName);
      const has = (name: string, each: boolean) => rules.some((o) => o.name === name && Boolean(o.each) === each);
      const checked = m.each ? has('isArray', false) && has('isObject', true) : has('isObject', false);
      if (!checked) gaps.push(`${where(m)}: ${m.each ? 'no @IsArray() with @IsObject({ each: true })' : 'no @IsObject()'} (use NestedArray / NestedObject)`);
      if (!defaultMetadataStorage.findTypeMetadata(m.target as new () => object, m.propertyName)) gaps.push(`${where(m)}: no @Type`);
    }
    expect(gaps).toEqual([]);
  });

  it('PATCH /v1/invoices/:id with customer as an array, text or null is 400 and changes nothing (it answered 200, unchanged)', async () => {
    const owner = ownerPool();
    const client = new PublicClient(api);
    const password = testPassword();
    const tenant = await createTenant(owner, 'val-nested');
    await setPasswords(owner, [tenant.users.owner.id], password);
    const token = (await client.login(tenant.users.owner.email, password)).accessToken;
    const created = await client.call('POST', '/v1/invoices', { token, body: VALID_BODIES['POST /v1/invoices']!() });
    expect(created.status, `${created.text}`).toBe(201);
    const { id } = created.body as { id: string };
    const before = await client.call('GET', `/v1/invoices/${id}`, { token });
    for (const customer of [[], [{ name: 'PT Array' }], 'PT Text', null]) {
      const res = await client.call('PATCH', `/v1/invoices/${id}`, { token, body: { customer } });
      expect(res.status, `customer ${JSON.stringify(customer)}: ${res.text}`).toBe(400);
      expect((res.body as { errors?: { pointer: string }[] }).errors?.map((e) => e.pointer)).toContain('/customer');
    }
    expect((await client.call('GET', `/v1/invoices/${id}`, { token })).body).toEqual(before.body);
    expect((await client.call('PATCH', `/v1/invoices/${id}`, { token, body: { customer: { name: 'PT Objek' } } })).status, 'an object is still a change').toBe(200);
  });
});

/** A schema read off a genuine body (for a route that no OpenAPI document describes). */
function inferred(value: unknown): Schema {
  if (Array.isArray(value)) return { type: 'array', items: inferred(value[0]) };
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    return { type: 'object', properties: Object.fromEntries(entries.map(([k, v]) => [k, inferred(v)])), required: entries.map(([k]) => k), additionalProperties: false };
  }
  if (typeof value === 'number') return { type: Number.isInteger(value) ? 'integer' : 'number' };
  if (typeof value === 'boolean') return { type: 'boolean' };
  return { type: 'string', maxLength: 200, pattern: '.' };
}

import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi, type TestApi } from '../support/api.js';
import { operationIn, schemaIn, type OpenApiDoc, type Schema } from '../support/openapi-document.js';

/**
 * The OpenAPI document at /v1/openapi.json describes the whole public surface as the app enforces
 * it: every route, its success body, every problem+json error its declarations can produce, the
 * bearer scheme exactly where a token is required, and request schemas as strict as validation.
 */

const documented = (r: RouteEntry) => (r.surface === 'public' || r.path.startsWith('/.well-known/')) && !r.path.startsWith('/v1/openapi') && !r.path.startsWith('/v1/docs');

let api: TestApi;
let doc: OpenApiDoc;
let routes: RouteEntry[];

const operationOf = (r: RouteEntry) => operationIn(doc, r);
const schemaOf = (s: Schema): Schema => schemaIn(doc, s);

beforeAll(async () => {
  api = await buildApi();
  routes = listRoutes(api.app).filter(documented);
  const res = await request(api.app.getHttpServer()).get('/v1/openapi.json').expect(200).expect('content-type', /^application\/json/);
  doc = res.body as OpenApiDoc;
});
afterAll(() => api.close());

describe('GET /v1/openapi.json', () => {
  it('is an OpenAPI 3 document with a bearer JWT scheme', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBeTruthy();
    expect(doc.info.version).toBeTruthy();
    expect(doc.components.securitySchemes['bearer']).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
  });

  it('documents every public route, and nothing else', () => {
    expect(routes.length).toBeGreaterThan(20);
    for (const r of routes) expect(operationOf(r), `${r.method} ${r.path}`).toBeDefined();
    const count = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(count).toBe(routes.length);
    expect(Object.keys(doc.paths).filter((p) => !p.startsWith('/v1/') && !p.startsWith('/.well-known/'))).toEqual([]);
  });

  it('gives every operation a success response with its body schema (none on 204)', () => {
    for (const r of routes) {
      const responses = operationOf(r)!.responses;
      const success = Object.keys(responses).filter((s) => s.startsWith('2'));
      expect(success, `${r.method} ${r.path}`).toHaveLength(1);
      const media = Object.keys(responses[success[0]!]!.content ?? {});
      expect({ route: `${r.method} ${r.path}`, hasBody: media.length > 0 }).toEqual({ route: `${r.method} ${r.path}`, hasBody: success[0] !== '204' });
    }
    expect(operationOf(routes.find((r) => r.method === 'POST' && r.path === '/v1/invoices')!)!.responses['201']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/Invoice' });
  });

  it('lists the problem+json errors each route can return', () => {
    const expected = (r: RouteEntry): number[] => {
      const op = operationOf(r)!;
      const header = (name: string) => op.parameters?.some((p) => p.in === 'header' && p.name === name) ?? false;
      const s = [400, 500];
      if (r.access?.auth === 'public-jwt') s.push(401, 403);
      if (r.path.includes('/:')) s.push(404);
      if (header('If-Match')) s.push(412);
      if (header('Idempotency-Key')) s.push(409, 422);
      if (r.path === '/v1/documents' && r.method === 'POST') s.push(413, 415);
      if (r.path === '/v1/auth/login' || r.path === '/v1/auth/refresh') s.push(401, 429);
      return s;
    };
    for (const r of routes) {
      const responses = operationOf(r)!.responses;
      for (const status of expected(r)) {
        expect(responses[String(status)]?.content?.['application/problem+json']?.schema, `${r.method} ${r.path} ${status}`).toEqual({ $ref: '#/components/schemas/Problem' });
      }
    }
    const problem = doc.components.schemas['Problem']!;
    expect(problem.required).toEqual(['type', 'title', 'status']);
    expect(Object.keys(problem.properties!)).toEqual(['type', 'title', 'status', 'detail', 'code', 'requestId', 'errors']);
  });

  it('declares If-Match on the invoice and ticket writes that honour it, and Idempotency-Key on creates', () => {
    const headers = (method: string, path: string) => (doc.paths[path]![method]!.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name);
    for (const [method, path] of [['patch', '/v1/invoices/{id}'], ['post', '/v1/invoices/{id}/issue'], ['delete', '/v1/invoices/{id}'], ['patch', '/v1/tickets/{id}'], ['post', '/v1/tickets/{id}/assign']] as const) {
      expect(headers(method, path), `${method} ${path}`).toContain('If-Match');
    }
    for (const path of ['/v1/invoices', '/v1/tickets', '/v1/documents', '/v1/tickets/{id}/comments']) expect(headers('post', path)).toContain('Idempotency-Key');
    expect(headers('post', '/v1/invitations')).toContain('Idempotency-Key');
  });

  it('requires the bearer token exactly on the routes that authenticate with it', () => {
    const actual = routes.map((r) => ({ route: `${r.method} ${r.path}`, security: operationOf(r)!.security }));
    const expected = routes.map((r) => ({ route: `${r.method} ${r.path}`, security: r.access?.auth === 'public-jwt' ? [{ bearer: [] }] : [] }));
    expect(actual).toEqual(expected);
  });

  it('describes request bodies as strictly as validation enforces them', () => {
    const body = (method: string, path: string) => schemaOf(doc.paths[path]![method]!.requestBody!.content['application/json']!.schema);
    const invoice = body('post', '/v1/invoices');
    expect(invoice.additionalProperties).toBe(false);
    expect(Object.keys(invoice.properties!).sort()).toEqual(['currency', 'customer', 'dueDate', 'lines', 'number']);
    expect(invoice.required).toEqual(expect.arrayContaining(['number', 'customer', 'lines']));
    expect(schemaOf(invoice.properties!['customer']!)).toMatchObject({ additionalProperties: false, required: ['name'] });
    expect(schemaOf(invoice.properties!['lines']!.items!)).toMatchObject({ additionalProperties: false });
    expect(Object.keys(schemaOf(invoice.properties!['lines']!.items!).properties!).sort()).toEqual(['description', 'quantity', 'unitPriceMinor']);

    const login = body('post', '/v1/auth/login');
    expect(login).toMatchObject({ additionalProperties: false, required: ['email', 'password'] });
    expect(body('post', '/v1/tickets')).toMatchObject({ additionalProperties: false, required: ['subject', 'body'] });
    expect(doc.paths['/v1/members']!['post'], 'members join by invitation only (issue 14)').toBeUndefined();
    expect(body('post', '/v1/invitations')).toMatchObject({ additionalProperties: false, required: ['email', 'role'] });
    expect(body('post', '/v1/invitations/accept')).toMatchObject({ additionalProperties: false, required: ['token'] });
    expect(body('post', '/v1/invitations/register')).toMatchObject({ additionalProperties: false, required: ['token', 'password'] });

    const upload = doc.paths['/v1/documents']!['post']!.requestBody!.content['multipart/form-data']!.schema;
    expect(upload).toMatchObject({ required: ['file'], additionalProperties: false });
    expect(Object.keys(upload.properties!).sort()).toEqual(['file', 'invoiceId', 'ticketId']);
  });

  it('documents list query parameters from the query DTOs', () => {
    const query = (path: string) => (doc.paths[path]!['get']!.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name).sort();
    expect(query('/v1/invoices')).toEqual(['cursor', 'limit', 'sort', 'status']);
    expect(query('/v1/tickets')).toEqual(['assignedToMe', 'cursor', 'limit', 'priority', 'sort', 'status']);
    expect(doc.paths['/v1/tickets/search']!['get']!.parameters).toContainEqual(expect.objectContaining({ name: 'q', in: 'query', required: true }));
  });

  it('names no tenant id in any resource response (only TokenPair says which tenant a token is for)', () => {
    const responseSchemas = new Set<string>();
    for (const item of Object.values(doc.paths)) {
      for (const op of Object.values(item)) {
        for (const res of Object.values(op.responses)) for (const media of Object.values(res.content ?? {})) if (media.schema.$ref) responseSchemas.add(media.schema.$ref);
      }
    }
    const text = (name: string) => JSON.stringify(doc.components.schemas[name.replace('#/components/schemas/', '')]);
    expect(responseSchemas.size).toBeGreaterThan(10);
    const withTenantId = [...responseSchemas].filter((name) => /tenantId/i.test(text(name)));
    expect(withTenantId).toEqual(['#/components/schemas/TokenPair']);
    const leaky = ['Invoice', 'InvoiceLine', 'Ticket', 'Comment', 'OpenApiDoc', 'Member', 'Session', 'Me'].filter((name) => /tenantId|createdById|uploadedById|storageKey/.test(text(name)));
    expect(leaky).toEqual([]);
  });
});

describe('GET /v1/docs', () => {
  it('serves the page with a policy that allows only its own scripts and styles', async () => {
    const res = await request(api.app.getHttpServer()).get('/v1/docs').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe');
    expect(res.text).toContain('/v1/docs/swagger-ui-bundle.js');
    expect(res.text).not.toMatch(/<script>/);
  });

  it('serves the swagger-ui assets from the package, and nothing outside its list', async () => {
    const server = api.app.getHttpServer();
    await request(server).get('/v1/docs/swagger-ui-bundle.js').expect(200).expect('content-type', /javascript/);
    await request(server).get('/v1/docs/swagger-ui.css').expect(200).expect('content-type', /text\/css/);
    const missing = await request(server).get('/v1/docs/package.json').expect(404);
    expect(missing.headers['content-type']).toMatch(/^application\/problem\+json/);
    await request(server).get('/v1/docs/..%2Fpackage.json').expect(404);
  });

  it('keeps the global no-content policy on the document and other responses', async () => {
    const res = await request(api.app.getHttpServer()).get('/v1/openapi.json').expect(200);
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['content-security-policy']).not.toContain("script-src 'self'");
  });
});

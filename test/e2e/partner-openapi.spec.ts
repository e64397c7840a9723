import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARTNER_SCOPES } from '@benteng/authz';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { HIGH_TRUST_NOTE } from '../../apps/api/src/openapi/openapi.document.js';
import { buildApi, type TestApi } from '../support/api.js';
import { openApiPathOf, operationIn, schemaIn, type OpenApiDoc, type Schema } from '../support/openapi-document.js';

/**
 * Each surface publishes its own OpenAPI document: /partner/v1/openapi.json describes exactly the
 * partner routes (and /v1/openapi.json none of them), with the partner security schemes and, on
 * every operation, the scope that grants it.
 */

/** Partner routes the document must describe: all of them but the document and its page. */
const documented = (r: RouteEntry) => r.path.startsWith('/partner/') && !r.path.startsWith('/partner/v1/openapi') && !r.path.startsWith('/partner/v1/docs');
const label = (r: RouteEntry) => `${r.method} ${r.path}`;

/** Which scope grants each route, written out here rather than derived, so a wrong mapping fails. */
const SCOPE_OF: Record<string, string> = {
  'GET /partner/v1/invoices': 'invoices:read',
  'GET /partner/v1/invoices/:id': 'invoices:read',
  'POST /partner/v1/invoices': 'invoices:write',
  'GET /partner/v1/tickets': 'tickets:read',
  'GET /partner/v1/tickets/:id': 'tickets:read',
  'POST /partner/v1/tickets': 'tickets:write',
  'GET /partner/v1/documents': 'documents:read',
  'GET /partner/v1/documents/:id': 'documents:read',
  'GET /partner/v1/documents/:id/content': 'documents:read',
};

/** The high-trust routes (@HighTrust: a client with a signing key must sign them), written out here. */
const HIGH_TRUST = new Set(['POST /partner/v1/invoices']);

let api: TestApi;
let doc: OpenApiDoc;
let publicDoc: OpenApiDoc;
let routes: RouteEntry[];

const operationOf = (r: RouteEntry) => operationIn(doc, r);
const schemaOf = (s: Schema): Schema => schemaIn(doc, s);

beforeAll(async () => {
  api = await buildApi();
  routes = listRoutes(api.app).filter(documented);
  const res = await request(api.app.getHttpServer()).get('/partner/v1/openapi.json').expect(200).expect('content-type', /^application\/json/);
  doc = res.body as OpenApiDoc;
  publicDoc = (await request(api.app.getHttpServer()).get('/v1/openapi.json').expect(200)).body as OpenApiDoc;
});
afterAll(() => api.close());

describe('GET /partner/v1/openapi.json', () => {
  it('is an OpenAPI 3 document of its own', () => {
    expect(doc.openapi).toMatch(/^3\./);
    expect(doc.info.title).toBe('Benteng partner API');
    expect(doc.info.title).not.toBe(publicDoc.info.title);
    expect(doc.info.description).toContain('/partner/oauth/token');
  });

  it('documents every partner route of the app, and nothing else', () => {
    expect(routes.map(label).sort()).toEqual([...Object.keys(SCOPE_OF), 'POST /partner/oauth/token'].sort());
    for (const r of routes) expect(operationOf(r), `${label(r)}`).toBeDefined();
    const count = Object.values(doc.paths).reduce((n, item) => n + Object.keys(item).length, 0);
    expect(count).toBe(routes.length);
    expect(Object.keys(doc.paths).filter((p) => !p.startsWith('/partner/'))).toEqual([]);
  });

  it('declares the API key and OAuth 2.0 client credentials schemes, with every partner scope', () => {
    expect(doc.components.securitySchemes['apiKey']).toMatchObject({ type: 'http', scheme: 'bearer' });
    expect(String(doc.components.securitySchemes['apiKey']!['bearerFormat'])).toMatch(/^bt_/);
    const oauth = doc.components.securitySchemes['oauth2'] as { type: string; flows: { clientCredentials: { tokenUrl: string; scopes: Record<string, string> } } };
    expect(oauth.type).toBe('oauth2');
    expect(oauth.flows.clientCredentials.tokenUrl).toBe('/partner/oauth/token');
    expect(Object.keys(oauth.flows.clientCredentials.scopes).sort()).toEqual([...PARTNER_SCOPES].sort());
    expect(doc.components.securitySchemes['bearer']).toBeUndefined();
  });

  it('names on every partner operation the scope that grants it', () => {
    const actual = Object.keys(SCOPE_OF).map((route) => {
      const [method, path] = route.split(' ') as [string, string];
      const op = doc.paths[openApiPathOf(path)]![method.toLowerCase()]!;
      return { route, security: op.security, description: op.description };
    });
    const expected = Object.entries(SCOPE_OF).map(([route, scope]) => ({
      route,
      security: [{ apiKey: [] }, { oauth2: [scope] }],
      description: `Scope: \`${scope}\`.${HIGH_TRUST.has(route) ? ` ${HIGH_TRUST_NOTE}` : ''}`,
    }));
    expect(actual).toEqual(expected);
  });

  it('documents the RFC 9421 Signature and Signature-Input headers on every partner operation, Content-Digest where there is a body, and marks the high-trust ones', () => {
    const actual = Object.keys(SCOPE_OF).map((route) => {
      const [method, path] = route.split(' ') as [string, string];
      const op = doc.paths[openApiPathOf(path)]![method.toLowerCase()]! as { parameters?: { name: string; in: string; required?: boolean }[]; 'x-benteng-high-trust'?: boolean };
      const headers = (op.parameters ?? []).filter((p) => p.in === 'header' && ['Signature', 'Signature-Input', 'Content-Digest'].includes(p.name));
      return { route, headers: headers.map((h) => `${h.name}${h.required ? '!' : ''}`).sort(), highTrust: op['x-benteng-high-trust'] === true };
    });
    expect(actual).toEqual(
      Object.keys(SCOPE_OF).map((route) => ({
        route,
        headers: route.startsWith('POST ') ? ['Content-Digest', 'Signature', 'Signature-Input'] : ['Signature', 'Signature-Input'],
        highTrust: HIGH_TRUST.has(route),
      })),
    );
    const input = (doc.paths['/partner/v1/invoices']!['post']! as unknown as { parameters: { name: string; description: string }[] }).parameters.find((p) => p.name === 'Signature-Input')!;
    for (const term of ['@method', '@target-uri', 'content-digest', 'created', 'keyid', 'nonce', 'ed25519']) expect(input.description).toContain(term);
  });

  it('lists the credential, scope and throttle errors of partner routes', () => {
    for (const r of routes.filter((route) => route.access?.auth === 'partner')) {
      const responses = operationOf(r)!.responses;
      for (const status of [400, 401, 403, 429, 500, ...(r.path.includes('/:') ? [404] : [])]) {
        expect(responses[String(status)]?.content?.['application/problem+json']?.schema, `${label(r)} ${status}`).toEqual({ $ref: '#/components/schemas/Problem' });
      }
    }
  });

  it('describes the token endpoint: form or JSON body, Basic or body client authentication, OAuth errors', () => {
    const op = doc.paths['/partner/oauth/token']!['post']!;
    expect(Object.keys(op.requestBody!.content).sort()).toEqual(['application/json', 'application/x-www-form-urlencoded']);
    const body = schemaOf(op.requestBody!.content['application/x-www-form-urlencoded']!.schema);
    expect(Object.keys(body.properties!).sort()).toEqual(['client_id', 'client_secret', 'grant_type', 'scope']);
    expect(body.required).toEqual(['grant_type']);
    // RFC 6749 3.2: other parameters are ignored (TokenParametersPipe), and the document says so; every other body is closed.
    expect(body.additionalProperties).toBe(true);
    expect(body.description).toMatch(/ignored \(RFC 6749 3\.2\)/);
    const invoice = schemaOf(doc.paths['/partner/v1/invoices']!['post']!.requestBody!.content['application/json']!.schema);
    expect(invoice.additionalProperties).toBe(false);
    expect(op.security).toEqual([{ clientSecretBasic: [] }, {}]);
    expect(doc.components.securitySchemes['clientSecretBasic']).toMatchObject({ type: 'http', scheme: 'basic' });
    expect(op.responses['200']!.content!['application/json']!.schema).toEqual({ $ref: '#/components/schemas/PartnerToken' });
    expect(Object.keys(schemaOf({ $ref: '#/components/schemas/PartnerToken' }).properties!).sort()).toEqual(['access_token', 'expires_in', 'scope', 'token_type']);
    // RFC 6749 5.2 errors (application/json), which OAuth 2.0 client libraries read; never problem+json.
    for (const status of ['400', '401', '413', '415', '429', '500']) {
      expect(op.responses[status]!.content, `${status}`).toEqual({ 'application/json': { schema: { $ref: '#/components/schemas/OAuthError' } } });
    }
    const error = schemaOf({ $ref: '#/components/schemas/OAuthError' }) as { required?: string[]; properties?: Record<string, { enum?: string[] }> };
    expect(error.required).toEqual(['error']);
    expect(Object.keys(error.properties!).sort()).toEqual(['code', 'error', 'error_description', 'errors']);
    expect(error.properties!['error']!.enum).toEqual(expect.arrayContaining(['invalid_request', 'invalid_client', 'invalid_grant', 'unauthorized_client', 'unsupported_grant_type', 'invalid_scope']));
  });

  it('documents the partner response shapes, which carry no user, tenant or tax fields', () => {
    const fields = (name: string) => Object.keys(doc.components.schemas[name]!.properties!).sort();
    expect(fields('PartnerInvoice')).toEqual(['createdAt', 'createdByThisClient', 'currency', 'customer', 'dueDate', 'id', 'issuedAt', 'lines', 'number', 'status', 'totalMinor', 'updatedAt', 'version']);
    expect(fields('PartnerTicket')).toEqual(['body', 'createdAt', 'id', 'openedByThisClient', 'priority', 'status', 'subject', 'updatedAt', 'version']);
    expect(fields('PartnerDocument')).toEqual(['contentType', 'createdAt', 'fileName', 'id', 'link', 'sha256', 'size']);
    const text = JSON.stringify(doc.components.schemas);
    expect(text).not.toMatch(/tenantId|createdById|createdByMe|openedByMe|assignee|uploadedBy|taxId|storageKey/);
  });
});

describe('GET /v1/openapi.json', () => {
  it('lists no partner route', () => {
    expect(Object.keys(publicDoc.paths).filter((p) => p.startsWith('/partner'))).toEqual([]);
    expect(Object.keys(publicDoc.paths).length).toBeGreaterThan(20);
    expect(Object.keys(publicDoc.components.securitySchemes)).toEqual(['bearer']);
  });
});

describe('GET /partner/v1/docs', () => {
  it('serves the Swagger UI page over the partner document, under the docs policy', async () => {
    const server = api.app.getHttpServer();
    const page = await request(server).get('/partner/v1/docs').expect(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.text).toContain('/partner/v1/docs/swagger-ui-bundle.js');
    const init = await request(server).get('/partner/v1/docs/init.js').expect(200);
    expect(init.text).toContain("'/partner/v1/openapi.json'");
    await request(server).get('/partner/v1/docs/package.json').expect(404);
  });
});

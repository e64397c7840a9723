import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRoutes } from '../../apps/api/src/http/route-catalog.js';
import { INFRASTRUCTURE_ROUTES, openApiPath, RouteInventory, type Listener } from '../../apps/api/src/http/route-inventory.js';
import { InternalOpenApiDocument } from '../../apps/api/src/internal/internal-openapi.js';
import { OpenApiDocument } from '../../apps/api/src/openapi/openapi.document.provider.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { tag } from './support/controls.js';

/**
 * API9 (improper inventory), on both listeners as production builds them: the routes Fastify
 * actually serves, the route catalog and the OpenAPI documents are one and the same set, apart from
 * the few infrastructure routes listed on purpose in apps/api/src/http/route-inventory.ts.
 */
const operations = (document: { paths?: Record<string, unknown> }, listener: Listener) =>
  Object.entries(document.paths ?? {})
    .filter(([path]) => !INFRASTRUCTURE_ROUTES[listener].some((p) => p.test(path.replace(/\{([^}]+)\}/g, ':$1'))))
    .flatMap(([path, item]) => Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`));
/** Both differences of two lists, so a failure names the routes. */
const difference = (a: string[], b: string[]) => ({ onlyServed: a.filter((x) => !b.includes(x)), onlyListed: b.filter((x) => !a.includes(x)) });

describe(tag('API-INVENTORY', 'each listener serves exactly its inventory'), () => {
  let pub: TestApi;
  let internal: TestApi;

  beforeAll(async () => {
    [pub, internal] = await Promise.all([buildApi(), buildInternalApi()]);
  });
  afterAll(async () => {
    await Promise.all([pub?.close(), internal?.close()]);
  });

  /** Served routes of a listener, in OpenAPI spelling, without Fastify's automatic HEADs and the infrastructure routes. */
  const served = (api: TestApi, listener: Listener) => {
    const routes = api.app.get(RouteInventory).servedRoutes();
    const gets = new Set(routes.filter((r) => r.method === 'GET').map((r) => r.path));
    return routes
      .filter((r) => !(r.method === 'HEAD' && gets.has(r.path)) && !INFRASTRUCTURE_ROUTES[listener].some((p) => p.test(r.path)))
      .map((r) => `${r.method} ${openApiPath(r.path)}`)
      .sort();
  };
  const catalog = (api: TestApi, listener: Listener) =>
    listRoutes(api.app)
      .filter((r) => !INFRASTRUCTURE_ROUTES[listener].some((p) => p.test(r.path)))
      .map((r) => `${r.method} ${openApiPath(r.path)}`)
      .sort();

  it('public listener: served = route catalog = the /v1 and /partner documents, plus the signed inbound webhooks', () => {
    const documents = pub.app.get(OpenApiDocument);
    const documented = [...operations(documents.get('public'), 'public'), ...operations(documents.get('partner'), 'public')];
    const servedRoutes = served(pub, 'public');
    expect(servedRoutes.length).toBeGreaterThan(50);
    expect(difference(servedRoutes, catalog(pub, 'public'))).toEqual({ onlyServed: [], onlyListed: [] });
    expect(difference(servedRoutes.filter((r) => !r.includes(' /webhooks/inbound/')), [...new Set(documented)])).toEqual({ onlyServed: [], onlyListed: [] });
    expect(servedRoutes.every((r) => / \/(v1|partner\/(v1|oauth)|webhooks\/inbound)\//.test(r))).toBe(true);
  });

  it('internal listener: served = route catalog = the internal document, and only /internal routes', () => {
    const servedRoutes = served(internal, 'internal');
    expect(servedRoutes.length).toBeGreaterThan(10);
    expect(difference(servedRoutes, catalog(internal, 'internal'))).toEqual({ onlyServed: [], onlyListed: [] });
    expect(difference(servedRoutes, [...new Set(operations(internal.app.get(InternalOpenApiDocument).get(), 'internal'))])).toEqual({ onlyServed: [], onlyListed: [] });
    expect(servedRoutes.every((r) => / \/internal\/v1\//.test(r))).toBe(true);
  });

  it('refuses, route by route, what a listener must not serve', () => {
    const inventory = new RouteInventory();
    const empty = {};
    expect(inventory.check(pub.app, 'public', [{ method: 'GET', path: '/debug/runtime' }], empty)).toEqual(['GET /debug/runtime has no surface (no /v1, /partner or /internal prefix)']);
    expect(inventory.check(pub.app, 'public', [{ method: 'GET', path: '/internal/v1/tenants' }], empty)).toEqual(['GET /internal/v1/tenants belongs to the internal surface, not to this listener']);
    expect(inventory.check(internal.app, 'internal', [{ method: 'GET', path: '/v1/invoices' }], empty)).toEqual(['GET /v1/invoices belongs to the public surface, not to this listener']);
    expect(inventory.check(pub.app, 'public', [{ method: 'GET', path: '/v1/_debug/vars' }], empty)).toEqual(['GET /v1/_debug/vars is not a controller route (registered on the HTTP server directly)']);
    expect(inventory.check(pub.app, 'public', [{ method: 'GET', path: '/v1/invoices' }], empty)).toEqual(['GET /v1/invoices is missing from the public OpenAPI document']);
    expect(inventory.check(pub.app, 'public', [{ method: 'GET', path: '/health/live' }, { method: 'GET', path: '/v1/invoices' }], { public: { paths: { '/v1/invoices': { get: {} } } } })).toEqual([]);
  });

  it('a listener with a route outside its inventory refuses to start', async () => {
    const fastifyRouteOnly = buildApi({
      overrides: [
        {
          token: OpenApiDocument,
          // The public document without one operation, as if a route were hidden from it.
          value: Object.assign(Object.create(OpenApiDocument.prototype) as OpenApiDocument, {
            bind(this: { app?: unknown }, app: unknown) {
              this.app = app;
            },
            get(this: { app: Parameters<OpenApiDocument['bind']>[0] }, surface: 'public' | 'partner' = 'public') {
              const real = new OpenApiDocument();
              real.bind(this.app);
              const document = real.get(surface);
              if (surface !== 'public') return document;
              const { ['/v1/invoices']: _hidden, ...paths } = document.paths;
              return { ...document, paths };
            },
          }),
        },
      ],
    });
    await expect(fastifyRouteOnly).rejects.toThrow(/GET \/v1\/invoices is missing from the public OpenAPI document/);
  });
});

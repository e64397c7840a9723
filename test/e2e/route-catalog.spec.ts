import { describe, expect, it } from 'vitest';
import { definePlatformAbility, OPERATOR_ROLES } from '@benteng/authz';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi, buildInternalApi } from '../support/api.js';
import { tag } from '../security/support/controls.js';

/**
 * Every route of the API with the access it declares. A new route, or a change to who may call
 * one, changes this snapshot and so shows up in review; a route that declares nothing fails here
 * before the global guard would refuse it at run time.
 */
describe('route catalog', () => {
  it('declares access on every route, as snapshotted', async () => {
    const api = await buildApi();
    try {
      const routes = listRoutes(api.app);
      expect(routes.length).toBeGreaterThan(0);
      expect(routes.filter((r) => r.access === null).map((r) => `${r.method} ${r.path}`)).toEqual([]);
      expect(
        routes.map((r) => ({ route: `${r.method} ${r.path}`, surface: r.surface, handler: `${r.controller}.${r.handler}`, access: r.access, rateLimit: r.rateLimit })),
      ).toMatchSnapshot();
    } finally {
      await api.close();
    }
  });

  it('keeps each surface to its own authentication: /v1 routes use the public JWT strategy or are explicitly public', async () => {
    const api = await buildApi();
    try {
      const strays = listRoutes(api.app).filter((r) => r.surface === 'public' && r.access?.auth !== 'public-jwt' && r.access?.auth !== 'none');
      expect(strays).toEqual([]);
      const publicOnV1 = listRoutes(api.app).filter((r) => r.surface === 'public' && r.access?.auth === 'none').map((r) => `${r.method} ${r.path}`);
      // Unauthenticated /v1 routes are few and deliberate: login, refresh, the API description, an
      // export's signed download link (its HMAC, bound to tenant, export, user and expiry, is the
      // credential) and registering through an invitation (its single-use token is the credential).
      expect(publicOnV1).toEqual([
        'POST /v1/auth/login',
        'POST /v1/auth/refresh',
        'GET /v1/docs',
        'GET /v1/docs/:asset',
        'GET /v1/exports/:id/file',
        'POST /v1/invitations/register',
        'GET /v1/openapi.json',
      ]);
    } finally {
      await api.close();
    }
  });

  it('keeps the partner surface to partner credentials: /partner routes authenticate partners or are explicitly public, and partner authentication is used nowhere else', async () => {
    const api = await buildApi();
    try {
      const routes = listRoutes(api.app);
      const partnerRoutes = routes.filter((r) => r.surface === 'partner');
      expect(partnerRoutes.length).toBeGreaterThan(0);
      expect(partnerRoutes.filter((r) => r.access?.auth !== 'partner' && r.access?.auth !== 'none').map((r) => `${r.method} ${r.path}`)).toEqual([]);
      expect(routes.filter((r) => r.surface !== 'partner' && r.access?.auth === 'partner').map((r) => `${r.method} ${r.path}`)).toEqual([]);
      // Unauthenticated partner routes: the token endpoint and the API description only.
      const open = partnerRoutes.filter((r) => r.access?.auth === 'none').map((r) => `${r.method} ${r.path}`);
      expect(open.filter((r) => r !== 'POST /partner/oauth/token' && !/^GET \/partner\/v1\/(openapi\.json|docs)/.test(r))).toEqual([]);
    } finally {
      await api.close();
    }
  });

  it('counts credential endpoints in the auth rate-limit column and searches in the search column', async () => {
    const api = await buildApi();
    try {
      const column = Object.fromEntries(listRoutes(api.app).map((r) => [`${r.method} ${r.path}`, r.rateLimit]));
      expect(column['POST /v1/auth/login']).toBe('auth');
      expect(column['POST /v1/auth/refresh']).toBe('auth');
      expect(column['POST /partner/oauth/token']).toBe('auth');
      expect(column['POST /v1/invitations/accept']).toBe('auth');
      expect(column['POST /v1/invitations/register']).toBe('auth');
      expect(column['POST /v1/invitations']).toBe('write');
      expect(column['GET /v1/tickets/search']).toBe('search');
    } finally {
      await api.close();
    }
  });

  it(tag('INPUT-VALIDATION', 'validates the query of every route, on both listeners: through a query DTO, or none at all and then every key is refused'), async () => {
    for (const build of [buildApi, buildInternalApi]) {
      const api = await build();
      try {
        const routes = listRoutes(api.app);
        // A single `@Query('key')` or an untyped `@Query()` reaches the handler unvalidated: every
        // query parameter goes through a DTO (the ValidationPipe refuses unknown keys), and a route
        // without one refuses any key (UnexpectedBodyInterceptor; test/security/query-validation.spec.ts).
        expect(routes.filter((r) => r.query === 'unvalidated').map((r) => `${r.method} ${r.path}`)).toEqual([]);
        // Paging is the same everywhere: a cursor never comes without a page size (PageQuery).
        const paged = routes.filter((r) => typeof r.query === 'object' && r.query?.params.includes('cursor'));
        expect(paged.filter((r) => typeof r.query === 'object' && !r.query?.params.includes('limit')).map((r) => `${r.method} ${r.path}`)).toEqual([]);
        const publicApp = build === buildApi;
        const known = ['GET /partner/v1/invoices', 'GET /v1/invoices', 'GET /v1/members'];
        expect(paged.map((r) => `${r.method} ${r.path}`).filter((l) => known.includes(l)).sort()).toEqual(publicApp ? known : []);
        expect(publicApp ? routes.find((r) => r.method === 'GET' && r.path === '/v1/partner-clients/:id/keys')?.query : null, 'the route of issue 14 takes no query').toBeNull();
      } finally {
        await api.close();
      }
    }
  });

  it('lists routes the app actually serves, so the snapshot cannot drift from the router', async () => {
    const api = await buildApi();
    try {
      const fastify = api.app.getHttpAdapter().getInstance();
      for (const route of listRoutes(api.app)) {
        expect(fastify.hasRoute({ method: route.method, url: route.path }), `${route.method} ${route.path}`).toBe(true);
      }
    } finally {
      await api.close();
    }
  });
});

/**
 * The internal listener's routes (a separate application): every one declares internal access, is
 * snapshotted with the operator permission and roles it requires, and none belongs to another
 * surface; the public application serves no internal route.
 */
describe('internal route catalog', () => {
  it('declares internal access on every internal route, as snapshotted with operator permissions', async () => {
    const api = await buildInternalApi();
    try {
      const routes = listRoutes(api.app);
      expect(routes.length).toBeGreaterThan(0);
      expect(routes.filter((r) => r.access?.auth !== 'internal-operator' && r.access?.auth !== 'internal-service').map((r) => `${r.method} ${r.path}`)).toEqual([]);
      expect(routes.filter((r) => r.surface !== 'internal').map((r) => `${r.method} ${r.path}`)).toEqual([]);
      // Routes without an operator are few and deliberate: the API description only.
      expect(routes.filter((r) => r.access?.auth === 'internal-service').map((r) => `${r.method} ${r.path}`)).toEqual(['GET /internal/v1/openapi.json']);
      // Which operator roles may call each route, from the operator rules themselves.
      const operatorRoles = (r: RouteEntry) => {
        const access = r.access;
        if (access?.auth !== 'internal-operator') return null;
        return OPERATOR_ROLES.filter((role) => definePlatformAbility({ kind: 'operator', operatorId: 'catalog', roles: [role], service: 'catalog' }).can(access.action, access.subject));
      };
      expect(routes.map((r) => ({ route: `${r.method} ${r.path}`, handler: `${r.controller}.${r.handler}`, access: r.access, operatorRoles: operatorRoles(r) }))).toMatchSnapshot();
      const fastify = api.app.getHttpAdapter().getInstance();
      for (const route of routes) expect(fastify.hasRoute({ method: route.method, url: route.path }), `${route.method} ${route.path}`).toBe(true);
    } finally {
      await api.close();
    }
  });

  it('keeps internal routes and internal authentication off the public application', async () => {
    const api = await buildApi();
    try {
      const routes = listRoutes(api.app);
      expect(routes.filter((r) => r.surface === 'internal' || r.path.startsWith('/internal')).map((r) => `${r.method} ${r.path}`)).toEqual([]);
      expect(routes.filter((r) => r.access?.auth === 'internal-operator' || r.access?.auth === 'internal-service').map((r) => `${r.method} ${r.path}`)).toEqual([]);
    } finally {
      await api.close();
    }
  });
});

import { describe, expect, it } from 'vitest';
import { listRoutes } from '../../apps/api/src/http/route-catalog.js';
import { buildApi } from '../support/api.js';

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
      // Unauthenticated /v1 routes are few and deliberate: login, refresh, the API description, and
      // an export's signed download link (its HMAC, bound to tenant, export, user and expiry, is the credential).
      expect(publicOnV1).toEqual(['POST /v1/auth/login', 'POST /v1/auth/refresh', 'GET /v1/docs', 'GET /v1/docs/:asset', 'GET /v1/exports/:id/file', 'GET /v1/openapi.json']);
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
      expect(column['GET /v1/tickets/search']).toBe('search');
    } finally {
      await api.close();
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

import { Inject, Injectable, Optional, type INestApplication } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { RouteOptions } from 'fastify';
import { listRoutes, surfaceOf, type Surface } from './route-catalog.js';

/** Which listener an application is: the public one (/v1, /partner, inbound webhooks) or the internal one. */
export type Listener = 'public' | 'internal';

/** One route as Fastify serves it (`:id` parameters). */
export interface ServedRoute {
  method: string;
  path: string;
}

/**
 * Routes served outside the OpenAPI documents, each on purpose: liveness and readiness probes, the
 * token verification keys, the documents themselves with their UIs, metrics and Bull Board.
 * Anything else must be documented by its surface's document.
 */
export const INFRASTRUCTURE_ROUTES: Record<Listener, readonly RegExp[]> = {
  public: [/^\/health\/(live|ready)$/, /^\/\.well-known\/[a-z-]+(\.json)?$/, /^\/(v1|partner\/v1)\/(openapi\.json|docs|docs\/:asset)$/],
  internal: [/^\/internal\/metrics$/, /^\/internal\/queues(\/.*)?$/, /^\/internal\/v1\/openapi\.json$/],
};

/** The surfaces each listener may serve. */
const SURFACES_OF: Record<Listener, readonly Surface[]> = {
  public: ['public', 'partner', 'inbound', 'ops'],
  internal: ['internal'],
};

/** An OpenAPI path (`{id}`) for a Fastify path (`:id`). */
export const openApiPath = (path: string) => path.replace(/:([A-Za-z0-9_]+)/g, '{$1}');

/**
 * Controllers a test adds on purpose to probe cross-cutting behaviour (test/support/api.ts): their
 * routes are outside the inventory by design. Production never provides it.
 */
export const ROUTE_INVENTORY_PROBES = Symbol('benteng.route-inventory-probes');

export class RouteInventoryError extends Error {
  constructor(readonly listener: Listener, readonly problems: string[]) {
    super(`the ${listener} listener serves routes outside its inventory (OWASP API9): ${problems.join('; ')}`);
    this.name = 'RouteInventoryError';
  }
}

/**
 * API inventory (OWASP API9:2023, Improper Inventory Management): what a listener serves is what
 * its route catalog and its OpenAPI documents say, and nothing else. No debug or forgotten route, no
 * route a plugin added behind the documents' back, no route on the wrong listener, and every route
 * under its surface's versioned prefix.
 *
 * Fastify reports every route it registers (`onRoute`), whoever registers it: Nest controllers,
 * plugins, code that reaches for the Fastify instance. When the listener becomes ready (before it
 * listens, or before the first injected request in tests) the served set is checked, and a listener
 * that serves a route outside its inventory refuses to start. Hand-written because it is the
 * product's own rule about its own routes.
 */
@Injectable()
export class RouteInventory {
  private readonly probes: ReadonlySet<string>;
  private readonly served: ServedRoute[] = [];

  constructor(@Optional() @Inject(ROUTE_INVENTORY_PROBES) probes?: readonly string[]) {
    this.probes = new Set(probes ?? []);
  }

  /** Starts recording the routes of `app`; call before the application registers its routes. */
  watch(app: NestFastifyApplication, listener: Listener, documents: () => Record<string, { paths?: Record<string, unknown> }>): void {
    const served = this.served;
    const fastify = app.getHttpAdapter().getInstance();
    fastify.addHook('onRoute', (route: RouteOptions) => {
      for (const method of [route.method].flat()) served.push({ method: String(method).toUpperCase(), path: route.url });
    });
    fastify.addHook('onReady', async () => {
      const problems = this.check(app, listener, served, documents());
      if (problems.length > 0) throw new RouteInventoryError(listener, problems);
    });
  }

  /** Every route the watched listener registered, as Fastify reported it. */
  servedRoutes(): readonly ServedRoute[] {
    return this.served;
  }

  /** What is wrong with a listener's served routes, one line per route (empty when all is well). */
  check(app: INestApplication, listener: Listener, served: readonly ServedRoute[], documents: Record<string, { paths?: Record<string, unknown> }>): string[] {
    const routes = listRoutes(app);
    const catalog = new Set(routes.map((r) => `${r.method} ${r.path}`));
    const probes = new Set(routes.filter((r) => this.probes.has(r.controller)).map((r) => `${r.method} ${r.path}`));
    const documented = new Set(
      Object.values(documents).flatMap((document) => Object.entries(document.paths ?? {}).flatMap(([path, item]) => Object.keys(item as object).map((method) => `${method.toUpperCase()} ${path}`))),
    );
    const infrastructure = (path: string) => INFRASTRUCTURE_ROUTES[listener].some((pattern) => pattern.test(path));
    const gets = new Set(served.filter((r) => r.method === 'GET').map((r) => r.path));
    const problems: string[] = [];
    for (const route of served) {
      // Fastify answers HEAD for every GET route by itself (exposeHeadRoutes).
      if (route.method === 'HEAD' && gets.has(route.path)) continue;
      const key = `${route.method} ${route.path}`;
      if (probes.has(key)) continue;
      const surface = surfaceOf(route.path);
      if (!SURFACES_OF[listener].includes(surface)) problems.push(`${key} belongs to the ${surface} surface, not to this listener`);
      else if (infrastructure(route.path)) continue;
      else if (surface === 'ops') problems.push(`${key} has no surface (no /v1, /partner or /internal prefix)`);
      else if (!catalog.has(key)) problems.push(`${key} is not a controller route (registered on the HTTP server directly)`);
      else if (surface !== 'inbound' && !documented.has(`${route.method} ${openApiPath(route.path)}`)) problems.push(`${key} is missing from the ${surface} OpenAPI document`);
    }
    return problems;
  }
}

import { RequestMethod, type INestApplicationContext, type Type } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA, ROUTE_ARGS_METADATA } from '@nestjs/common/constants.js';
import { RouteParamtypes } from '@nestjs/common/enums/route-paramtypes.enum.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { getMetadataStorage } from 'class-validator';
import type { Sensitivity } from '@benteng/security';
import { ROUTE_ACCESS, ROUTE_SENSITIVITY, type RouteAccess } from './access.decorator.js';

export type Surface = 'public' | 'partner' | 'internal' | 'inbound' | 'ops';

export interface RouteEntry {
  method: string;
  path: string;
  /** Which trust boundary serves the route, from its path. */
  surface: Surface;
  controller: string;
  handler: string;
  access: RouteAccess | null;
  /** The rate-limit column the route is counted in (declared with @RateLimit, else by method). */
  rateLimit: Sensitivity;
  /**
   * How the handler reads the query string: through a DTO the ValidationPipe enforces (its name and
   * parameters), not at all (null: UnexpectedBodyInterceptor refuses every query key), or another
   * way that nothing validates (a single `@Query('key')`, an untyped object): 'unvalidated', which
   * test/e2e/route-catalog.spec.ts refuses.
   */
  query: { dto: string; params: string[] } | null | 'unvalidated';
}

/** The query a handler takes, from the router's parameter metadata (see RouteEntry.query). */
function queryOf(controller: Function, handler: string): RouteEntry['query'] {
  const args = (Reflect.getMetadata(ROUTE_ARGS_METADATA, controller, handler) ?? {}) as Record<string, { index: number; data?: unknown }>;
  const types = (Reflect.getMetadata('design:paramtypes', controller.prototype, handler) ?? []) as unknown[];
  const reads = Object.entries(args).filter(([key]) => key.startsWith(`${RouteParamtypes.QUERY}:`));
  if (reads.length === 0) return null;
  const [first, ...rest] = reads;
  const [, { index, data }] = first!;
  const type = types[index];
  if (rest.length > 0 || data !== undefined || typeof type !== 'function') return 'unvalidated';
  const rules = getMetadataStorage().getTargetValidationMetadatas(type, '', true, false);
  if (rules.length === 0) return 'unvalidated';
  return { dto: type.name, params: [...new Set(rules.map((r) => r.propertyName))].sort() };
}

export function surfaceOf(path: string): Surface {
  if (path === '/v1' || path.startsWith('/v1/')) return 'public';
  if (path.startsWith('/partner/')) return 'partner';
  if (path.startsWith('/internal/')) return 'internal';
  // Webhooks third parties send us, authenticated by their own signatures (never in /v1's document).
  if (path.startsWith('/webhooks/inbound/')) return 'inbound';
  return 'ops';
}

function joinPath(...parts: (string | string[] | undefined)[]): string {
  const segments = parts
    .map((p) => (Array.isArray(p) ? p[0] : p) ?? '')
    .flatMap((p) => p.split('/'))
    .filter(Boolean);
  return `/${segments.join('/')}`;
}

/**
 * Every HTTP route of an application with the access it declares, read from the same metadata
 * the router and AccessGuard use. The route-catalog test snapshots this list, so a change to who
 * may call what shows up in review, and fails on any route that declares nothing.
 */
export function listRoutes(app: INestApplicationContext): RouteEntry[] {
  const discovery = app.get(DiscoveryService);
  const scanner = app.get(MetadataScanner);
  const reflector = app.get(Reflector);
  const routes: RouteEntry[] = [];
  for (const wrapper of discovery.getControllers()) {
    const { instance, metatype } = wrapper;
    if (!instance || !metatype) continue;
    const prototype = Object.getPrototypeOf(instance) as object;
    const controllerPath = Reflect.getMetadata(PATH_METADATA, metatype) as string | string[] | undefined;
    for (const name of scanner.getAllMethodNames(prototype)) {
      const handler = (prototype as Record<string, unknown>)[name] as (...args: unknown[]) => unknown;
      const methodPath = Reflect.getMetadata(PATH_METADATA, handler) as string | string[] | undefined;
      if (methodPath === undefined) continue;
      const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod;
      const path = joinPath(controllerPath, methodPath);
      const verb = RequestMethod[method];
      const declared = reflector.getAllAndOverride<Sensitivity | undefined>(ROUTE_SENSITIVITY, [handler, metatype]);
      routes.push({
        method: verb,
        path,
        surface: surfaceOf(path),
        controller: metatype.name,
        handler: name,
        access: reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [handler, metatype]) ?? null,
        rateLimit: declared ?? (verb === 'GET' || verb === 'HEAD' ? 'read' : 'write'),
        query: queryOf(metatype, name),
      });
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

/**
 * The controller classes of an application by name (RouteEntry.controller), for code that reads a
 * route's handler metadata: its media types, its error format, its OpenAPI operation.
 */
export function controllerClasses(app: INestApplicationContext): Map<string, Type> {
  return new Map(
    app
      .get(DiscoveryService)
      .getControllers()
      .flatMap((w) => (w.metatype ? [[w.metatype.name, w.metatype as Type] as const] : [])),
  );
}

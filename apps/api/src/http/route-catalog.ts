import { RequestMethod, type INestApplicationContext } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants.js';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
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
      });
    }
  }
  return routes.sort((a, b) => a.path.localeCompare(b.path) || a.method.localeCompare(b.method));
}

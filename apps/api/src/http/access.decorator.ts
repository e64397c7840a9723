import { SetMetadata } from '@nestjs/common';

export const ROUTE_ACCESS = 'benteng:route-access';

/**
 * What a route declares about who may call it. Every route must carry one (the global
 * AccessGuard refuses the rest); the route catalog test snapshots them all. Authenticated kinds
 * join this union with their surfaces: each names its strategy, action and subject.
 */
export type RouteAccess = { readonly auth: 'none'; readonly reason: string };

/** No authentication: for health checks, key sets and login. Say why, so review can judge it. */
export const Public = (reason: string) => SetMetadata(ROUTE_ACCESS, { auth: 'none', reason } satisfies RouteAccess);

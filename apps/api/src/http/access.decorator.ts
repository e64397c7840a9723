import { applyDecorators, SetMetadata } from '@nestjs/common';
import type { Action, SubjectName } from '@benteng/authz';

export const ROUTE_ACCESS = 'benteng:route-access';

/**
 * What a route declares about who may call it. Every route must carry one (the global
 * AccessGuard refuses the rest); the route catalog test snapshots them all, and the
 * function-level matrix test drives every role through every declared route.
 */
export type RouteAccess =
  | { readonly auth: 'none'; readonly reason: string }
  | { readonly auth: 'public-jwt'; readonly action: Action; readonly subject: SubjectName };

/** No authentication: for health checks, key sets and login. Say why, so review can judge it. */
export const Public = (reason: string) => SetMetadata(ROUTE_ACCESS, { auth: 'none', reason } satisfies RouteAccess);

/**
 * A tenant user with a valid access token whose role may perform `action` on some `subject`
 * (function-level authorization). Which objects they may touch is decided again in the service,
 * against the same CASL rules (object-level authorization).
 */
export const Authorize = (action: Action, subject: SubjectName) =>
  applyDecorators(SetMetadata(ROUTE_ACCESS, { auth: 'public-jwt', action, subject } satisfies RouteAccess));

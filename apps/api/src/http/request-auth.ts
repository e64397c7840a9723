import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { AuthenticatedUser, RequestMeta } from '@benteng/auth';
import { clientIp } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';

const AUTH = Symbol('benteng.auth');
type WithAuth = FastifyRequest & { [AUTH]?: { user: AuthenticatedUser; scope: Scope } };

export function attachAuth(request: FastifyRequest, auth: { user: AuthenticatedUser; scope: Scope }): void {
  (request as WithAuth)[AUTH] = auth;
}

function authOf(context: ExecutionContext): { user: AuthenticatedUser; scope: Scope } {
  const auth = context.switchToHttp().getRequest<WithAuth>()[AUTH];
  // Only reachable on a route whose declaration does not authenticate: a programming error.
  if (!auth) throw new Error('no authenticated principal on this route');
  return auth;
}

/** The Scope built by AccessGuard from the verified token: the first argument of every service call. */
export const CurrentScope = createParamDecorator((_: unknown, context: ExecutionContext): Scope => authOf(context).scope);

/** The verified token's user, tenant, session and role. */
export const CurrentUser = createParamDecorator((_: unknown, context: ExecutionContext): AuthenticatedUser => authOf(context).user);

/** Client IP (as Fastify resolved it through trusted proxies), user agent and request id. */
export const Meta = createParamDecorator((_: unknown, context: ExecutionContext): RequestMeta => {
  const request = context.switchToHttp().getRequest<FastifyRequest>();
  const userAgent = request.headers['user-agent'];
  return { ip: clientIp(request), requestId: String(request.id), ...(userAgent ? { userAgent } : {}) };
});

/** The Scope AccessGuard attached to this request (for interceptors; handlers use @CurrentScope). */
export function scopeOf(request: FastifyRequest): Scope {
  const auth = (request as WithAuth)[AUTH];
  if (!auth) throw new Error('no authenticated principal on this route');
  return auth.scope;
}

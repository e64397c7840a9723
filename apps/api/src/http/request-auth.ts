import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import type { VerifiedPartnerCredential, VerifiedUserToken, RequestMeta } from '@benteng/auth';
import { clientIp } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';

const AUTH = Symbol('benteng.auth');

/** What AccessGuard established about the caller of an authenticated route. */
export type RequestAuth =
  | { readonly kind: 'user'; readonly user: VerifiedUserToken; readonly scope: Scope }
  | { readonly kind: 'partner'; readonly partner: VerifiedPartnerCredential; readonly scope: Scope };

type WithAuth = FastifyRequest & { [AUTH]?: RequestAuth };

export function attachAuth(request: FastifyRequest, auth: RequestAuth): void {
  (request as WithAuth)[AUTH] = auth;
}

/** The authenticated caller of this request, if AccessGuard established one. */
export function authOfRequest(request: FastifyRequest): RequestAuth | undefined {
  return (request as WithAuth)[AUTH];
}

function authOf(context: ExecutionContext): RequestAuth {
  const auth = context.switchToHttp().getRequest<WithAuth>()[AUTH];
  // Only reachable on a route whose declaration does not authenticate: a programming error.
  if (!auth) throw new Error('no authenticated principal on this route');
  return auth;
}

/** The Scope built by AccessGuard from the verified credential: the first argument of every service call. */
export const CurrentScope = createParamDecorator((_: unknown, context: ExecutionContext): Scope => authOf(context).scope);

/** The verified token's user, tenant, session and role (public surface). */
export const CurrentUser = createParamDecorator((_: unknown, context: ExecutionContext): VerifiedUserToken => {
  const auth = authOf(context);
  if (auth.kind !== 'user') throw new Error('CurrentUser on a route that does not authenticate users');
  return auth.user;
});

/** The verified partner client, tenant and scopes (partner surface). */
export const CurrentPartner = createParamDecorator((_: unknown, context: ExecutionContext): VerifiedPartnerCredential => {
  const auth = authOf(context);
  if (auth.kind !== 'partner') throw new Error('CurrentPartner on a route that does not authenticate partners');
  return auth.partner;
});

export function requestMeta(request: FastifyRequest): RequestMeta {
  const userAgent = request.headers['user-agent'];
  return { ip: clientIp(request), requestId: String(request.id), ...(userAgent ? { userAgent } : {}) };
}

/** Client IP (as Fastify resolved it through trusted proxies), user agent and request id. */
export const Meta = createParamDecorator((_: unknown, context: ExecutionContext): RequestMeta => requestMeta(context.switchToHttp().getRequest<FastifyRequest>()));

/** The Scope AccessGuard attached to this request (for interceptors; handlers use @CurrentScope). */
export function scopeOf(request: FastifyRequest): Scope {
  const auth = (request as WithAuth)[AUTH];
  if (!auth) throw new Error('no authenticated principal on this route');
  return auth.scope;
}

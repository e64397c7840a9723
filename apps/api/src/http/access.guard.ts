import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { AuthError, AuthErrorCode, PARTNER_AUTH, PUBLIC_JWT, type AuthenticatedPartner, type AuthenticatedUser } from '@benteng/auth';
import type { Action, SubjectName } from '@benteng/authz';
import { principalId } from '@benteng/authz';
import { InjectRedis } from '@benteng/redis';
import { AbuseDetector, clientIp, RateLimiter, SecurityError, SecurityErrorCode, type PrincipalClass, type RateLimitSubject, type Sensitivity } from '@benteng/security';
import { RequestContext, Scope } from '@benteng/tenancy';
import { ROUTE_ACCESS, ROUTE_SENSITIVITY, type RouteAccess } from './access.decorator.js';
import { attachAuth, type RequestAuth } from './request-auth.js';

/** Runs the public JWT passport strategy (Bearer token, revocation check). */
@Injectable()
export class PublicJwtGuard extends AuthGuard(PUBLIC_JWT) {
  /** A missing token gets the same problem as an invalid one: nothing tells them apart. */
  override handleRequest<TUser>(error: unknown, user: TUser | false): TUser {
    if (error) throw error;
    if (!user) throw new AuthError(AuthErrorCode.Unauthenticated);
    return user;
  }
}

/** Runs the partner passport strategy (API key or client-credentials token). */
@Injectable()
export class PartnerGuard extends AuthGuard(PARTNER_AUTH) {
  override handleRequest<TUser>(error: unknown, user: TUser | false): TUser {
    if (error) throw error;
    if (!user) throw new AuthError(AuthErrorCode.PartnerUnauthenticated);
    return user;
  }
}

/** Marks a request refused because its principal or address is blocked (not observed again). */
export const REFUSED_AS_BLOCKED = Symbol('benteng.refused-as-blocked');

/** The rate-limit column of a route: declared with @RateLimit, else by method. */
export function sensitivityOf(reflector: Reflector, context: ExecutionContext, method: string): Sensitivity {
  const declared = reflector.getAllAndOverride<Sensitivity | undefined>(ROUTE_SENSITIVITY, [context.getHandler(), context.getClass()]);
  return declared ?? (method === 'GET' || method === 'HEAD' ? 'read' : 'write');
}

/**
 * The request path's gate (ARCHITECTURE.md, "The request path"), in order:
 *
 * 1. Deny by default. Unlike frameworks (and many boilerplates) that treat an undecorated route as
 *    open, a route that declares no access is refused here (403 and an error log line: a
 *    programming mistake), so forgetting a decorator fails closed.
 * 2. An address the abuse detector blocked is refused before any credential is looked at.
 * 3. Authentication by the route's surface: a public access token on /v1, a partner API key or
 *    client-credentials token on /partner/v1. Each strategy only knows its own credential, so one
 *    surface's credential is a 401 on another. Then the principal's own block, if any.
 * 4. Rate limit by principal class × route sensitivity, per credential owner (user, partner
 *    client, or the address for anonymous calls), plus the tenant's aggregate cap. The answer
 *    carries RateLimit-Policy / RateLimit headers; a refusal is a 429 with Retry-After, audited
 *    once per window.
 * 5. Function-level authorization: 403 (audited) when the principal's CASL ability cannot perform
 *    the route's action on its subject at all. Object-level checks follow in the services.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly logger: PinoLogger,
    private readonly jwt: PublicJwtGuard,
    private readonly partner: PartnerGuard,
    private readonly context: RequestContext,
    private readonly audit: AuditLog,
    private readonly limits: RateLimiter,
    private readonly abuse: AbuseDetector,
    @InjectRedis() private readonly redis: Redis,
  ) {
    this.logger.setContext(AccessGuard.name);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [context.getHandler(), context.getClass()]);
    if (!access) {
      this.logger.error({ controller: context.getClass().name, handler: context.getHandler().name }, 'route declares no access; refused');
      throw new ForbiddenException();
    }
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const ip = clientIp(request);
    const sensitivity = sensitivityOf(this.reflector, context, request.method);
    await this.refuseIfBlocked(request, ip);

    if (access.auth === 'none') {
      await this.limit(request, reply, { principalClass: 'anonymous', owner: `ip:${ip}` }, sensitivity);
      return true;
    }

    const auth = access.auth === 'public-jwt' ? await this.authenticateUser(context) : await this.authenticatePartner(context);
    attachAuth(request, auth);
    this.context.enterScope(auth.scope);
    const principal = principalId(auth.scope.principal);
    await this.refuseIfBlocked(request, ip, principal);
    await this.limit(request, reply, { principalClass: principalClassOf(auth), owner: principal, tenantId: auth.scope.tenantId }, sensitivity);
    await this.authorize(request, auth, access.action, access.subject, ip);
    return true;
  }

  private async authenticateUser(context: ExecutionContext): Promise<RequestAuth> {
    await this.jwt.canActivate(context);
    const user = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedUser }>().user!;
    return { kind: 'user', user, scope: Scope.for(user.tenantId, { kind: 'user', userId: user.userId, role: user.role, sessionId: user.sessionId }) };
  }

  private async authenticatePartner(context: ExecutionContext): Promise<RequestAuth> {
    await this.partner.canActivate(context);
    const partner = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedPartner }>().user!;
    const principal = { kind: 'partner' as const, clientId: partner.clientId, scopes: partner.scopes, tier: partner.tier, ...(partner.keyId ? { keyId: partner.keyId } : {}) };
    return { kind: 'partner', partner, scope: Scope.for(partner.tenantId, principal) };
  }

  private async refuseIfBlocked(request: FastifyRequest, ip: string, principal?: string): Promise<void> {
    const block = await this.abuse.blockedFor(ip, principal);
    if (!block) return;
    (request as FastifyRequest & { [REFUSED_AS_BLOCKED]?: boolean })[REFUSED_AS_BLOCKED] = true;
    this.logger.info({ event: 'security.blocked_request', subject: block.subject, signal: block.signal, ip, principal }, 'request refused: blocked');
    throw new SecurityError(SecurityErrorCode.Blocked, block.retryAfterS);
  }

  private async limit(request: FastifyRequest, reply: FastifyReply, subject: RateLimitSubject, sensitivity: Sensitivity): Promise<void> {
    const result = await this.limits.consume(subject, sensitivity);
    for (const [name, value] of Object.entries(result.headers)) reply.header(name, value);
    if (result.allowed) return;
    const retryAfterS = result.retryAfterS ?? 1;
    // One audit row and one warning per owner, policy and window, however many requests it refuses.
    const first = await this.redis.set(`benteng:rl:reported:${result.policy}:${result.exceeded ?? 'principal'}:${subject.owner}`, '1', 'EX', Math.max(1, retryAfterS), 'NX').catch(() => null);
    if (first === 'OK') {
      this.logger.warn({ event: 'security.rate_limited', policy: result.policy, exceeded: result.exceeded, owner: subject.owner, tenantId: subject.tenantId, ip: clientIp(request) }, 'rate limit exceeded');
      if (subject.tenantId) {
        await this.audit.recordFor(subject.tenantId, {
          type: 'security.rate_limited',
          outcome: 'denied',
          actor: subject.owner,
          ip: clientIp(request),
          requestId: String(request.id),
          data: { policy: result.policy, exceeded: result.exceeded ?? 'principal', retryAfterS },
        });
      }
    }
    throw new SecurityError(SecurityErrorCode.RateLimited, retryAfterS);
  }

  private async authorize(request: FastifyRequest, auth: RequestAuth, action: Action, subject: SubjectName, ip: string): Promise<void> {
    if (auth.scope.ability.can(action, subject)) return;
    await this.audit.record(auth.scope, {
      type: 'authz.denied',
      outcome: 'denied',
      actor: principalId(auth.scope.principal),
      subject: `${action}:${subject}`,
      ip,
      requestId: String(request.id),
      data:
        auth.kind === 'user'
          ? { surface: 'public', route: `${request.method} ${request.routeOptions.url ?? ''}`, role: auth.user.role }
          : { surface: 'partner', route: `${request.method} ${request.routeOptions.url ?? ''}`, scope: auth.partner.scopes.join(' ') },
    });
    throw new ForbiddenException();
  }
}

function principalClassOf(auth: RequestAuth): PrincipalClass {
  return auth.kind === 'user' ? 'user' : `partner:${auth.partner.tier}`;
}

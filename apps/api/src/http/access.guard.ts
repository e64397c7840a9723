import { CanActivate, ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import passport from 'passport';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { assertUnreachable } from '@benteng/common';
import { AuthError, AuthErrorCode, PartnerStrategy, PublicJwtStrategy, type AuthenticatedPartner, type AuthenticatedUser } from '@benteng/auth';
import type { Action, SubjectName } from '@benteng/authz';
import { AbilityFactory, principalId } from '@benteng/authz';
import { InjectRedis } from '@benteng/redis';
import { AbuseDetector, type ActiveBlock, clientIp, RateLimiter, SecurityError, SecurityErrorCode, type PrincipalClass, type RateLimitSubject, type Sensitivity } from '@benteng/security';
import { RequestContext, Scope } from '@benteng/tenancy';
import { ROUTE_SENSITIVITY, type RouteAccess } from './access.decorator.js';
import { attachAuth, type RequestAuth } from './request-auth.js';
import { DeclaredAccess } from './declared-access.js';
import { processMetrics, surfaceOfRequest } from '../metrics/metrics.js';
import { RefusalException } from './problem.js';

/**
 * Runs one passport strategy instance for one request and resolves with what it authenticated, or
 * undefined when it failed without an error.
 *
 * Hand-written instead of @nestjs/passport's AuthGuard: AuthGuard authenticates by strategy *name*
 * through passport's process-wide registry, where the strategy of the last application built wins.
 * With two applications in one process (tests with another configuration, or a second listener) one
 * app would authenticate with the other's configuration, clock and connections, even after that
 * other app was closed. Passing this app's own instance avoids the registry. Passport binds
 * success/fail onto the object it is given, so each request gets a fresh object whose prototype is
 * the instance (as passport itself does for named strategies).
 */
export function authenticateWith<T>(strategy: object, request: FastifyRequest, reply: FastifyReply): Promise<T | undefined> {
  return new Promise((resolve, reject) => {
    const middleware = passport.authenticate(Object.create(strategy) as passport.Strategy, { session: false }, (error: unknown, user: T | false) => {
      if (error) reject(error instanceof Error ? error : new Error(String(error)));
      else resolve(user || undefined);
    }) as (req: unknown, res: unknown, next: (error?: unknown) => void) => void;
    middleware(request, reply, (error?: unknown) => (error ? reject(error instanceof Error ? error : new Error(String(error))) : resolve(undefined)));
  });
}

/** The public surface's authentication: PublicJwtStrategy (Bearer access token, revocation check). */
@Injectable()
export class PublicJwtGuard {
  constructor(private readonly strategy: PublicJwtStrategy) {}

  /** A missing token gets the same problem as an invalid one: nothing tells them apart. */
  async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<AuthenticatedUser> {
    const user = await authenticateWith<AuthenticatedUser>(this.strategy, request, reply);
    if (!user) throw new AuthError(AuthErrorCode.Unauthenticated);
    return user;
  }
}

/** The partner surface's authentication: PartnerStrategy (API key or client-credentials token). */
@Injectable()
export class PartnerGuard {
  constructor(private readonly strategy: PartnerStrategy) {}

  async authenticate(request: FastifyRequest, reply: FastifyReply): Promise<AuthenticatedPartner> {
    const partner = await authenticateWith<AuthenticatedPartner>(this.strategy, request, reply);
    if (!partner) throw new AuthError(AuthErrorCode.PartnerUnauthenticated);
    return partner;
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
 * The request path's gate (docs/architecture.md, "The request path"), in order:
 *
 * 1. Deny by default. Unlike frameworks (and many boilerplates) that treat an undecorated route as
 *    open, a route that declares no access is refused (403 and an error log line: a programming
 *    mistake), so forgetting a decorator fails closed (DeclaredAccess, declared-access.ts).
 * 2. The address's block, read before any credential is looked at. An explicit one (an operator's
 *    deny entry) refuses every request at once. An automatic one (the abuse detector's, placed by
 *    failures that came without a valid credential) refuses only unauthenticated traffic: one
 *    client's failures must not lock out everyone sharing its address (an office NAT, a mobile
 *    carrier's CGNAT, a partner's egress). So a route that authenticates at the gate checks the
 *    credential first: a valid, unrevoked one goes on to be judged by its principal's own block
 *    and limits; a missing or invalid one is refused as blocked (a garbage token buys nothing).
 *    Routes that verify a credential of their own (`@Public(…, { credential })`: login, refresh,
 *    token, signed links, signed webhooks) are left to that check and its throttle.
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
    private readonly abilities: AbilityFactory,
    private readonly declared: DeclaredAccess,
  ) {
    this.logger.setContext(AccessGuard.name);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.declared.of(context);
    const request = context.switchToHttp().getRequest<FastifyRequest>();
    const reply = context.switchToHttp().getResponse<FastifyReply>();
    const ip = clientIp(request);
    const sensitivity = sensitivityOf(this.reflector, context, request.method);
    // One read (an MGET of one key) whatever the request carries; nothing else is looked up here.
    const addressBlock = await this.abuse.blockedFor(ip);
    if (addressBlock?.source === 'explicit') this.refuse(request, addressBlock);

    if (access.auth === 'none') {
      if (addressBlock && access.credential === undefined) this.refuse(request, addressBlock);
      await this.limit(request, reply, { principalClass: 'anonymous', owner: `ip:${ip}` }, sensitivity);
      return true;
    }

    // Internal routes live on the internal listener only (InternalAccessGuard); should one ever be
    // mounted here, no public or partner credential reaches it.
    if (access.auth === 'internal-operator' || access.auth === 'internal-service') {
      this.logger.error({ controller: context.getClass().name, handler: context.getHandler().name }, 'internal route on the public listener; refused');
      throw new AuthError(AuthErrorCode.Unauthenticated);
    }
    let auth: RequestAuth;
    try {
      auth = await this.authenticate(access, request, reply);
    } catch (error) {
      // No credential, or one that does not verify: unauthenticated traffic, which the address's
      // block does refuse. Costs what verifying the credential costs, nothing more (a signature
      // for a token; one key lookup for a well-formed API key), and the refusal is not observed
      // again, so a flood of garbage tokens neither prolongs the block nor reaches the handler.
      if (addressBlock && error instanceof AuthError) this.refuse(request, addressBlock);
      throw error;
    }
    attachAuth(request, auth);
    this.context.enterScope(auth.scope);
    const principal = principalId(auth.scope.principal);
    await this.refuseIfBlocked(request, principal);
    await this.limit(request, reply, { principalClass: principalClassOf(auth), owner: principal, tenantId: auth.scope.tenantId }, sensitivity);
    await this.authorize(request, auth, access.action, access.subject, ip);
    return true;
  }

  /** Each auth kind has exactly one strategy; a kind nobody handles fails closed at compile time. */
  private authenticate(access: Extract<RouteAccess, { auth: 'public-jwt' | 'partner' }>, request: FastifyRequest, reply: FastifyReply): Promise<RequestAuth> {
    switch (access.auth) {
      case 'public-jwt':
        return this.authenticateUser(request, reply);
      case 'partner':
        return this.authenticatePartner(request, reply);
      default:
        return assertUnreachable(access);
    }
  }

  private async authenticateUser(request: FastifyRequest, reply: FastifyReply): Promise<RequestAuth> {
    const user = await this.jwt.authenticate(request, reply);
    return { kind: 'user', user, scope: Scope.for(user.tenantId, { kind: 'user', userId: user.userId, role: user.role, sessionId: user.sessionId }, this.abilities) };
  }

  private async authenticatePartner(request: FastifyRequest, reply: FastifyReply): Promise<RequestAuth> {
    const partner = await this.partner.authenticate(request, reply);
    const principal = { kind: 'partner' as const, clientId: partner.clientId, scopes: partner.scopes, tier: partner.tier, ...(partner.keyId ? { keyId: partner.keyId } : {}) };
    return { kind: 'partner', partner, scope: Scope.for(partner.tenantId, principal, this.abilities) };
  }

  /** After authentication: the principal's own block (one key; the address was read before). */
  private async refuseIfBlocked(request: FastifyRequest, principal: string): Promise<void> {
    const block = await this.abuse.blockedFor(undefined, principal);
    if (block) this.refuse(request, block, principal);
  }

  private refuse(request: FastifyRequest, block: ActiveBlock, principal?: string): never {
    (request as FastifyRequest & { [REFUSED_AS_BLOCKED]?: boolean })[REFUSED_AS_BLOCKED] = true;
    this.logger.info({ event: 'security.blocked_request', subject: block.subject, signal: block.signal, source: block.source, ip: clientIp(request), principal }, 'request refused: blocked');
    processMetrics.blockedRequests.inc({ surface: surfaceOfRequest(request) });
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
    processMetrics.rateLimited.inc({ surface: surfaceOfRequest(request), principal_class: subject.principalClass });
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
    throw new RefusalException(HttpStatus.FORBIDDEN, 'access.denied');
  }
}

function principalClassOf(auth: RequestAuth): PrincipalClass {
  return auth.kind === 'user' ? 'user' : `partner:${auth.partner.tier}`;
}

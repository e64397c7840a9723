import { ExecutionContext, Injectable } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import passport from 'passport';
import { PinoLogger } from 'nestjs-pino';
import { assertUnreachable } from '@benteng/common';
import { AuthError, AuthErrorCode, PartnerStrategy, PublicJwtStrategy, type VerifiedPartnerCredential, type VerifiedUserToken } from '@benteng/auth';
import { AbilityFactory } from '@benteng/authz';
import type { Guard } from '@benteng/security';
import { RequestContext, Scope } from '@benteng/tenancy';
import type { RouteAccess } from '../access.decorator.js';
import { attachAuth, type RequestAuth } from '../request-auth.js';
import { GATE_LOG_CONTEXT } from './gate-log.js';

/** The routes the public gate authenticates: one surface each. */
export type AuthenticatedAccess = Extract<RouteAccess, { auth: 'public-jwt' | 'partner' }>;

/**
 * Authenticate, by the route's surface: a public access token on /v1 (PublicJwtStrategy, with the
 * revocation check), a partner API key or client-credentials token on /partner/v1
 * (PartnerStrategy). Each strategy only knows its own credential, so one surface's credential is a
 * 401 on another; a missing credential gets the same problem as an invalid one. The verified
 * caller is attached to the request (@CurrentScope, @CurrentUser, @CurrentPartner) and its Scope
 * entered for the request's logs.
 */
@Injectable()
export class AuthenticateStage {
  constructor(
    private readonly jwt: PublicJwtStrategy,
    private readonly partner: PartnerStrategy,
    private readonly abilities: AbilityFactory,
    private readonly context: RequestContext,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(GATE_LOG_CONTEXT);
  }

  /**
   * Internal routes live on the internal listener only (InternalAccessGuard); should one ever be
   * mounted here, no public or partner credential reaches it.
   */
  refuseInternal(context: ExecutionContext): never {
    this.logger.error({ controller: context.getClass().name, handler: context.getHandler().name }, 'internal route on the public listener; refused');
    throw new AuthError(AuthErrorCode.Unauthenticated);
  }

  /** The verified caller of the route, attached to the request; throws AuthError when none verifies. */
  async caller(access: AuthenticatedAccess, request: FastifyRequest, reply: FastifyReply): Promise<RequestAuth> {
    const auth = await this.verify(access, request, reply);
    await this.admit(request, auth);
    return auth;
  }

  /**
   * The caller whose credential verifies, not yet admitted: a user's token still has to pass the
   * revocation check (`admit`). Throws AuthError when none verifies.
   */
  verify(access: AuthenticatedAccess, request: FastifyRequest, reply: FastifyReply): Promise<RequestAuth> {
    switch (access.auth) {
      case 'public-jwt':
        return this.user(request, reply);
      case 'partner':
        return this.partnerClient(request, reply);
      default:
        return assertUnreachable(access);
    }
  }

  /**
   * The keys the revocation check reads, for the gate's one round trip (GateRoundTrip): a user's
   * markers, none for a partner client (its key or token was checked against Postgres by its
   * strategy), undefined when the markers cannot be read in a round trip (RevocationStore.guards).
   */
  revocationGuards(auth: RequestAuth): Guard[] | undefined {
    return auth.kind === 'user' ? this.jwt.revocationGuards(auth.user) : [];
  }

  /**
   * Refuses a revoked user token (AuthError), judged from `read` (the round trip's read of
   * `revocationGuards`) or, without it, by the store's own read; then attaches the caller to the
   * request and enters its Scope for the logs.
   */
  async admit(request: FastifyRequest, auth: RequestAuth, read?: readonly (string | null)[]): Promise<void> {
    if (auth.kind === 'user') await this.jwt.refuseRevoked(auth.user, read);
    attachAuth(request, auth);
    this.context.enterScope(auth.scope);
  }

  private async user(request: FastifyRequest, reply: FastifyReply): Promise<RequestAuth> {
    const user = await authenticateWith<VerifiedUserToken>(this.jwt, request, reply);
    if (!user) throw new AuthError(AuthErrorCode.Unauthenticated);
    return { kind: 'user', user, scope: Scope.for(user.tenantId, { kind: 'user', userId: user.userId, role: user.role, sessionId: user.sessionId }, this.abilities) };
  }

  private async partnerClient(request: FastifyRequest, reply: FastifyReply): Promise<RequestAuth> {
    const partner = await authenticateWith<VerifiedPartnerCredential>(this.partner, request, reply);
    if (!partner) throw new AuthError(AuthErrorCode.PartnerUnauthenticated);
    const principal = { kind: 'partner' as const, clientId: partner.clientId, scopes: partner.scopes, tier: partner.tier, ...(partner.keyId ? { keyId: partner.keyId } : {}) };
    return { kind: 'partner', partner, scope: Scope.for(partner.tenantId, principal, this.abilities) };
  }
}

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

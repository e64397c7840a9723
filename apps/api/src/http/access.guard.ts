import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { AuthGuard } from '@nestjs/passport';
import type { FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { AuthError, AuthErrorCode, PUBLIC_JWT, type AuthenticatedUser } from '@benteng/auth';
import { clientIp } from '@benteng/security';
import { RequestContext, Scope } from '@benteng/tenancy';
import { ROUTE_ACCESS, type RouteAccess } from './access.decorator.js';
import { attachAuth } from './request-auth.js';

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

/**
 * Deny by default. Unlike frameworks (and many boilerplates) that treat an undecorated route as
 * open, a route that declares no access is refused here, so forgetting a decorator fails closed.
 * The refusal is a 403 (the caller did nothing wrong that authentication would fix) and an error
 * log line, because it is a programming mistake.
 *
 * For authenticated routes: 401 when the token is missing, invalid or revoked; 403 (audited) when
 * the principal's role may not perform the route's action on its subject at all.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly logger: PinoLogger,
    private readonly jwt: PublicJwtGuard,
    private readonly context: RequestContext,
    private readonly audit: AuditLog,
  ) {
    this.logger.setContext(AccessGuard.name);
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [context.getHandler(), context.getClass()]);
    if (!access) {
      this.logger.error({ controller: context.getClass().name, handler: context.getHandler().name }, 'route declares no access; refused');
      throw new ForbiddenException();
    }
    switch (access.auth) {
      case 'none':
        return true;
      case 'public-jwt':
        return this.authorizeUser(context, access);
    }
  }

  private async authorizeUser(context: ExecutionContext, access: Extract<RouteAccess, { auth: 'public-jwt' }>): Promise<boolean> {
    await this.jwt.canActivate(context);
    const request = context.switchToHttp().getRequest<FastifyRequest & { user?: AuthenticatedUser }>();
    const user = request.user!;
    const scope = Scope.for(user.tenantId, { kind: 'user', userId: user.userId, role: user.role, sessionId: user.sessionId });
    attachAuth(request, { user, scope });
    this.context.enterScope(scope);
    if (!scope.ability.can(access.action, access.subject)) {
      await this.audit.record(scope, {
        type: 'authz.denied',
        outcome: 'denied',
        actor: `user:${user.userId}`,
        subject: `${access.action}:${access.subject}`,
        ip: clientIp(request),
        requestId: String(request.id),
        data: { route: `${request.method} ${request.routeOptions.url ?? ''}`, role: user.role },
      });
      throw new ForbiddenException();
    }
    return true;
  }
}

import { ExecutionContext, HttpStatus, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PinoLogger } from 'nestjs-pino';
import { ROUTE_ACCESS, type RouteAccess } from '../access.decorator.js';
import { RefusalException } from '../problem.js';

/**
 * Deny by default, the first step of AccessGuard. Unlike frameworks (and many boilerplates) that
 * treat an undecorated route as open, a route that declares no access (@Anonymous, @Authorize,
 * @PartnerAuthorize, …) is refused: 403 `access.undeclared` and an error log line, since it is a programming mistake.
 * Forgetting a decorator therefore fails closed. A class of its own so the kill-switch suite can
 * show what a permissive default would expose (test/security/kill-switches/authz.ts).
 */
@Injectable()
export class DeclaredAccess {
  constructor(
    private readonly reflector: Reflector,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(DeclaredAccess.name);
  }

  of(context: ExecutionContext): RouteAccess {
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [context.getHandler(), context.getClass()]);
    if (!access) {
      this.logger.error({ controller: context.getClass().name, handler: context.getHandler().name }, 'route declares no access; refused');
      throw new RefusalException(HttpStatus.FORBIDDEN, 'access.undeclared');
    }
    return access;
  }
}

import { CanActivate, ExecutionContext, ForbiddenException, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PinoLogger } from 'nestjs-pino';
import { ROUTE_ACCESS, type RouteAccess } from './access.decorator.js';

/**
 * Deny by default. Unlike frameworks (and many boilerplates) that treat an undecorated route as
 * open, a route that declares no access is refused here, so forgetting a decorator fails closed.
 * The refusal is a 403 (the caller did nothing wrong that authentication would fix) and an error
 * log line, because it is a programming mistake.
 */
@Injectable()
export class AccessGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(AccessGuard.name);
  }

  canActivate(context: ExecutionContext): boolean {
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [
      context.getHandler(),
      context.getClass(),
    ]);
    if (!access) {
      this.logger.error(
        { controller: context.getClass().name, handler: context.getHandler().name },
        'route declares no access; refused',
      );
      throw new ForbiddenException();
    }
    switch (access.auth) {
      case 'none':
        return true;
    }
  }
}

import type { FastifyReply, FastifyRequest } from 'fastify';
import passport from 'passport';

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

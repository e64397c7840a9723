import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { DomainError } from '@benteng/common';
import { toProblem } from '../http/problem-details.filter.js';
import { PROBLEM_CONTENT_TYPE } from '../http/problem.js';

/** Realm of the token endpoint's HTTP Basic client authentication. */
export const TOKEN_REALM = 'benteng-partner';

/**
 * Errors of POST /partner/oauth/token: the same RFC 9457 problems as everywhere, plus what
 * RFC 6749 5.2 asks of a token endpoint:
 * - an `error` member on every 400 (validation failures, which carry no OAuth code of their own,
 *   are `invalid_request`; AuthError already sets `invalid_scope` and the others);
 * - 401 answers with `WWW-Authenticate: Basic`, the scheme clients authenticate with here;
 * - `Cache-Control: no-store` on errors too, like the token response itself.
 */
@Catch()
export class OAuthProblemFilter implements ExceptionFilter {
  constructor(private readonly logger: PinoLogger) {
    this.logger.setContext(OAuthProblemFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const requestId = (request.raw as { id?: string } | undefined)?.id ?? request.id;
    const problem = toProblem(exception, requestId);
    if (problem.status === 400 && problem['error'] === undefined) problem['error'] = 'invalid_request';
    if (problem.status >= 500) this.logger.error({ err: exception }, 'token request failed');
    if (problem.status === 401) reply.header('www-authenticate', `Basic realm="${TOKEN_REALM}"`);
    if (exception instanceof DomainError && exception.retryAfterS !== undefined) reply.header('retry-after', String(exception.retryAfterS));
    reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
    reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
  }
}

import { ArgumentsHost, Catch, ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { DomainError } from '@benteng/common';
import { SIGNATURE_SCHEME } from '@benteng/security';
import { toProblem } from '../http/problem-details.filter.js';
import { PROBLEM_CONTENT_TYPE } from '../http/problem.js';

/**
 * RFC 9457 problems on the internal listener: the same bodies as the public surface (toProblem),
 * but a 401 names the signature scheme this listener accepts, not Bearer.
 */
@Catch()
export class InternalProblemDetailsFilter implements ExceptionFilter {
  constructor(private readonly logger: PinoLogger) {
    this.logger.setContext(InternalProblemDetailsFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    const problem = toProblem(exception, request.id);
    if (problem.status >= 500) this.logger.error({ err: exception }, 'internal request failed');
    if (problem.status === 401) reply.header('www-authenticate', SIGNATURE_SCHEME);
    if (exception instanceof DomainError && exception.retryAfterS !== undefined) reply.header('retry-after', String(exception.retryAfterS));
    reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
  }
}

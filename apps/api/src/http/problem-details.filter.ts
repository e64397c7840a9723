import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';
import { isConcurrencyConflict, isDatabaseUnavailable } from '@benteng/database';
import { sendOAuthError, wantsOAuthErrors } from '../partner/oauth-error.filter.js';
import { PROBLEM_CONTENT_TYPE, problemBase, ProblemException, RefusalException, ValidationProblem, type ProblemDetails } from './problem.js';

function statusOf(kind: DomainErrorKind): number {
  switch (kind) {
    case 'not_found':
      return 404;
    case 'forbidden':
      return 403;
    case 'conflict':
      return 409;
    case 'invalid':
      return 400;
    case 'precondition_failed':
      return 412;
    case 'unauthenticated':
      return 401;
    case 'rate_limited':
      return 429;
    case 'gone':
      return 410;
    case 'too_large':
      return 413;
    case 'unsupported_media_type':
      return 415;
    default:
      return assertUnreachable(kind);
  }
}

/** Errors Fastify raises before a handler runs (body too large, bad JSON, wrong media type). */
function fastifyClientStatus(exception: unknown): number | undefined {
  const status = (exception as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * Every error leaves as RFC 9457 problem+json with a `code` (a feature's, or the status's generic
 * `http.*` code: problem.ts#statusCode) and its URN type. Bodies carry fixed sentences and codes, never
 * exception messages, stack traces or echoed input; unexpected errors are logged in full and the
 * client gets the request id to quote.
 */
export function toProblem(exception: unknown, requestId: string | undefined): ProblemDetails {
  const base = (status: number, code?: string): ProblemDetails => ({
    ...problemBase(status, code),
    ...(requestId ? { requestId } : {}),
  });

  if (exception instanceof DomainError) {
    return { ...exception.extensions, ...base(statusOf(exception.kind), exception.code), detail: exception.message };
  }
  if (exception instanceof ValidationProblem) {
    return { ...base(400, 'validation'), detail: 'The request is not valid.', errors: exception.errors };
  }
  if (exception instanceof RefusalException) {
    return base(exception.getStatus(), exception.code);
  }
  if (exception instanceof ProblemException) {
    const code = exception.extensions['code'];
    return { ...exception.extensions, ...base(exception.getStatus(), typeof code === 'string' ? code : undefined) };
  }
  if (exception instanceof HttpException) {
    return base(exception.getStatus());
  }
  if (isConcurrencyConflict(exception)) {
    return { ...base(409, 'concurrent_update'), detail: 'A concurrent change conflicted with this request. Retry it.' };
  }
  const clientStatus = fastifyClientStatus(exception);
  if (clientStatus) return base(clientStatus);
  // PostgreSQL unreachable or restarting: the request may be retried (Retry-After), it is not a bug.
  // The transaction either committed before the outage or rolled back: nothing is half-applied.
  if (isDatabaseUnavailable(exception)) return { ...base(503), detail: 'A service this request needs is temporarily unavailable. Retry shortly.' };
  return { ...base(500), detail: 'An unexpected error occurred. Quote the request id when reporting it.' };
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  constructor(private readonly logger: PinoLogger) {
    this.logger.setContext(ProblemDetailsFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const request = http.getRequest<FastifyRequest>();
    const reply = http.getResponse<FastifyReply>();
    // The token endpoint's errors raised before its handler (415, 413, malformed body) are RFC 6749
    // JSON like its others (apps/api/src/partner/oauth-error.filter.ts).
    if (wantsOAuthErrors(request)) {
      sendOAuthError(exception, request, reply, this.logger);
      return;
    }
    const requestId = (request.raw as { id?: string }).id ?? request.id;
    const problem = toProblem(exception, requestId);
    if (problem.status >= 500) this.logger.error({ err: exception }, 'request failed');
    if (problem.status === 401) reply.header('www-authenticate', 'Bearer');
    if (exception instanceof DomainError && exception.retryAfterS !== undefined) reply.header('retry-after', String(exception.retryAfterS));
    else if (isDatabaseUnavailable(exception)) reply.header('retry-after', '1');
    reply.status(problem.status).header('content-type', PROBLEM_CONTENT_TYPE).send(problem);
  }
}

import { applyDecorators, ArgumentsHost, Catch, ExceptionFilter, SetMetadata, type INestApplicationContext } from '@nestjs/common';
import { RouteConfig } from '@nestjs/platform-fastify';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { PinoLogger } from 'nestjs-pino';
import { DomainError } from '@benteng/common';
import { isDatabaseUnavailable } from '@benteng/database';
import { toProblem } from '../http/problem-details.filter.js';
import { ValidationProblem } from '../http/problem.js';
import { controllerClasses, listRoutes } from '../http/route-catalog.js';

/** Realm of the token endpoint's HTTP Basic client authentication. */
export const TOKEN_REALM = 'benteng-partner';

/** RFC 6749 5.2 says `application/json`; the charset is the one RFC 8259 requires anyway. */
export const OAUTH_ERROR_CONTENT_TYPE = 'application/json;charset=UTF-8';

/**
 * Every `error` code the token endpoint answers. The first six are RFC 6749 5.2's. For refusals
 * 5.2 does not cover, the codes RFC 6749 4.1.2.1 defines for the same situations are reused:
 * `temporarily_unavailable` for a rate-limit or address-block refusal (429, with Retry-After: the
 * server will not handle the request now, and says when to retry) and for an unreachable database
 * (503); `server_error` for a bug (500). `slow_down` (RFC 8628) was not chosen: it belongs to the
 * device grant's polling and clients of other grants do not know it.
 */
export const OAUTH_ERROR_CODES = [
  'invalid_request',
  'invalid_client',
  'invalid_grant',
  'unauthorized_client',
  'unsupported_grant_type',
  'invalid_scope',
  'temporarily_unavailable',
  'server_error',
] as const;
export type OAuthErrorCode = (typeof OAUTH_ERROR_CODES)[number];

/**
 * RFC 6749 5.2 error response. `error_description` is a fixed sentence, never input. `code` is
 * Benteng's own code of the error (e.g. `security.blocked` beside `rate_limit.exceeded`, which
 * share `temporarily_unavailable`): an extra member, which OAuth clients ignore (RFC 6749 5.2 lists
 * the members it defines; JSON consumers skip the others).
 */
export interface OAuthErrorBody {
  error: OAuthErrorCode;
  error_description?: string;
  code?: string;
  /** Validation failures: which parameter broke which rule, as in problem+json (never the value). */
  errors?: { pointer: string; rules: string[] }[];
}

const OAUTH_ERRORS = 'oauthErrors' as const;

/**
 * Marks a route whose errors are RFC 6749 5.2 JSON instead of problem+json: its own failures
 * (OAuthErrorFilter, bound with @UseFilters) and also those Fastify raises before any handler runs
 * (unsupported media type, malformed or oversized body, NUL byte), which reach the application's
 * global filter: it reads this mark from the route's config and answers through sendOAuthError.
 */
export const OAuthErrors = () => applyDecorators(RouteConfig({ [OAUTH_ERRORS]: true }), SetMetadata(OAUTH_ERRORS, true));

/** The routes marked @OAuthErrors, as `METHOD /path` (for the suites that check every route's error format). */
export function oauthErrorRoutes(app: INestApplicationContext): Set<string> {
  const classes = controllerClasses(app);
  return new Set(
    listRoutes(app)
      .filter((r) => Reflect.getMetadata(OAUTH_ERRORS, (classes.get(r.controller)!.prototype as Record<string, object>)[r.handler]!) === true)
      .map((r) => `${r.method} ${r.path}`),
  );
}

export function wantsOAuthErrors(request: FastifyRequest): boolean {
  return (request.routeOptions?.config as { [OAUTH_ERRORS]?: unknown } | undefined)?.[OAUTH_ERRORS] === true;
}

/** Fixed sentences for errors that are not domain errors (validation, media type, body, bugs). */
const DESCRIPTIONS: Partial<Record<OAuthErrorCode, string>> & { invalid_request: string } = {
  invalid_request: 'The token request is malformed.',
  invalid_client: 'Client authentication failed.',
  temporarily_unavailable: 'The request cannot be handled now. Retry after the time given in Retry-After.',
  server_error: 'An unexpected error occurred. Quote the X-Request-Id response header when reporting it.',
};

function codeOf(status: number, oauthCode: unknown): OAuthErrorCode {
  if (typeof oauthCode === 'string' && (OAUTH_ERROR_CODES as readonly string[]).includes(oauthCode)) return oauthCode as OAuthErrorCode;
  if (status === 401) return 'invalid_client';
  if (status === 429 || status === 503) return 'temporarily_unavailable';
  if (status >= 500) return 'server_error';
  // Validation failures, unknown fields, 413, 415, malformed bodies: the request is malformed.
  return 'invalid_request';
}

/**
 * Renders an exception as RFC 6749 5.2 JSON: the status the problem would have had, `error` from
 * the AuthError's OAuth code (or derived from the status), `error_description` from the fixed
 * sentence of a domain error. `WWW-Authenticate: Basic` on every 401: RFC 6749 5.2 requires it when
 * the client used HTTP Basic and allows a 401 naming the supported scheme otherwise, and RFC 9110
 * requires a challenge on every 401. So a wrong secret gets the same answer whichever way it was
 * sent, and the abuse detector counts it as an authentication failure either way. No-store like
 * the token response; the security headers and X-Request-Id are set by the listener's hooks.
 */
export function sendOAuthError(exception: unknown, request: FastifyRequest, reply: FastifyReply, logger: PinoLogger): void {
  const requestId = (request.raw as { id?: string }).id ?? request.id;
  const problem = toProblem(exception, requestId);
  const body: OAuthErrorBody = { error: codeOf(problem.status, problem['error']) };
  body.error_description = exception instanceof DomainError ? exception.message : (DESCRIPTIONS[body.error] ?? DESCRIPTIONS.invalid_request);
  // The problem's own code (a domain error's, or a fixed one such as request.unsupported_media_type).
  if (typeof problem.code === 'string') body.code = problem.code;
  if (exception instanceof ValidationProblem) body.errors = exception.errors;
  if (problem.status >= 500) logger.error({ err: exception }, 'token request failed');
  if (problem.status === 401) reply.header('www-authenticate', `Basic realm="${TOKEN_REALM}"`);
  if (exception instanceof DomainError && exception.retryAfterS !== undefined) reply.header('retry-after', String(exception.retryAfterS));
  else if (isDatabaseUnavailable(exception)) reply.header('retry-after', '1');
  reply.header('cache-control', 'no-store').header('pragma', 'no-cache');
  void reply.status(problem.status).header('content-type', OAUTH_ERROR_CONTENT_TYPE).send(body);
}

/** Errors of POST /partner/oauth/token as RFC 6749 5.2 JSON (sendOAuthError), which OAuth 2.0 client libraries read. */
@Catch()
export class OAuthErrorFilter implements ExceptionFilter {
  constructor(private readonly logger: PinoLogger) {
    this.logger.setContext(OAuthErrorFilter.name);
  }

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    sendOAuthError(exception, http.getRequest<FastifyRequest>(), http.getResponse<FastifyReply>(), this.logger);
  }
}

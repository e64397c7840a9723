import { BadRequestException, ForbiddenException, HttpException, HttpStatus, NotFoundException } from '@nestjs/common';
import { ExecutionContextHost } from '@nestjs/core/helpers/execution-context-host.js';
import Fastify from 'fastify';
import { capturingLogger } from '../../../../test/support/capturing-logger.js';
import { describe, expect, it } from 'vitest';
import { DomainError, type DomainErrorKind } from '@benteng/common';
import { ProblemDetailsFilter, toProblem } from './problem-details.filter.js';
import { PROBLEM_CONTENT_TYPE, problemBase, ProblemException, RefusalException, statusCode, statusTitle, ValidationProblem } from './problem.js';

// Unit spec of the error answers (ERROR-PROBLEM): toProblem's mapping of every exception kind, and
// the filter's status, headers and logging on a real Fastify reply (injected, no socket). The e2e
// specs (test/e2e/problem-details*.spec.ts and the security suites) prove the same on the running API.

class SomeError extends DomainError<string> {
  constructor(
    readonly kind: DomainErrorKind,
    code = `some.${kind}`,
  ) {
    super(code, `Fixed sentence for ${kind}.`);
  }
}

const KIND_STATUS: [DomainErrorKind, number][] = [
  ['not_found', 404],
  ['forbidden', 403],
  ['conflict', 409],
  ['invalid', 400],
  ['precondition_failed', 412],
  ['unauthenticated', 401],
  ['rate_limited', 429],
  ['gone', 410],
  ['too_large', 413],
  ['unsupported_media_type', 415],
];

describe('problem.ts', () => {
  it('gives every listed status its title and http.* code, and a class fallback for the others', () => {
    const listed: [number, string, string][] = [
      [400, 'Bad Request', 'http.bad_request'],
      [401, 'Unauthorized', 'http.unauthenticated'],
      [403, 'Forbidden', 'http.forbidden'],
      [404, 'Not Found', 'http.not_found'],
      [405, 'Method Not Allowed', 'http.method_not_allowed'],
      [406, 'Not Acceptable', 'http.not_acceptable'],
      [409, 'Conflict', 'http.conflict'],
      [410, 'Gone', 'http.gone'],
      [412, 'Precondition Failed', 'http.precondition_failed'],
      [413, 'Content Too Large', 'http.content_too_large'],
      [414, 'URI Too Long', 'http.uri_too_long'],
      [415, 'Unsupported Media Type', 'http.unsupported_media_type'],
      [422, 'Unprocessable Content', 'http.unprocessable_content'],
      [429, 'Too Many Requests', 'http.too_many_requests'],
      [431, 'Request Header Fields Too Large', 'http.request_header_fields_too_large'],
      [500, 'Internal Server Error', 'http.internal_error'],
      [501, 'Not Implemented', 'http.not_implemented'],
      [503, 'Service Unavailable', 'http.service_unavailable'],
    ];
    for (const [status, title, code] of listed) {
      expect(statusTitle(status)).toBe(title);
      expect(statusCode(status)).toBe(code);
    }
    expect([statusTitle(418), statusCode(418)]).toEqual(['Client Error', 'http.client_error']);
    expect([statusTitle(499), statusCode(499)]).toEqual(['Client Error', 'http.client_error']);
    expect([statusTitle(500 + 2), statusCode(502)]).toEqual(['Server Error', 'http.server_error']);
    expect([statusTitle(599), statusCode(599)]).toEqual(['Server Error', 'http.server_error']);
  });

  it('problemBase: a URN type from the code, the status title, the status code by default', () => {
    expect(problemBase(404)).toEqual({ type: 'urn:benteng:problem:http.not_found', title: 'Not Found', status: 404, code: 'http.not_found' });
    expect(problemBase(403, 'access.denied')).toEqual({ type: 'urn:benteng:problem:access.denied', title: 'Forbidden', status: 403, code: 'access.denied' });
  });

  it('exceptions carry the title of their status as message, never a caller text', () => {
    expect(new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, { checks: ['db'] }).message).toBe('Service Unavailable');
    expect(new RefusalException(HttpStatus.FORBIDDEN, 'access.denied').message).toBe('Forbidden');
    expect(new RefusalException(HttpStatus.FORBIDDEN, 'access.denied').getStatus()).toBe(403);
    const validation = new ValidationProblem([{ pointer: '/a', rules: ['isInt'] }]);
    expect([validation.message, validation.getStatus()]).toEqual(['Validation failed', 400]);
    expect(PROBLEM_CONTENT_TYPE).toBe('application/problem+json; charset=utf-8');
  });
});

describe('toProblem', () => {
  it('maps every domain error kind to its status, with its code, fixed message and extensions', () => {
    for (const [kind, status] of KIND_STATUS) {
      expect(toProblem(new SomeError(kind), 'rid')).toEqual({
        type: `urn:benteng:problem:some.${kind}`,
        title: statusTitle(status),
        status,
        code: `some.${kind}`,
        requestId: 'rid',
        detail: `Fixed sentence for ${kind}.`,
      });
    }
    const withExtensions = new SomeError('invalid');
    withExtensions.extensions = { error: 'invalid_grant', status: 'overridden?' };
    expect(toProblem(withExtensions, undefined)).toEqual({ ...problemBase(400, 'some.invalid'), error: 'invalid_grant', detail: 'Fixed sentence for invalid.' });
  });

  it('an unknown domain error kind is a bug, not an answer', () => {
    expect(() => toProblem(new SomeError('teapot' as DomainErrorKind), 'r')).toThrow('Unhandled case: teapot');
  });

  it('leaves out requestId when there is none', () => {
    expect(toProblem(new NotFoundException(), undefined)).toEqual(problemBase(404));
    expect(toProblem(new NotFoundException(), '')).toEqual(problemBase(404));
  });

  it('validation problems: code validation, a fixed detail, the pointers and rules', () => {
    const errors = [{ pointer: '/a', rules: ['isInt'] }];
    expect(toProblem(new ValidationProblem(errors), 'r')).toEqual({ ...problemBase(400, 'validation'), requestId: 'r', detail: 'The request is not valid.', errors });
  });

  it('refusals keep their own code; problem exceptions their extensions and a string code', () => {
    expect(toProblem(new RefusalException(HttpStatus.FORBIDDEN, 'access.undeclared'), 'r')).toEqual({ ...problemBase(403, 'access.undeclared'), requestId: 'r' });
    expect(toProblem(new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, { checks: ['db'] }), 'r')).toEqual({ ...problemBase(503), checks: ['db'], requestId: 'r' });
    expect(toProblem(new ProblemException(HttpStatus.CONFLICT, { code: 'x.busy' }), 'r')).toEqual({ ...problemBase(409, 'x.busy'), requestId: 'r' });
    expect(toProblem(new ProblemException(HttpStatus.CONFLICT, { code: 7 }), 'r')).toEqual({ ...problemBase(409), requestId: 'r' });
    // Extensions cannot replace the members every problem has.
    expect(toProblem(new ProblemException(HttpStatus.CONFLICT, { status: 200, title: 'OK', type: 'x' }), 'r')).toEqual({ ...problemBase(409), requestId: 'r' });
  });

  it('other HttpExceptions: their status and its generic code, never their message', () => {
    const problem = toProblem(new BadRequestException('secret input echoed'), 'r');
    expect(problem).toEqual({ ...problemBase(400), requestId: 'r' });
    expect(toProblem(new HttpException('x', 418), 'r')).toEqual({ ...problemBase(418), requestId: 'r' });
  });

  it('a serialization failure is a retryable 409 concurrent_update', () => {
    expect(toProblem({ code: 'P2034' }, 'r')).toEqual({ ...problemBase(409, 'concurrent_update'), requestId: 'r', detail: 'A concurrent change conflicted with this request. Retry it.' });
  });

  it('Fastify client errors keep their 4xx status; other statusCodes are unexpected errors', () => {
    const fastify = (statusCode: unknown) => Object.assign(new Error('Body is too large: 123 bytes'), { statusCode });
    expect(toProblem(fastify(413), 'r')).toEqual({ ...problemBase(413), requestId: 'r' });
    expect(toProblem(fastify(400), 'r')).toEqual({ ...problemBase(400), requestId: 'r' });
    expect(toProblem(fastify(499), 'r')).toEqual({ ...problemBase(499), requestId: 'r' });
    // A 5xx statusCode is not the client's fault: the unexpected error's answer, with its detail.
    for (const status of [399, 500, 503, 200, '415']) {
      expect(toProblem(fastify(status), 'r')).toEqual({ ...problemBase(500), requestId: 'r', detail: 'An unexpected error occurred. Quote the request id when reporting it.' });
    }
    expect(toProblem(null, 'r').status).toBe(500);
  });

  it('an unreachable database is a 503 to retry; anything else a 500 with a fixed detail', () => {
    expect(toProblem(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }), 'r')).toEqual({
      ...problemBase(503),
      requestId: 'r',
      detail: 'A service this request needs is temporarily unavailable. Retry shortly.',
    });
    expect(toProblem(new Error('password=hunter2'), 'r')).toEqual({ ...problemBase(500), requestId: 'r', detail: 'An unexpected error occurred. Quote the request id when reporting it.' });
  });
});

describe('ProblemDetailsFilter', () => {
  /** Headers Fastify itself adds to every answer; everything else on the answer was set by the filter. */
  const FASTIFY_OWN = new Set(['content-length', 'date', 'connection', 'keep-alive']);

  /**
   * The filter answering `exception` on a real Fastify reply: a route whose handler hands its
   * request and reply to the filter through Nest's own ArgumentsHost, as the HTTP adapter does.
   * `rawId` is the id request logging puts on the raw request (none: the filter falls back to
   * Fastify's own id); `config` is the route's config (`oauthErrors` marks the token endpoint).
   */
  async function answer(exception: unknown, options: { rawId?: string; config?: Record<string, unknown> } = { rawId: 'raw-id' }) {
    const { logger, lines: logged, contexts } = capturingLogger();
    const filter = new ProblemDetailsFilter(logger);
    const app = Fastify({ genReqId: () => 'fastify-id' });
    try {
      if (options.rawId !== undefined) {
        const rawId = options.rawId;
        app.addHook('onRequest', async (request) => {
          (request.raw as { id?: string }).id = rawId;
        });
      }
      app.get('/', { config: options.config ?? {} }, (request, reply) => {
        filter.catch(exception, new ExecutionContextHost([request, reply]));
        return reply;
      });
      const response = await app.inject({ method: 'GET', url: '/' });
      const headers = Object.fromEntries(Object.entries(response.headers).filter(([name]) => !FASTIFY_OWN.has(name)));
      return { status: response.statusCode, headers, body: response.json() as unknown, logged, contexts };
    } finally {
      await app.close();
    }
  }

  it('sends problem+json with the status and the raw request id, and logs nothing for a client error', async () => {
    const sent = await answer(new ForbiddenException());
    expect(sent.contexts).toEqual(['ProblemDetailsFilter']);
    expect({ status: sent.status, headers: sent.headers, body: sent.body }).toEqual({ status: 403, headers: { 'content-type': PROBLEM_CONTENT_TYPE }, body: { ...problemBase(403), requestId: 'raw-id' } });
    expect(sent.logged).toEqual([]);
  });

  it('falls back to the Fastify request id when the raw request has none', async () => {
    const sent = await answer(new ForbiddenException(), {});
    expect((sent.body as { requestId: string }).requestId).toBe('fastify-id');
  });

  it('logs a server error in full, the client gets the fixed sentence', async () => {
    const error = new Error('boom');
    const failed = await answer(error);
    expect(failed.status).toBe(500);
    expect(failed.logged).toEqual([{ level: 'error', fields: { err: error }, message: 'request failed' }]);
    expect((await answer(new ProblemException(HttpStatus.SERVICE_UNAVAILABLE, {}))).logged).toHaveLength(1);
    const justBelow = await answer(new HttpException('x', 499));
    expect([justBelow.status, justBelow.logged]).toEqual([499, []]);
  });

  it('challenges a 401 with Bearer, and only a 401', async () => {
    expect((await answer(new SomeError('unauthenticated'))).headers['www-authenticate']).toBe('Bearer');
    expect((await answer(new SomeError('forbidden'))).headers['www-authenticate']).toBeUndefined();
  });

  it('Retry-After: a domain error\'s own, 1 s for an unreachable database, none otherwise', async () => {
    const limited = new SomeError('rate_limited');
    limited.retryAfterS = 0;
    expect((await answer(limited)).headers['retry-after']).toBe('0');
    const unavailable = await answer(Object.assign(new Error('x'), { code: 'ECONNREFUSED' }));
    expect([unavailable.status, unavailable.headers['retry-after']]).toEqual([503, '1']);
    expect((await answer(new SomeError('rate_limited'))).headers['retry-after']).toBeUndefined();
    expect((await answer(new Error('x'))).headers['retry-after']).toBeUndefined();
  });

  it('answers a route marked for OAuth errors in RFC 6749 JSON instead', async () => {
    const sent = await answer(new BadRequestException(), { rawId: 'raw-id', config: { oauthErrors: true } });
    expect(sent.status).toBe(400);
    expect(sent.headers['content-type']).toBe('application/json;charset=UTF-8');
    expect(sent.body).toMatchObject({ error: 'invalid_request' });
  });
});

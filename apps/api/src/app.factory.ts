import multipart from '@fastify/multipart';
import { BadRequestException, type INestApplication } from '@nestjs/common';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import { Logger } from 'nestjs-pino';
import { quietStartUpListing } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { trustProxyOption } from '@benteng/security';
import { AbuseObserver } from './http/abuse-observer.js';
import { AccessRecorder } from './http/access-recorder.js';
import { keepRawBodyWhereDeclared } from './inbound/raw-body.js';
import { refuseUndeclaredMediaTypes } from './http/media-types.js';
import { clientErrorHandler, requireHostHeader } from './http/client-errors.js';
import { multipartLimits } from './http/single-file-upload.interceptor.js';
import { RequestValidationPipe } from './http/validation.js';
import { OpenApiDocument } from './openapi/openapi.document.provider.js';
import { RouteInventory } from './http/route-inventory.js';
import { requestIdFor } from './logging/logging.js';
import { containsNul, helmetHeaders, SecurityHeaders } from './http/security-headers.js';
import { processMetrics } from './metrics/metrics.js';
import { PROBLEM_CONTENT_TYPE, problemBase } from './http/problem.js';

export function createFastifyAdapter(config: AppConfig): FastifyAdapter {
  // Answers the router gives before any hook runs get the listener's security headers from the
  // same helmet header set the hooks apply (apps/api/src/http/security-headers.ts).
  const security = helmetHeaders();
  return new FastifyAdapter({
    bodyLimit: config.BODY_LIMIT_BYTES,
    // X-Forwarded-For is honoured only when the socket peer is one of TRUSTED_PROXIES; with none
    // configured the peer is the client. request.ip (read through clientIp) is then safe to limit on.
    trustProxy: trustProxyOption(config),
    // Fastify's own request logging is off: nestjs-pino logs every request once, redacted.
    logger: false,
    return503OnClosing: true,
    genReqId: requestIdFor,
    requestIdHeader: false,
    // Bytes Node's HTTP parser refuses before a request exists (431, malformed request line or
    // Content-Length, Content-Length with Transfer-Encoding): problem+json with the security headers
    // and a request id, like every other answer (apps/api/src/http/client-errors.ts).
    clientErrorHandler: clientErrorHandler(),
    // A missing Host is refused by requireHostHeader (problem+json), not by Node's bare 400.
    http: { requireHostHeader: false },
    // Errors Fastify's router answers by itself, before any hook, pipe or filter runs (a path
    // parameter longer than maxParamLength: 414; a malformed URL: 400): problem+json with a fixed
    // title like every other error, instead of Fastify's default JSON body, which echoed the path
    // (found by test/security/openapi-fuzz.spec.ts).
    frameworkErrors: (error: FastifyError, request: FastifyRequest, reply: FastifyReply) => {
      const status = typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 600 ? error.statusCode : 500;
      void reply
        .status(status)
        .headers(security)
        .header('cache-control', 'no-store')
        .header('content-type', PROBLEM_CONTENT_TYPE)
        .header('x-request-id', request.id)
        .send({ ...problemBase(status), requestId: request.id });
    },
  });
}

/**
 * Everything that makes a Nest application a Benteng API listener, applied in one place so the
 * tests exercise exactly what production runs.
 */
export async function configureApiApp(app: NestFastifyApplication): Promise<INestApplication> {
  // Nest's module and route listing at debug level (libs/common/src/start-up-logger.ts).
  app.useLogger(quietStartUpListing(app.get(Logger)));
  // API9: this listener serves its route catalog and its documents' routes, nothing else (checked
  // when it becomes ready; apps/api/src/http/route-inventory.ts).
  const documents = app.get(OpenApiDocument);
  app.get(RouteInventory).watch(app, 'public', () => ({ public: documents.get('public'), partner: documents.get('partner') }));
  const abuse = app.get(AbuseObserver);
  const access = app.get(AccessRecorder);
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id);
      done();
    })
    // PostgreSQL cannot store or compare U+0000 in text: refuse it at the edge as a 400, for every
    // route, instead of letting it surface as a database error (500) deep in a feature.
    .addHook('preHandler', (request, _reply, done) => {
      done(containsNul(request.body) || containsNul(request.query) || containsNul(request.params) ? new BadRequestException() : undefined);
    })
    // Every answer feeds the abuse detector (404 walks, 401/403 storms, scraping, bursts), after
    // the response has been sent.
    .addHook('onResponse', (request, reply, done) => {
      abuse.observe(request, reply);
      // Who read or changed which personal-data record (docs/privacy.md, "Breach scoping").
      access.observe(request, reply);
      // Request count and latency by surface, route pattern, method and status (the process
      // registry, served by the internal listener at /internal/metrics).
      processMetrics.observeHttp(request, reply);
      done();
    });
  // HTTP/1.1 without Host: 400 problem+json (apps/api/src/http/client-errors.ts).
  requireHostHeader(app.getHttpAdapter().getInstance());
  // A body of a media type its route does not declare is 415 before it is parsed (apps/api/src/http/media-types.ts).
  refuseUndeclaredMediaTypes(app.getHttpAdapter().getInstance(), app);
  // Signed webhooks need the exact bytes they were signed over: kept on the routes that declare
  // @KeepRawBody() only (apps/api/src/inbound/raw-body.ts).
  keepRawBodyWhereDeclared(app.getHttpAdapter().getInstance(), { under: ['/partner/v1/'] });
  await app.get(SecurityHeaders).register(app);
  // multipart/form-data for uploads (/v1/documents). Nothing is read until a handler asks, which
  // is after authentication and authorization; the limits then apply while the form streams.
  await app.register(multipart, { limits: multipartLimits(app.get(AppConfig)) });
  app.useGlobalPipes(app.get(RequestValidationPipe));
  app.get(OpenApiDocument).bind(app);
  app.enableShutdownHooks();
  return app;
}

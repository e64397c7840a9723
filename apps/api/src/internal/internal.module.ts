import { BadRequestException, Module, type INestApplication } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, DiscoveryModule } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Logger, LoggerModule } from 'nestjs-pino';
import { PlatformAuditModule } from '@benteng/audit';
import { ClockModule, quietStartUpListing } from '@benteng/common';
import { AppConfig, ConfigModule } from '@benteng/config';
import { InternalDatabaseModule } from '@benteng/database';
import { KeyRingRepository } from '@benteng/auth';
import { AbilityFactory } from '@benteng/authz';
import { PlatformModule, QueueBoardQueues, QueueBoardSessions } from '@benteng/platform';
import { RedisModule } from '@benteng/redis';
import { containsNul, SecurityHeaders } from '../http/security-headers.js';
import { UnexpectedBodyInterceptor } from '../http/unexpected-body.interceptor.js';
import { RequestValidationPipe } from '../http/validation.js';
import { keepRawBodyWhereDeclared } from '../inbound/raw-body.js';
import { refuseUndeclaredMediaTypes } from '../http/media-types.js';
import { requireHostHeader } from '../http/client-errors.js';
import { LOG_DESTINATION, LogRedaction, pinoHttpOptions, type LogDestination } from '../logging/logging.js';
import { InternalAccessGuard } from './internal-access.guard.js';
import { InternalSignatures } from './internal-signatures.js';
import { RedisNonceStore } from './redis-nonce-store.js';
import { InternalOpenApiController, InternalOpenApiDocument } from './internal-openapi.js';
import { InternalProblemDetailsFilter } from './internal-problem-details.filter.js';
import { OperatorsController } from './operators.controller.js';
import { MetricsCredentialsController } from './metrics-credentials.controller.js';
import { InternalTenantsController } from './tenants.controller.js';
import { InternalAdminModule } from './admin.module.js';
import { InternalIncidentsModule } from './incidents.module.js';
import { RateLimiter } from '@benteng/security';
import { MetricsController } from '../metrics/metrics.controller.js';
import { KeyAges, Metrics, MetricsModule, QueueDepths, StaleSealedValues } from '../metrics/metrics.js';
import { QueueBoardController, registerQueueBoard } from './queue-board.js';
import { RouteInventory } from '../http/route-inventory.js';

@Module({
  providers: [{ provide: LOG_DESTINATION, useValue: undefined }, LogRedaction],
  exports: [LOG_DESTINATION, LogRedaction],
})
export class InternalLogDestinationModule {}

/**
 * The internal listener (/internal/v1): operators and services, on its own port (INTERNAL_HOST,
 * loopback by default), never behind the public ingress. A separate Nest application: it shares
 * library modules with the public app but no controller, guard, strategy or filter, so no public
 * or partner credential has anything to authenticate against here, and no internal route exists
 * on the public listener (test/e2e/internal-surface.spec.ts).
 */
@Module({
  imports: [
    ConfigModule,
    LoggerModule.forRootAsync({
      imports: [InternalLogDestinationModule],
      inject: [AppConfig, LOG_DESTINATION, LogRedaction],
      useFactory: (config: AppConfig, destination: LogDestination, redaction: LogRedaction) => ({
        pinoHttp: destination ? [pinoHttpOptions(config, redaction), destination] : pinoHttpOptions(config, redaction),
        assignResponse: true,
        forRoutes: ['*'],
      }),
    }),
    DiscoveryModule,
    // Logged in as benteng_internal, not benteng_app: the operator functions are executable by
    // that role alone (prisma/migrations/20261207140000_internal_role).
    InternalDatabaseModule,
    RedisModule,
    ClockModule,
    PlatformAuditModule,
    PlatformModule,
    InternalAdminModule,
    InternalIncidentsModule,
    MetricsModule,
  ],
  controllers: [OperatorsController, InternalTenantsController, InternalOpenApiController, MetricsController, MetricsCredentialsController, QueueBoardController],
  providers: [
    RateLimiter,
    QueueDepths,
    KeyRingRepository,
    KeyAges,
    StaleSealedValues,
    QueueBoardSessions,
    QueueBoardQueues,
    RedisNonceStore,
    InternalSignatures,
    InternalOpenApiDocument,
    SecurityHeaders,
    RouteInventory,
    InternalProblemDetailsFilter,
    AbilityFactory,
    RequestValidationPipe,
    { provide: APP_GUARD, useClass: InternalAccessGuard },
    { provide: APP_FILTER, useExisting: InternalProblemDetailsFilter },
    { provide: APP_INTERCEPTOR, useClass: UnexpectedBodyInterceptor },
  ],
})
export class InternalAppModule {}

/** Everything that makes a Nest application the internal listener, as production runs it. */
export async function configureInternalApp(app: NestFastifyApplication): Promise<INestApplication> {
  // Nest's module and route listing at debug level (libs/common/src/start-up-logger.ts).
  app.useLogger(quietStartUpListing(app.get(Logger)));
  // API9: only the internal routes, each in the internal document or on purpose (route-inventory.ts).
  const document = app.get(InternalOpenApiDocument);
  app.get(RouteInventory).watch(app, 'internal', () => ({ internal: document.get() }));
  const fastify = app.getHttpAdapter().getInstance();
  const metrics = app.get(Metrics);
  fastify
    .addHook('onRequest', (request, reply, done) => {
      reply.header('x-request-id', request.id);
      done();
    })
    .addHook('onResponse', (request, reply, done) => {
      metrics.observeHttp(request, reply);
      done();
    })
    .addHook('preHandler', (request, _reply, done) => {
      done(containsNul(request.body) || containsNul(request.query) || containsNul(request.params) ? new BadRequestException() : undefined);
    });
  // HTTP/1.1 without Host: 400 problem+json (apps/api/src/http/client-errors.ts).
  requireHostHeader(fastify);
  // JSON bodies only, where a route takes one (apps/api/src/http/media-types.ts).
  refuseUndeclaredMediaTypes(fastify, app);
  // Every internal request is signed over its exact body bytes.
  keepRawBodyWhereDeclared(fastify, { everyRoute: true });
  await app.get(SecurityHeaders).register(app);
  // Bull Board at /internal/queues: ticket + session cookie, manage on JobQueue only (docs/metrics.md).
  await registerQueueBoard(app);
  app.useGlobalPipes(app.get(RequestValidationPipe));
  app.get(InternalOpenApiDocument).bind(app);
  app.enableShutdownHooks();
  return app;
}

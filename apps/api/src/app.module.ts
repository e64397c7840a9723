import { Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR } from '@nestjs/core';
import { ClsModule } from 'nestjs-cls';
import { LoggerModule } from 'nestjs-pino';
import { AuditModule } from '@benteng/audit';
import { AuthModule } from '@benteng/auth';
import { AbilityFactory } from '@benteng/authz';
import { ClockModule } from '@benteng/common';
import { AppConfig, ConfigModule } from '@benteng/config';
import { DatabaseModule } from '@benteng/database';
import { JobsModule } from '@benteng/jobs';
import { PartnersModule } from '@benteng/partners';
import { RedisModule } from '@benteng/redis';
import { SecurityModule } from '@benteng/security';
import { MetricsModule } from './metrics/metrics.js';
import { TenancyModule } from '@benteng/tenancy';
import { HealthModule } from './health/health.module.js';
import { InboundModule } from './inbound/inbound.module.js';
import { AccessGuard, GATE_PROVIDERS } from './http/access.guard.js';
import { RouteInventory } from './http/route-inventory.js';
import { AbuseObserver } from './http/abuse-observer.js';
import { AccessRecorder } from './http/access-recorder.js';
import { ProblemDetailsFilter } from './http/problem-details.filter.js';
import { SecurityHeaders } from './http/security-headers.js';
import { UnexpectedBodyInterceptor } from './http/unexpected-body.interceptor.js';
import { RequestValidationPipe } from './http/validation.js';
import { OpenApiModule } from './openapi/openapi.module.js';
import { LOG_DESTINATION, LogRedaction, pinoHttpOptions, type LogDestination } from './logging/logging.js';
import { PartnerModule } from './partner/partner.module.js';
import { PublicModule } from './public/public.module.js';

@Module({
  providers: [{ provide: LOG_DESTINATION, useValue: undefined }, LogRedaction],
  exports: [LOG_DESTINATION, LogRedaction],
})
export class LogDestinationModule {}

@Module({
  imports: [
    ConfigModule,
    LoggerModule.forRootAsync({
      imports: [LogDestinationModule],
      inject: [AppConfig, LOG_DESTINATION, LogRedaction],
      useFactory: (config: AppConfig, destination: LogDestination, redaction: LogRedaction) => ({
        pinoHttp: destination ? [pinoHttpOptions(config, redaction), destination] : pinoHttpOptions(config, redaction),
        // Tenant and principal are assigned once authentication has run (RequestContext).
        assignResponse: true,
        // nestjs-pino's default route pattern `{/*splat}` matches nothing on the Fastify adapter of
        // Nest 12.5, which silently disables request logging and request ids; '*' matches all.
        forRoutes: ['*'],
      }),
    }),
    // The request id goes into the CLS store, where RequestContext reads it (audit, jobs queued by the request).
    ClsModule.forRoot({
      global: true,
      middleware: {
        mount: true,
        setup: (cls, req: { id?: unknown }) => {
          if (typeof req.id === 'string') cls.set('requestId', req.id);
        },
      },
    }),
    DatabaseModule,
    RedisModule,
    ClockModule,
    TenancyModule,
    AuditModule,
    SecurityModule,
    MetricsModule,
    JobsModule.forProducer(),
    AuthModule,
    // PartnerRequestSignatures, for the gate's signature stage.
    PartnersModule,
    HealthModule,
    PublicModule,
    PartnerModule,
    InboundModule,
    OpenApiModule,
  ],
  providers: [
    AbuseObserver,
    AccessRecorder,
    // The request gate's rules and the global validation pipe, by class so a test app can replace them (test/security/kill-switches/authz.ts).
    AbilityFactory,
    RequestValidationPipe,
    ...GATE_PROVIDERS,
    { provide: APP_GUARD, useClass: AccessGuard },
    SecurityHeaders,
    // By class so a test app can replace it (test/security/kill-switches/edge.ts).
    RouteInventory,
    // Registered by class so a test app can replace it (test/security/kill-switches/edge.ts).
    ProblemDetailsFilter,
    { provide: APP_FILTER, useExisting: ProblemDetailsFilter },
    { provide: APP_INTERCEPTOR, useClass: UnexpectedBodyInterceptor },
  ],
})
export class AppModule {}


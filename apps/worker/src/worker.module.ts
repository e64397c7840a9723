import { Module } from '@nestjs/common';
import { ClsModule } from 'nestjs-cls';
import { LoggerModule } from 'nestjs-pino';
import { AuditModule } from '@benteng/audit';
import { ClockModule, REDACT_PATHS, safeLogOptions } from '@benteng/common';
import { AppConfig, ConfigModule } from '@benteng/config';
import { DatabaseModule } from '@benteng/database';
import { JobsWorkerModule } from '@benteng/jobs';
import { TenancyModule } from '@benteng/tenancy';
import { JOB_HANDLER_MODULES, JOB_HANDLERS } from './job-handlers.js';
import { WORKER_LOG_DESTINATION, WorkerLogDestinationModule, type WorkerLogDestination } from './worker-logging.js';
import { WorkerReadiness } from './worker-readiness.js';

@Module({
  imports: [
    ConfigModule,
    LoggerModule.forRootAsync({
      imports: [WorkerLogDestinationModule],
      inject: [AppConfig, WORKER_LOG_DESTINATION],
      useFactory: (config: AppConfig, destination: WorkerLogDestination) => {
        const options = {
          level: config.LOG_LEVEL,
          base: { service: 'benteng-worker' },
          redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
          // The API's serializers and hooks (libs/common/src/log-serializers.ts): database errors as
          // codes and names, and each key bound once (a job's bindings carry requestId, tenantId, attempt).
          ...safeLogOptions(),
          ...(config.LOG_PRETTY ? { transport: { target: 'pino-pretty', options: { singleLine: true } } } : {}),
        };
        return { pinoHttp: destination ? [options, destination] : options };
      },
    }),
    // Gives handlers the job's request id and Scope through RequestContext, as requests have them.
    ClsModule.forRoot({ global: true }),
    DatabaseModule,
    ClockModule,
    TenancyModule,
    AuditModule,
    // The BullMQ connection (REDIS_URL, QUEUE_PREFIX), both queues, their processors and the handlers.
    JobsWorkerModule.register(JOB_HANDLERS, JOB_HANDLER_MODULES),
  ],
  providers: [WorkerReadiness],
})
export class WorkerModule {}

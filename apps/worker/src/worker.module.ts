import { BullModule } from '@nestjs/bullmq';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { REDACT_PATHS } from '@benteng/common';
import { AppConfig, ConfigModule } from '@benteng/config';
import { QUEUE_NAMES } from './queues.js';
import { WorkerReadiness } from './worker-readiness.js';

@Module({
  imports: [
    ConfigModule,
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.LOG_LEVEL,
          base: { service: 'benteng-worker' },
          redact: { paths: REDACT_PATHS, censor: '[REDACTED]' },
          ...(config.LOG_PRETTY ? { transport: { target: 'pino-pretty', options: { singleLine: true } } } : {}),
        },
      }),
    }),
    BullModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        // BullMQ requires maxRetriesPerRequest = null on its blocking connections.
        connection: { url: config.REDIS_URL, maxRetriesPerRequest: null, connectionName: 'benteng-worker' },
        prefix: config.QUEUE_PREFIX,
      }),
    }),
    BullModule.registerQueue(...QUEUE_NAMES.map((name) => ({ name }))),
  ],
  providers: [WorkerReadiness],
})
export class WorkerModule {}

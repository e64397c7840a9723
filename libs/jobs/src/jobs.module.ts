import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule, type ForwardReference, type Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AuditModule } from '@benteng/audit';
import { ClockModule } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { DatabaseModule } from '@benteng/database';
import { JobActors } from './job-actors.js';
import { JOBS_QUEUE, PLATFORM_QUEUE } from './job-envelope.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobProbeHandler } from './job-probe.handler.js';
import { JobQueue } from './job-queue.js';
import { JobSigner } from './job-signer.js';
import { PlatformJobProcessor } from './platform-job.processor.js';
import { PlatformJobScheduler } from './platform-job.scheduler.js';
import { TenantJobProcessor } from './tenant-job.processor.js';

export interface JobsProducerOptions {
  /** Redis CLIENT SETNAME of this process's queue connections. */
  connectionName?: string;
  /**
   * Fail an enqueue at once while Redis is unreachable instead of buffering it (ioredis
   * enableOfflineQueue: false): right for request handlers, which should answer an error rather
   * than hang. Workers keep buffering, as BullMQ recommends for them.
   */
  failFast?: boolean;
}

type ModuleImport = Type | DynamicModule | Promise<DynamicModule> | ForwardReference;

const producers = new Map<string, DynamicModule>();

/**
 * Queues and the job producer. It owns the process's BullMQ root configuration (connection from
 * REDIS_URL, key prefix QUEUE_PREFIX, which API and worker must share): import it once per process
 * and add no other BullModule.forRoot. Global, so any feature service can inject JobQueue.
 */
@Module({})
export class JobsModule {
  static forProducer(options: JobsProducerOptions = {}): DynamicModule {
    const connectionName = options.connectionName ?? 'benteng-api';
    const failFast = options.failFast ?? true;
    const key = `${connectionName}:${failFast}`;
    // The same object for the same options, so importing it from several modules yields one module.
    let module = producers.get(key);
    if (!module) {
      module = {
        module: JobsModule,
        global: true,
        imports: [
          BullModule.forRootAsync({
            inject: [AppConfig],
            useFactory: (config: AppConfig) => ({
              // BullMQ requires maxRetriesPerRequest = null on its blocking (worker) connections.
              connection: { url: config.REDIS_URL, maxRetriesPerRequest: null, connectionName, ...(failFast ? { enableOfflineQueue: false } : {}) },
              prefix: config.QUEUE_PREFIX,
            }),
          }),
          BullModule.registerQueue({ name: JOBS_QUEUE }, { name: PLATFORM_QUEUE }),
        ],
        providers: [JobSigner, JobQueue],
        exports: [BullModule, JobSigner, JobQueue],
      };
      producers.set(key, module);
    }
    return module;
  }
}

/**
 * The worker side: one BullMQ worker per queue (TenantJobProcessor, PlatformJobProcessor), the
 * handler registry, the actor check and the platform scheduler.
 *
 * Handlers are found by their `@TenantJob` / `@PlatformJob` metadata on any provider of the
 * application. Give `handlers` that need only the global providers (database, audit, clock,
 * config, logger) here; a feature whose handlers need its own services provides them in its own
 * module and passes that module in `imports` (or the worker module imports it directly).
 *
 * The application must provide ConfigModule and LoggerModule (nestjs-pino); nestjs-cls
 * (ClsModule, global) and TenancyModule are optional and, when present, give handlers the job's
 * request id and Scope through RequestContext.
 */
@Module({})
export class JobsWorkerModule {
  static register(handlers: Type[] = [], imports: ModuleImport[] = []): DynamicModule {
    return {
      module: JobsWorkerModule,
      imports: [DiscoveryModule, DatabaseModule, ClockModule, AuditModule, JobsModule.forProducer({ connectionName: 'benteng-worker', failFast: false }), ...imports],
      providers: [JobHandlerRegistry, JobActors, TenantJobProcessor, PlatformJobProcessor, PlatformJobScheduler, JobProbeHandler, ...handlers],
      exports: [JobHandlerRegistry],
    };
  }
}

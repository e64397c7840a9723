import { BullModule } from '@nestjs/bullmq';
import { Injectable, Module, type DynamicModule, type ForwardReference, type OnApplicationShutdown, type Type } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { AuditModule, PlatformAuditModule } from '@benteng/audit';
import { ClockModule } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { DatabaseModule } from '@benteng/database';
import { queueConnection } from '@benteng/redis';
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
 * The Cluster connections handed to BullMQ, per application (its AppConfig). BullMQ does not close
 * a connection it was given as an instance, so the application does, after its queues and workers
 * have closed (onApplicationShutdown runs after every onModuleDestroy). Single-node: no-ops.
 */
const clusterConnections = new WeakMap<AppConfig, (() => Promise<void>)[]>();

@Injectable()
class QueueConnectionLifecycle implements OnApplicationShutdown {
  constructor(private readonly config: AppConfig) {}

  async onApplicationShutdown(): Promise<void> {
    const closers = clusterConnections.get(this.config) ?? [];
    clusterConnections.delete(this.config);
    await Promise.all(closers.map((close) => close()));
  }
}

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
            useFactory: (config: AppConfig) => {
              // BullMQ requires maxRetriesPerRequest = null on its blocking (worker) connections.
              // On Redis Cluster: a Cluster instance and the prefix {QUEUE_PREFIX} (queueConnection).
              const queues = queueConnection(config, { connectionName, maxRetriesPerRequest: null, ...(failFast ? { enableOfflineQueue: false } : {}) });
              clusterConnections.set(config, [...(clusterConnections.get(config) ?? []), queues.close]);
              return { connection: queues.connection, prefix: queues.prefix };
            },
          }),
          BullModule.registerQueue({ name: JOBS_QUEUE }, { name: PLATFORM_QUEUE }),
        ],
        providers: [JobSigner, JobQueue, QueueConnectionLifecycle],
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
      imports: [DiscoveryModule, DatabaseModule, ClockModule, AuditModule, PlatformAuditModule, JobsModule.forProducer({ connectionName: 'benteng-worker', failFast: false }), ...imports],
      providers: [JobHandlerRegistry, JobActors, TenantJobProcessor, PlatformJobProcessor, PlatformJobScheduler, JobProbeHandler, ...handlers],
      exports: [JobHandlerRegistry],
    };
  }
}

import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppConfig } from '@benteng/config';
import { JOBS_QUEUE, PLATFORM_QUEUE } from '@benteng/jobs';
import { queueConnection } from '@benteng/redis';

/** The BullMQ queues the board shows ('jobs' and 'platform', prefix QUEUE_PREFIX), read-only. */
@Injectable()
export class QueueBoardQueues implements OnModuleDestroy {
  readonly queues: Queue[];
  private readonly closeConnection: () => Promise<void>;

  constructor(config: AppConfig) {
    // On Redis Cluster: one Cluster connection and the prefix {QUEUE_PREFIX}, as the worker uses.
    const { connection, prefix, close } = queueConnection(config, { maxRetriesPerRequest: 1, connectionName: 'benteng-queue-board' });
    this.closeConnection = close;
    this.queues = [JOBS_QUEUE, PLATFORM_QUEUE].map((name) => new Queue(name, { connection, prefix }));
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled(this.queues.map((q) => q.close()));
    await this.closeConnection();
  }
}

import { Injectable, type OnModuleDestroy } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppConfig } from '@benteng/config';
import { JOBS_QUEUE, PLATFORM_QUEUE } from '@benteng/jobs';

/** The BullMQ queues the board shows ('jobs' and 'platform', prefix QUEUE_PREFIX), read-only. */
@Injectable()
export class QueueBoardQueues implements OnModuleDestroy {
  readonly queues: Queue[];

  constructor(config: AppConfig) {
    this.queues = [JOBS_QUEUE, PLATFORM_QUEUE].map(
      (name) => new Queue(name, { connection: { url: config.REDIS_URL, maxRetriesPerRequest: 1, connectionName: 'benteng-queue-board' }, prefix: config.QUEUE_PREFIX }),
    );
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.allSettled(this.queues.map((q) => q.close()));
  }
}

import { getQueueToken } from '@nestjs/bullmq';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { JobHandlerRegistry } from '@benteng/jobs';
import { QUEUE_NAMES } from './queues.js';

const READY_TIMEOUT_MS = 10_000;

/**
 * Waits until every queue's Redis connection is up, then says so once: "worker ready", naming the
 * queues and the job handlers it serves. A worker that cannot reach Redis within the timeout stops
 * with an error instead of idling unnoticed.
 */
@Injectable()
export class WorkerReadiness implements OnApplicationBootstrap {
  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly handlers: JobHandlerRegistry,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(WorkerReadiness.name);
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const name of QUEUE_NAMES) {
      const queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error('Redis is not reachable at REDIS_URL')), READY_TIMEOUT_MS);
      });
      try {
        await Promise.race([queue.waitUntilReady(), timeout]);
      } finally {
        clearTimeout(timer);
      }
    }
    this.logger.info({ queues: QUEUE_NAMES, jobs: this.handlers.names }, 'worker ready');
  }
}

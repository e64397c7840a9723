import { getQueueToken } from '@nestjs/bullmq';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import type { Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { QUEUE_NAMES } from './queues.js';

/** Waits until every queue's Redis connection is up, then says so once: "worker ready". */
@Injectable()
export class WorkerReadiness implements OnApplicationBootstrap {
  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(WorkerReadiness.name);
  }

  async onApplicationBootstrap(): Promise<void> {
    for (const name of QUEUE_NAMES) {
      const queue = this.moduleRef.get<Queue>(getQueueToken(name), { strict: false });
      await queue.waitUntilReady();
    }
    this.logger.info({ queues: QUEUE_NAMES }, 'worker ready');
  }
}

import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '@benteng/config';
import { PLATFORM_QUEUE } from './job-envelope.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobQueue } from './job-queue.js';

const READY_TIMEOUT_MS = 10_000;

/**
 * Schedules the platform handlers that declare an interval (`@PlatformJob(name, { everyMs })`):
 * at every worker start, one BullMQ job scheduler per handler, with the handler's name as its id.
 * Upserting is idempotent, so N workers starting together leave one schedule each, and a changed
 * interval or a rotated signing key takes effect at the next start (each upsert signs the
 * template again with the active key).
 *
 * A handler that is removed leaves its scheduler behind: remove it once with
 * `Queue.removeJobScheduler(name)` (its jobs would otherwise fail as `unknown_job`).
 */
@Injectable()
export class PlatformJobScheduler implements OnApplicationBootstrap {
  constructor(
    private readonly registry: JobHandlerRegistry,
    private readonly jobs: JobQueue,
    @InjectQueue(PLATFORM_QUEUE) private readonly queue: Queue,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(PlatformJobScheduler.name);
  }

  async onApplicationBootstrap(): Promise<void> {
    const scheduled = this.registry.scheduled();
    if (scheduled.length === 0) return;
    await this.waitForRedis();
    for (const { name, everyMs, data } of scheduled) {
      const every = typeof everyMs === 'function' ? everyMs(this.config) : everyMs!;
      if (!Number.isInteger(every) || every < 1_000) throw new Error(`Platform job "${name}": everyMs must be a whole number of milliseconds, at least 1000`);
      await this.jobs.enqueuePlatformJob(name, data ?? {}, { jobId: name, repeatEveryMs: every });
    }
  }

  private async waitForRedis(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('Redis is not reachable at REDIS_URL')), READY_TIMEOUT_MS);
    });
    try {
      await Promise.race([this.queue.waitUntilReady(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }
}

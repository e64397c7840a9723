import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, OnApplicationBootstrap } from '@nestjs/common';
import type { Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '@benteng/config';
import { PLATFORM_QUEUE } from './job-envelope.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobQueue } from './job-queue.js';
import { JobSigner } from './job-signer.js';

const READY_TIMEOUT_MS = 10_000;

/**
 * Schedules the platform handlers that declare an interval (`@PlatformJob(name, { everyMs })`):
 * at every worker start, one BullMQ job scheduler per handler, with the handler's name as its id.
 * Upserting is idempotent, so N workers starting together leave one schedule each, and a changed
 * interval takes effect at the next start. Each upsert signs the template again with the active
 * key, at start and whenever the job-envelope key ring's active key changes (JobSigner reloads it:
 * a scheduled rotation, `npm run keys:rotate -- job-envelope`), so a schedule never outlives the
 * retired key that signed it (docs/operations.md, "Key rotation").
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
    private readonly signer: JobSigner,
  ) {
    this.logger.setContext(PlatformJobScheduler.name);
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.registry.scheduled().length === 0) return;
    await this.waitForRedis();
    await this.upsertAll();
    this.signer.onActiveKeyChange((kid) => {
      this.upsertAll().then(
        () => this.logger.info({ kid }, 'job schedules signed again with the new job-envelope key'),
        (error: unknown) => this.logger.error({ err: error, kid }, 'job schedules could not be signed again; they are at the next worker start'),
      );
    });
  }

  private async upsertAll(): Promise<void> {
    const scheduled = this.registry.scheduled();
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

import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { ClsService } from 'nestjs-cls';
import { PinoLogger } from 'nestjs-pino';
import { PlatformAuditLog } from '@benteng/audit';
import { PLATFORM_QUEUE, type PlatformJobEnvelope } from './job-envelope.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobRejection } from './job-rejection.js';
import { inJobContext, LOCK_DURATION_MS, MAX_STALLED_COUNT, PLATFORM_JOB_CONCURRENCY, STALLED_INTERVAL_MS, type JobClsStore } from './job-runtime.js';
import { JobSigner, revokedKeyRecorder, verifiedEnvelope } from './job-signer.js';

/**
 * Runs platform jobs (queue PLATFORM_QUEUE): signed like tenant jobs, but with no tenant and no
 * actor, so there is nothing to re-derive. A handler that works on tenant data does so through a
 * named system principal's Scope per tenant. Refusals (bad signature, wrong kind, unknown job) fail
 * the job permanently and are logged; there is no tenant to audit them in.
 */
@Processor(PLATFORM_QUEUE, {
  autorun: false,
  concurrency: PLATFORM_JOB_CONCURRENCY,
  lockDuration: LOCK_DURATION_MS,
  stalledInterval: STALLED_INTERVAL_MS,
  maxStalledCount: MAX_STALLED_COUNT,
})
export class PlatformJobProcessor extends WorkerHost implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    private readonly signer: JobSigner,
    private readonly registry: JobHandlerRegistry,
    private readonly logger: PinoLogger,
    @Optional() private readonly cls?: ClsService<JobClsStore>,
    @Optional() private readonly platformAudit?: PlatformAuditLog,
  ) {
    super();
    this.logger.setContext(PlatformJobProcessor.name);
  }

  onApplicationBootstrap(): void {
    this.worker.run().catch((error: unknown) => this.logger.error({ err: error, queue: PLATFORM_QUEUE }, 'job worker stopped'));
  }

  async onModuleDestroy(): Promise<void> {
    await this.worker.close();
  }

  async process(job: Job): Promise<void> {
    const attempt = job.attemptsMade + 1;
    const envelope = await verifiedEnvelope(this.signer, job, 'platform', PLATFORM_QUEUE, this.logger, revokedKeyRecorder(this.platformAudit, job, PLATFORM_QUEUE));
    const bindings = { queue: PLATFORM_QUEUE, jobId: job.id, job: envelope.name, attempt, requestId: envelope.requestId };
    return this.logger.runInContext(() => this.run(job, envelope, attempt), { bindings });
  }

  private async run(job: Job, envelope: PlatformJobEnvelope, attempt: number): Promise<void> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      if (job.name !== envelope.name) throw new JobRejection('malformed');
      const handler = this.registry.platform(envelope.name);
      if (!handler) throw new JobRejection('unknown_job');
      this.logger.info('job started');
      await inJobContext(this.cls, envelope.requestId, undefined, () => handler.handle(envelope.data, { jobId: String(job.id), attempt, requestId: envelope.requestId }));
      this.logger.info({ durationMs: elapsed() }, 'job finished');
    } catch (error) {
      if (error instanceof JobRejection) {
        this.logger.warn({ reason: error.reason, detail: error.detail }, 'job refused');
        throw new UnrecoverableError(error.message);
      }
      const final = error instanceof UnrecoverableError || attempt >= (job.opts.attempts ?? 1);
      if (final) this.logger.error({ err: error, durationMs: elapsed() }, 'job failed');
      else this.logger.warn({ err: error, durationMs: elapsed() }, 'job failed; will retry');
      throw error;
    }
  }

  @OnWorkerEvent('stalled')
  onStalled(jobId: string): void {
    this.logger.warn({ queue: PLATFORM_QUEUE, jobId }, 'job stalled: its worker stopped renewing the lock; returned to the queue');
  }

  @OnWorkerEvent('error')
  onError(error: Error): void {
    this.logger.warn({ queue: PLATFORM_QUEUE, err: { name: error.name, message: error.message } }, 'job worker error');
  }
}

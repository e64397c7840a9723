import { OnWorkerEvent, Processor, WorkerHost } from '@nestjs/bullmq';
import { OnApplicationBootstrap, OnModuleDestroy, Optional } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { ClsService } from 'nestjs-cls';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog, PlatformAuditLog } from '@benteng/audit';
import { principalId } from '@benteng/authz';
import { JobActors } from './job-actors.js';
import { JOBS_QUEUE, type TenantJobEnvelope } from './job-envelope.js';
import { JobHandlerRegistry } from './job-handler.registry.js';
import { JobRejection } from './job-rejection.js';
import { inJobContext, LOCK_DURATION_MS, MAX_STALLED_COUNT, STALLED_INTERVAL_MS, TENANT_JOB_CONCURRENCY, type JobClsStore } from './job-runtime.js';
import { JobSigner, revokedKeyRecorder, verifiedEnvelope } from './job-signer.js';
import { namesAnotherTenant } from './tenant-claims.js';

/**
 * Runs tenant jobs (queue JOBS_QUEUE), each through the same gate before its handler sees it:
 * 1. the envelope's signature verifies (JobSigner) and it is a tenant envelope;
 * 2. a handler of that name exists; no `tenantId` inside the data names another tenant;
 * 3. the actor is re-derived from current state (JobActors): tenant active, user or client still
 *    allowed; the Scope gets their current rights.
 * A refusal at any step fails the job permanently (UnrecoverableError: no retry) and is logged.
 * Refusals of verified envelopes are also audited in the envelope's tenant as `job.rejected`
 * (actor `system:jobs`). An envelope that does not verify is logged only: its tenant claim is
 * exactly what cannot be trusted, and writing into the audit log of whatever tenant a forger named
 * would let anyone who can write to Redis fill any tenant's audit trail.
 *
 * Ordinary errors from the handler are retried with the job's backoff. Log lines (start, finish,
 * failure, and every line the handler writes) carry job name, job id, attempt, tenant, actor and
 * request id; never the job's data.
 */
@Processor(JOBS_QUEUE, {
  autorun: false,
  concurrency: TENANT_JOB_CONCURRENCY,
  lockDuration: LOCK_DURATION_MS,
  stalledInterval: STALLED_INTERVAL_MS,
  maxStalledCount: MAX_STALLED_COUNT,
})
export class TenantJobProcessor extends WorkerHost implements OnApplicationBootstrap, OnModuleDestroy {
  constructor(
    private readonly signer: JobSigner,
    private readonly registry: JobHandlerRegistry,
    private readonly actors: JobActors,
    private readonly audit: AuditLog,
    private readonly logger: PinoLogger,
    @Optional() private readonly cls?: ClsService<JobClsStore>,
    @Optional() private readonly platformAudit?: PlatformAuditLog,
  ) {
    super();
    this.logger.setContext(TenantJobProcessor.name);
  }

  /** Starts taking jobs once the whole application is initialised (every handler registered). */
  onApplicationBootstrap(): void {
    this.worker.run().catch((error: unknown) => this.logger.error({ err: error, queue: JOBS_QUEUE }, 'job worker stopped'));
  }

  /**
   * Runs before the database and audit modules shut down (they are global, so Nest destroys them
   * last): close() stops taking jobs and waits for the running ones to finish.
   */
  async onModuleDestroy(): Promise<void> {
    await this.worker.close();
  }

  async process(job: Job): Promise<void> {
    const attempt = job.attemptsMade + 1;
    const envelope = await verifiedEnvelope(this.signer, job, 'tenant', JOBS_QUEUE, this.logger, revokedKeyRecorder(this.platformAudit, job, JOBS_QUEUE));
    const bindings = { queue: JOBS_QUEUE, jobId: job.id, job: envelope.name, attempt, tenantId: envelope.tenantId, actor: principalId(envelope.actor), requestId: envelope.requestId };
    return this.logger.runInContext(() => this.run(job, envelope, attempt), { bindings });
  }

  private async run(job: Job, envelope: TenantJobEnvelope, attempt: number): Promise<void> {
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    try {
      if (job.name !== envelope.name) throw new JobRejection('malformed');
      const handler = this.registry.tenant(envelope.name);
      if (!handler) throw new JobRejection('unknown_job');
      if (namesAnotherTenant(envelope.data, envelope.tenantId)) throw new JobRejection('tenant_mismatch');
      const scope = await this.actors.scopeFor(envelope);
      this.logger.info({ principal: principalId(scope.principal) }, 'job started');
      await inJobContext(this.cls, envelope.requestId, scope, () =>
        handler.handle(scope, envelope.data, { jobId: String(job.id), attempt, requestId: envelope.requestId, envelope }),
      );
      this.logger.info({ durationMs: elapsed() }, 'job finished');
    } catch (error) {
      if (error instanceof JobRejection) {
        await this.refuse(job, envelope, error);
        throw new UnrecoverableError(error.message);
      }
      const final = error instanceof UnrecoverableError || attempt >= (job.opts.attempts ?? 1);
      if (final) this.logger.error({ err: error, durationMs: elapsed() }, 'job failed');
      else this.logger.warn({ err: error, durationMs: elapsed() }, 'job failed; will retry');
      throw error;
    }
  }

  private async refuse(job: Job, envelope: TenantJobEnvelope, rejection: JobRejection): Promise<void> {
    this.logger.warn({ reason: rejection.reason, detail: rejection.detail }, 'job refused');
    // A tenant that does not exist has no audit log to write to.
    if (rejection.reason === 'tenant_unknown') return;
    try {
      await this.audit.recordFor(envelope.tenantId, {
        type: 'job.rejected',
        outcome: 'denied',
        actor: 'system:jobs',
        subject: `job:${String(job.id)}`,
        requestId: envelope.requestId,
        data: { job: envelope.name, reason: rejection.reason, ...(rejection.detail ? { detail: rejection.detail } : {}), requestedBy: principalId(envelope.actor) },
      });
    } catch (error) {
      // The refusal stands either way; AuditLog has already logged the event it could not store.
      this.logger.error({ err: error }, 'job refusal could not be audited');
    }
  }

  @OnWorkerEvent('stalled')
  onStalled(jobId: string): void {
    this.logger.warn({ queue: JOBS_QUEUE, jobId }, 'job stalled: its worker stopped renewing the lock; returned to the queue');
  }

  @OnWorkerEvent('error')
  onError(error: Error): void {
    // Connection trouble: BullMQ reconnects by itself. The message names host and port, not credentials.
    this.logger.warn({ queue: JOBS_QUEUE, err: { name: error.name, message: error.message } }, 'job worker error');
  }
}

import { Injectable } from '@nestjs/common';
import { InjectQueue } from '@nestjs/bullmq';
import type { Job, Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { principalId } from '@benteng/authz';
import { Clock } from '@benteng/common';
import type { AppConfig } from '@benteng/config';
import { PrismaService } from '@benteng/database';
import { JOBS_QUEUE, JobQueue, JobSigner, PlatformJob, type PlatformJobHandler, type PlatformJobRun } from '@benteng/jobs';
import { Scope } from '@benteng/tenancy';
import { ExportBookkeeping } from './export-bookkeeping.js';
import { EXPORT_RUN_JOB, EXPORTS_SWEEP_JOB, type ExportJobData } from './export.types.js';
import { ExportsRepository } from './exports.repository.js';
import { EXPORT_ATTEMPTS } from './exports.service.js';

/** A queued export this old has had time to be enqueued (request() enqueues right after its commit). */
export const EXPORT_SWEEP_GRACE_MS = 2 * 60_000;
/** Re-queues of one export at most; found lost once more after that, it is failed (`job_lost`). */
export const EXPORT_MAX_REQUEUES = 3;
/** A queued export older than this whose job is lost is failed rather than re-queued (`job_lost`). */
export const EXPORT_QUEUED_MAX_AGE_MS = 24 * 3600_000;
/** Exports looked at per call of exports_queued_before (the function caps it at 1000). */
const SWEEP_BATCH = 500;
/**
 * Refusals of the requester or tenant as they are now (libs/jobs/src/job-rejection.ts): a job failed
 * with one of them is not run again for the same requester; the export is failed with that reason.
 */
const REQUESTER_REFUSAL = /^job rejected: (actor_revoked|tenant_suspended|tenant_unknown)\b/;

/** What the sweeper found in BullMQ under the export's job id. */
type JobFinding = 'alive' | 'missing' | 'failed' | 'completed';

/**
 * The export sweeper: finds exports still `queued` past EXPORT_SWEEP_GRACE_MS whose `exports.run`
 * job is gone (a Redis failover after the enqueue was acknowledged: docs/scaling.md; the emergency
 * sweep of a revoked job-envelope key: docs/operations.md, "Key rotation"), or finished without
 * the export changing (failed for good while no failure listener ran:
 * libs/exports/src/export-job-failures.ts), and queues the job again, as ExportsService.request
 * does: the export's id as job id (a job still present is never duplicated), EXPORT_ATTEMPTS,
 * signed with the current key, for the requester.
 *
 * Finding them crosses tenants, so it goes through the one platform function
 * `exports_queued_before` (tenant and export ids only, as `webhook_deliveries_due` for webhook
 * deliveries); everything after happens in the export's own tenant: the export is read and its
 * re-queue counted and audited (`export.requeued`) as `system:cleanup` (ExportBookkeeping's
 * principal), and the requester's membership read as `system:jobs`, the principal that derives a
 * job's actor. An export re-queued EXPORT_MAX_REQUEUES times, older than EXPORT_QUEUED_MAX_AGE_MS,
 * whose requester is no longer an active member, or whose genuine job the worker refused for its
 * requester or tenant (REQUESTER_REFUSAL), is failed (`export.failed`) instead.
 *
 * The re-queued job is not tied to a login session: the export row does not record the session it
 * was requested in. The worker still runs it only for a requester who is an active member then
 * (libs/jobs/src/job-actors.ts), and only the requester can download the file.
 */
@Injectable()
export class ExportsSweep {
  constructor(
    private readonly prisma: PrismaService,
    private readonly exports: ExportsRepository,
    private readonly bookkeeping: ExportBookkeeping,
    private readonly jobs: JobQueue,
    private readonly signer: JobSigner,
    @InjectQueue(JOBS_QUEUE) private readonly queue: Queue,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(ExportsSweep.name);
  }

  /** One sweep; resolves with how many exports were re-queued and how many failed. */
  async sweep(requestId?: string): Promise<{ requeued: number; failed: number }> {
    const now = this.clock.now();
    const before = new Date(now.getTime() - EXPORT_SWEEP_GRACE_MS);
    const due = await this.prisma.client.$queryRaw<{ tenant_id: string; id: string }[]>`SELECT tenant_id::text AS tenant_id, id::text AS id FROM exports_queued_before(${before}::timestamptz, ${SWEEP_BATCH}::integer)`;
    const result = { requeued: 0, failed: 0 };
    for (const { tenant_id: tenantId, id } of due) {
      try {
        const outcome = await this.sweepOne(tenantId, id, before, now, requestId);
        if (outcome === 'requeued') result.requeued++;
        if (outcome === 'failed') result.failed++;
      } catch (error) {
        // This export stays queued and comes back at the next sweep; the others go on.
        this.logger.error({ err: error, tenantId, exportId: id }, 'queued export not swept');
      }
    }
    if (result.requeued > 0 || result.failed > 0) this.logger.info(result, 'lost export jobs swept');
    return result;
  }

  private async sweepOne(tenantId: string, id: string, before: Date, now: Date, requestId?: string): Promise<'requeued' | 'failed' | 'left'> {
    const cleanup = Scope.for(tenantId, { kind: 'system', name: 'cleanup' });
    const row = await this.exports.findQueuedBefore(cleanup, id, before);
    if (!row || row.type === 'subject_access') return 'left';
    const job = await this.queue.getJob(id);
    const finding = await findingOf(job);
    if (finding === 'alive') return 'left';

    const fail = async (errorCode: string, detail: Record<string, unknown>): Promise<'failed' | 'left'> => {
      if (!(await this.bookkeeping.markFailed(tenantId, id, errorCode, requestId))) return 'left';
      this.logger.warn({ tenantId, exportId: id, errorCode, jobState: finding, requeues: row.requeues, ...detail }, 'queued export failed: its job was lost');
      return 'failed';
    };
    // The worker refused the requester (a session ended, the member removed…) and the failure
    // listener missed it: failing the export keeps that refusal. Only a genuine envelope of this
    // tenant and export counts (as in libs/exports/src/export-job-failures.ts): a failed job written
    // into Redis by hand must not fail anyone's export.
    const refusal = finding === 'failed' ? REQUESTER_REFUSAL.exec(job?.failedReason ?? '')?.[1] : undefined;
    if (refusal && (await this.isGenuine(job!, tenantId, id))) return fail(refusal, { reason: 'job_refused' });
    if (row.requeues >= EXPORT_MAX_REQUEUES) return fail('job_lost', { reason: 'requeues_exhausted' });
    if (now.getTime() - row.createdAt.getTime() > EXPORT_QUEUED_MAX_AGE_MS) return fail('job_lost', { reason: 'too_old' });
    const requester = await this.requesterScope(tenantId, row.requestedById);
    if (!requester) return fail('actor_revoked', { reason: 'requester_not_active_member' });

    const attempt = row.requeues + 1;
    const counted = await this.exports.markRequeued(cleanup, id, row.requeues, {
      type: 'export.requeued',
      outcome: 'success',
      actor: principalId(cleanup.principal),
      subject: `export:${id}`,
      ...(requestId ? { requestId } : {}),
      data: { job: finding, requeue: attempt },
    });
    // Another sweeper counted it first and queues it.
    if (!counted) return 'left';
    // A finished job keeps its id in Redis (KEEP_COMPLETED, KEEP_FAILED): an add under that id would be ignored.
    if (job) await job.remove();
    await this.jobs.enqueueTenantJob<ExportJobData>(requester, EXPORT_RUN_JOB, { exportId: id }, { jobId: id, attempts: EXPORT_ATTEMPTS, bindSession: false });
    this.logger.warn({ tenantId, exportId: id, jobState: finding, requeue: attempt }, 'lost export job re-queued');
    return 'requeued';
  }

  private async isGenuine(job: Job, tenantId: string, exportId: string): Promise<boolean> {
    try {
      const envelope = await this.signer.verifyCurrent(job.data);
      return envelope.kind === 'tenant' && envelope.name === EXPORT_RUN_JOB && envelope.tenantId === tenantId && (envelope.data as Partial<ExportJobData> | null)?.exportId === exportId;
    } catch {
      return false;
    }
  }

  /** The requester as a Scope if still an active member of an active tenant, read as `system:jobs`; null otherwise. */
  private async requesterScope(tenantId: string, userId: string): Promise<Scope | null> {
    const membership = await this.exports.currentMembership(Scope.for(tenantId, { kind: 'system', name: 'jobs' }), userId);
    if (!membership || membership.user.status !== 'active') return null;
    return Scope.for(tenantId, { kind: 'user', userId, role: membership.role });
  }
}

/**
 * Whether the job under the export's id can still run it: waiting, delayed (a retry's backoff
 * included), active or prioritized is alive; `failed` is final in BullMQ (attempts exhausted, or
 * refused for good), and a completed job will not run again either.
 */
async function findingOf(job: Job | undefined): Promise<JobFinding> {
  if (!job) return 'missing';
  const state = await job.getState();
  if (state === 'completed') return 'completed';
  if (state === 'failed') return 'failed';
  if (state === 'unknown') return 'missing';
  return 'alive';
}

/** `exports.sweep`, every EXPORT_SWEEP_INTERVAL_S: re-queues queued exports whose job was lost. */
@PlatformJob(EXPORTS_SWEEP_JOB, { everyMs: (config: AppConfig) => config.EXPORT_SWEEP_INTERVAL_S * 1000 })
@Injectable()
export class ExportsSweepHandler implements PlatformJobHandler {
  constructor(private readonly sweeper: ExportsSweep) {}

  async handle(_data: unknown, context: PlatformJobRun): Promise<void> {
    await this.sweeper.sweep(context.requestId);
  }
}

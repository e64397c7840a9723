import { randomUUID } from 'node:crypto';
import { InjectQueue } from '@nestjs/bullmq';
import { Injectable, Optional } from '@nestjs/common';
import type { JobsOptions, Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import type { Principal } from '@benteng/authz';
import { RequestContext, type Scope } from '@benteng/tenancy';
import { JOBS_QUEUE, PLATFORM_QUEUE, type EnvelopePrincipal, type PlatformJobEnvelope, type TenantJobEnvelope } from './job-envelope.js';
import { JobSigner } from './job-signer.js';

/**
 * Retries of a job whose handler throws an ordinary error: 8 attempts, 1 s, 2 s, … 64 s apart, about
 * two minutes in all. A database restart or failover (the job's gate and handler both need
 * PostgreSQL) must not use up a job's attempts: with 5 attempts (15 s) an export queued just before
 * a slow restart could fail for good (test/faults/postgres.fault.ts, seen once in CI).
 */
export const DEFAULT_ATTEMPTS = 8;
export const DEFAULT_BACKOFF = { type: 'exponential', delay: 1_000 } as const;
/** Finished jobs are kept for inspection, then trimmed (Redis is not an archive; the logs are). */
const KEEP_COMPLETED = { age: 24 * 3600, count: 1_000 };
export const KEEP_FAILED = { age: 7 * 24 * 3600, count: 10_000 };

/**
 * How long a retired job-envelope key of the key ring keeps verifying after it stopped signing,
 * seconds (docs/operations.md, "Key rotation"): every job it signed has run or expired by then.
 * - KEY_RING_REFRESH_S: a process signs with it until its next reload;
 * - the longest delay a producer sets: a webhook retry (the largest WEBHOOK_RETRY_SCHEDULE_S step,
 *   each retry is a new job signed when it is queued);
 * - the retries of DEFAULT_ATTEMPTS with DEFAULT_BACKOFF (1 + 2 + … + 64 s: BullMQ keeps the
 *   signed data of a retried job);
 * - KEEP_FAILED.age (7 days): a failed job stays in Redis that long and can be retried by hand
 *   (Bull Board, `job.retry()`) with its original signature;
 * - 60 s of clock skew.
 * A job still waiting after that (a backlog older than a week) fails as `unknown_key`, visibly.
 */
export function jobEnvelopeKeyOverlapS(config: { KEY_RING_REFRESH_S: number; WEBHOOK_RETRY_SCHEDULE_S: string }): number {
  const longestDelayS = Math.max(0, ...config.WEBHOOK_RETRY_SCHEDULE_S.split(',').map(Number).filter(Number.isFinite));
  let retriesS = 0;
  for (let i = 0; i < DEFAULT_ATTEMPTS - 1; i++) retriesS += (DEFAULT_BACKOFF.delay * 2 ** i) / 1000;
  return config.KEY_RING_REFRESH_S + longestDelayS + retriesS + KEEP_FAILED.age + 60;
}

export interface TenantJobOptions {
  /** A stable id makes the enqueue idempotent: a second add with the same id is ignored by BullMQ (no ':' in it). */
  jobId?: string;
  delayMs?: number;
  attempts?: number;
  backoff?: { type: 'exponential' | 'fixed' | (string & {}); delay: number };
  /**
   * Tie the job to the user's login session (default true): ending the session (logout, revocation)
   * refuses the job if it has not run yet. Pass false for work the user expects to outlive the
   * session; the user must still be an active member when it runs.
   */
  bindSession?: boolean;
}

export interface PlatformJobEnqueueOptions {
  jobId?: string;
  delayMs?: number;
  /** Repeat every this many milliseconds: upserts a BullMQ job scheduler whose id is `jobId` (default: the job name). */
  repeatEveryMs?: number;
  attempts?: number;
  backoff?: { type: 'exponential' | 'fixed' | (string & {}); delay: number };
}

/** The identity a job carries for a principal: ids only, never a role (the worker looks it up again). */
export function jobActorOf(principal: Principal, options: { bindSession?: boolean } = {}): EnvelopePrincipal {
  switch (principal.kind) {
    case 'user':
      return { kind: 'user', userId: principal.userId, ...(principal.sessionId && options.bindSession !== false ? { sessionId: principal.sessionId } : {}) };
    case 'partner':
      return { kind: 'partner', clientId: principal.clientId, scopes: [...principal.scopes], ...(principal.keyId ? { keyId: principal.keyId } : {}) };
    case 'system':
      return { kind: 'system', name: principal.name };
    case 'operator':
      // Operator jobs will be platform jobs of their own kind (invariant 7), not tenant jobs.
      throw new Error('operators do not queue tenant jobs');
  }
}

/**
 * The producer of jobs, in the API and in the worker (a job may queue follow-up jobs). A tenant job
 * takes the Scope it is queued for: tenant and actor come from it, never from the data, and the
 * envelope is signed so the worker can tell it was this application that queued it. The request id
 * is the current request's (or, inside a job, the job's), so one id follows the work from the HTTP
 * request into the worker's logs.
 */
@Injectable()
export class JobQueue {
  constructor(
    @InjectQueue(JOBS_QUEUE) private readonly tenantQueue: Queue,
    @InjectQueue(PLATFORM_QUEUE) private readonly platformQueue: Queue,
    private readonly signer: JobSigner,
    private readonly logger: PinoLogger,
    @Optional() private readonly context?: RequestContext,
  ) {
    this.logger.setContext(JobQueue.name);
  }

  /** Queues tenant job `name` for `scope`; resolves with the BullMQ job id. */
  async enqueueTenantJob<D>(scope: Scope, name: string, data: D, opts: TenantJobOptions = {}): Promise<string> {
    const envelope: TenantJobEnvelope<D> = {
      v: 1,
      kind: 'tenant',
      name,
      tenantId: scope.tenantId,
      actor: jobActorOf(scope.principal, { bindSession: opts.bindSession }),
      requestId: this.requestId(),
      issuedAt: new Date().toISOString(),
      data,
    };
    const signed = this.signer.sign(envelope);
    const job = await this.tenantQueue.add(name, signed, this.jobOptions(opts));
    // The new job's names under `enqueued`: a job that queues another is logged with its own job,
    // jobId, queue and requestId bound (libs/jobs/src/tenant-job.processor.ts), one binding per key.
    this.logger.info({ enqueued: { job: name, jobId: job.id, queue: JOBS_QUEUE, requestId: envelope.requestId }, tenantId: scope.tenantId }, 'job enqueued');
    return job.id!;
  }

  /** Queues platform job `name` (or, with `repeatEveryMs`, schedules it); resolves with the job or scheduler id. */
  async enqueuePlatformJob<D>(name: string, data: D, opts: PlatformJobEnqueueOptions = {}): Promise<string> {
    const envelope: PlatformJobEnvelope<D> = { v: 1, kind: 'platform', name, requestId: this.requestId(), issuedAt: new Date().toISOString(), data };
    const signed = this.signer.sign(envelope);
    if (opts.repeatEveryMs !== undefined) {
      const schedulerId = opts.jobId ?? name;
      // Every run of a scheduler carries this one envelope (and request id); re-upserting re-signs it
      // with the active key, which the worker does for its declared schedules at every start.
      const { jobId: _jobId, delay: _delay, ...template } = this.jobOptions(opts);
      await this.platformQueue.upsertJobScheduler(schedulerId, { every: opts.repeatEveryMs }, { name, data: signed, opts: template });
      this.logger.info({ scheduled: { job: name, schedulerId, everyMs: opts.repeatEveryMs, queue: PLATFORM_QUEUE, requestId: envelope.requestId } }, 'job scheduled');
      return schedulerId;
    }
    const job = await this.platformQueue.add(name, signed, this.jobOptions(opts));
    this.logger.info({ enqueued: { job: name, jobId: job.id, queue: PLATFORM_QUEUE, requestId: envelope.requestId } }, 'job enqueued');
    return job.id!;
  }

  private requestId(): string {
    return this.context?.requestId ?? randomUUID();
  }

  private jobOptions(opts: TenantJobOptions | PlatformJobEnqueueOptions): JobsOptions {
    return {
      ...(opts.jobId !== undefined ? { jobId: opts.jobId } : {}),
      ...(opts.delayMs !== undefined ? { delay: opts.delayMs } : {}),
      attempts: opts.attempts ?? DEFAULT_ATTEMPTS,
      backoff: opts.backoff ?? DEFAULT_BACKOFF,
      removeOnComplete: KEEP_COMPLETED,
      removeOnFail: KEEP_FAILED,
    };
  }
}

import { SetMetadata } from '@nestjs/common';
import type { AppConfig } from '@benteng/config';
import type { Scope } from '@benteng/tenancy';
import type { TenantJobEnvelope } from './job-envelope.js';

export const TENANT_JOB = 'benteng:tenant-job';
export const PLATFORM_JOB = 'benteng:platform-job';

export interface JobRun<D = unknown> {
  /** BullMQ job id: stable across retries, so a handler can use it as an idempotency key. */
  jobId: string;
  /** 1 for the first run, 2 for the first retry, ... */
  attempt: number;
  requestId: string;
  envelope: TenantJobEnvelope<D>;
}

/**
 * A tenant job handler: a Nest provider marked `@TenantJob('feature.action')`. The worker runs it
 * only after verifying the envelope and re-deriving the actor from current state; `scope` is that
 * actor's Scope in the envelope's tenant (the membership's current role, the client's current
 * scopes, or the named system principal), so data access goes through `TenantDatabase.run(scope)`
 * and the CASL rules like any request.
 *
 * Any key named `tenantId` anywhere in `data` is checked against the envelope's tenant before the
 * handler runs. Other ids in `data` (an export id, an endpoint id) are just ids: look them up through
 * the Scope, so an id of another tenant is simply not found.
 *
 * Throw JobRejection for a permanent refusal (no retry, audited as `job.rejected`); any other error
 * is retried with backoff. Handlers must be idempotent: a job can run again after a crash or stall.
 */
export interface TenantJobHandler<D = unknown> {
  handle(scope: Scope, data: D, context: JobRun<D>): Promise<void>;
}

export interface PlatformJobRun {
  jobId: string;
  attempt: number;
  requestId: string;
}

/** A platform job handler: no tenant and no actor. Whatever it touches per tenant, it does through a named system principal's Scope. */
export interface PlatformJobHandler<D = unknown> {
  handle(data: D, context: PlatformJobRun): Promise<void>;
}

export interface PlatformJobOptions {
  /**
   * Run on a schedule: every this many milliseconds (a number, or read from the config). The worker
   * upserts a BullMQ job scheduler for it at start (PlatformJobScheduler).
   */
  everyMs?: number | ((config: AppConfig) => number);
  /** Data of every scheduled run (plain JSON). */
  data?: unknown;
}

export interface TenantJobMetadata {
  name: string;
}

export interface PlatformJobMetadata extends PlatformJobOptions {
  name: string;
}

/** Marks a provider as the handler of tenant jobs named `name` (queue JOBS_QUEUE). */
export const TenantJob = (name: string): ClassDecorator => SetMetadata(TENANT_JOB, { name } satisfies TenantJobMetadata);

/** Marks a provider as the handler of platform jobs named `name` (queue PLATFORM_QUEUE), optionally on a schedule. */
export const PlatformJob = (name: string, options: PlatformJobOptions = {}): ClassDecorator => SetMetadata(PLATFORM_JOB, { name, ...options } satisfies PlatformJobMetadata);

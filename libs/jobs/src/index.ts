export { JOBS_QUEUE, PLATFORM_QUEUE, type EnvelopePrincipal, type JobEnvelope, type PlatformJobEnvelope, type SignedEnvelope, type TenantJobEnvelope } from './job-envelope.js';
export { JobRejection, type ActorRevokedDetail, type JobRejectionReason } from './job-rejection.js';
export { JobSigner, JOB_NAME, parseEnvelope, revokedKeyRecorder } from './job-signer.js';
export { DEFAULT_ATTEMPTS, DEFAULT_BACKOFF, jobEnvelopeKeyOverlapS, JobQueue, jobActorOf, type PlatformJobEnqueueOptions, type TenantJobOptions } from './job-queue.js';
export {
  PlatformJob,
  TenantJob,
  PLATFORM_JOB,
  TENANT_JOB,
  type PlatformJobRun,
  type PlatformJobHandler,
  type PlatformJobOptions,
  type JobRun,
  type TenantJobHandler,
} from './job-handlers.js';
export { JobHandlerRegistry } from './job-handler.registry.js';
export { JobActors } from './job-actors.js';
export { JobProbeHandler, JOB_PROBE } from './job-probe.handler.js';
export { PlatformPurgeHandler, PLATFORM_PURGE } from './platform-purge.handler.js';
export { TenantJobProcessor } from './tenant-job.processor.js';
export { PlatformJobProcessor } from './platform-job.processor.js';
export { PlatformJobScheduler } from './platform-job.scheduler.js';
export { namesAnotherTenant } from './tenant-claims.js';
export { LOCK_DURATION_MS, MAX_STALLED_COUNT, PLATFORM_JOB_CONCURRENCY, STALLED_INTERVAL_MS, TENANT_JOB_CONCURRENCY } from './job-runtime.js';
export { JobsModule, JobsWorkerModule, type JobsProducerOptions } from './jobs.module.js';
export { QUEUE_SWEEP_TIMEOUT_MS, QueuedJobRevocation, type QueuedJobsRefused } from './queued-job-revocation.js';

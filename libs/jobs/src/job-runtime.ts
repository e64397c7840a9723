import type { Scope } from '@benteng/tenancy';
import type { ClsService } from 'nestjs-cls';

/**
 * Worker settings, the same for every worker process (BullMQ reads them per Worker):
 * - a running job holds a lock of LOCK_DURATION_MS, renewed every half of it while the handler
 *   runs. The lock lapses only when the process dies or its event loop is blocked that long;
 * - every STALLED_INTERVAL_MS some worker looks for jobs whose lock lapsed and puts them back in
 *   the queue (a crashed or killed worker loses no job), at most MAX_STALLED_COUNT times: a job
 *   that keeps killing its worker then fails instead of taking every worker down in turn.
 * A job can therefore run twice (a stall after the work, before BullMQ recorded completion), which
 * is why handlers must be idempotent.
 */
export const LOCK_DURATION_MS = 60_000;
export const STALLED_INTERVAL_MS = 30_000;
export const MAX_STALLED_COUNT = 2;
/** Jobs one worker process runs at once, per queue. */
export const TENANT_JOB_CONCURRENCY = 4;
export const PLATFORM_JOB_CONCURRENCY = 1;

/** The keys RequestContext (libs/tenancy) reads from nestjs-cls. */
export interface JobClsStore {
  [key: symbol]: unknown;
  requestId?: string;
  scope?: Scope;
}

/**
 * Runs `work` with the job's request id (and Scope) where RequestContext finds them, so a handler
 * that queues a follow-up job, or writes an audit event through code that reads the request id,
 * carries the same id as the HTTP request that started it all.
 */
export function inJobContext<T>(cls: ClsService<JobClsStore> | undefined, requestId: string, scope: Scope | undefined, work: () => Promise<T>): Promise<T> {
  if (!cls) return work();
  return cls.run(() => {
    cls.set('requestId', requestId);
    if (scope) cls.set('scope', scope);
    return work();
  });
}

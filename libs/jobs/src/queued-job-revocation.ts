import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppConfig } from '@benteng/config';
import { queueConnection } from '@benteng/redis';
import { JOBS_QUEUE, PLATFORM_QUEUE } from './job-envelope.js';

/** What an emergency revocation of a job-envelope key took out of the queues. */
export interface QueuedJobsRefused {
  /** Queued jobs signed with the revoked key, removed before any worker ran them. */
  refused: number;
  /** The first 20 of them, as `queue/jobId/name`. */
  jobs: string[];
  /** Scheduler runs signed with it: left in place, signed again by the workers once they load the new key (refused if one comes due before). */
  schedules: number;
}

const STATES = ['waiting', 'delayed', 'prioritized', 'waiting-children'] as const;
const PAGE = 1_000;
const LISTED = 20;

/**
 * The queue side of an emergency rotation of the `job-envelope` family (docs/operations.md, "Key
 * rotation"): every job still queued (waiting, delayed, retrying) whose envelope the revoked key
 * signed is removed at once, so none runs even on a worker that has not reloaded the ring yet, and
 * is counted for the platform audit event `platform.key_revoked`. A job already running is not
 * stopped; a job a process signs with the revoked key before its next reload is refused by the
 * worker as `revoked_key` (libs/jobs/src/job-signer.ts) and recorded as `platform.job_refused`.
 * Read and removal go through the queues' own connection (REDIS_URL, QUEUE_PREFIX).
 */
@Injectable()
export class QueuedJobRevocation {
  constructor(private readonly config: AppConfig) {}

  async refuseSignedBy(kid: string): Promise<QueuedJobsRefused> {
    const { connection, prefix, close } = queueConnection(this.config, { maxRetriesPerRequest: 1, connectionName: 'benteng-key-revocation' });
    const queues = [JOBS_QUEUE, PLATFORM_QUEUE].map((name) => new Queue(name, { connection, prefix }));
    const report: QueuedJobsRefused = { refused: 0, jobs: [], schedules: 0 };
    try {
      for (const queue of queues) {
        const matching = [];
        for (let start = 0; ; start += PAGE) {
          const page = await queue.getJobs([...STATES], start, start + PAGE - 1, true);
          matching.push(...page.filter((job) => (job?.data as { kid?: unknown } | undefined)?.kid === kid));
          if (page.length < PAGE) break;
        }
        for (const job of matching) {
          if (job.repeatJobKey) {
            report.schedules++;
            continue;
          }
          try {
            await job.remove();
          } catch {
            // Taken by a worker in the meantime: a worker that has reloaded refuses it (revoked_key).
            continue;
          }
          report.refused++;
          if (report.jobs.length < LISTED) report.jobs.push(`${queue.name}/${job.id}/${job.name}`);
        }
      }
    } finally {
      await Promise.all(queues.map((q) => q.close()));
      await close();
    }
    return report;
  }
}

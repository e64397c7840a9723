import { Injectable } from '@nestjs/common';
import { Queue } from 'bullmq';
import { AppConfig } from '@benteng/config';
import { createRedis, isCluster, queueConnection, type RedisClient } from '@benteng/redis';
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

/**
 * How long an emergency rotation waits for the sweep. With Redis unreachable, BullMQ waits for a
 * connection for ever; the rotation must still finish and write its audit event (which then
 * carries the sweep's failure).
 */
export const QUEUE_SWEEP_TIMEOUT_MS = 15_000;

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
  /** QUEUE_SWEEP_TIMEOUT_MS; a test shortens it. */
  sweepTimeoutMs = QUEUE_SWEEP_TIMEOUT_MS;

  constructor(private readonly config: AppConfig) {}

  /** Rejects when the queues cannot be read or the sweep takes longer than `sweepTimeoutMs`. */
  async refuseSignedBy(kid: string): Promise<QueuedJobsRefused> {
    const { connection, prefix, close } = queueConnection(this.config, { maxRetriesPerRequest: 1, connectionName: 'benteng-key-revocation' });
    // Both queues share one client this method owns (a Cluster already is one): disconnecting it
    // ends BullMQ's wait for a connection, which Queue.disconnect() and close() would wait for too.
    const client: RedisClient = isCluster(connection as RedisClient) ? (connection as RedisClient) : createRedis(this.config.REDIS_URL, 'benteng-key-revocation');
    client.on('error', () => undefined);
    const queues = [JOBS_QUEUE, PLATFORM_QUEUE].map((name) => new Queue(name, { connection: client, prefix }));
    // A connection error reaches the caller as the sweep's failure; BullMQ would also print each one.
    for (const queue of queues) queue.on('error', () => undefined);
    let timer: NodeJS.Timeout | undefined;
    let timedOut = false;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`the queue sweep did not finish within ${this.sweepTimeoutMs} ms (is Redis reachable?)`));
      }, this.sweepTimeoutMs);
    });
    const sweeping = sweep(queues, kid);
    // A race, not a timer that only disconnects: a BullMQ call waiting for a connection does not
    // settle when its client is disconnected (checked with Redis unreachable: it waits for ever).
    sweeping.catch(() => undefined);
    try {
      return await Promise.race([sweeping, deadline]);
    } finally {
      clearTimeout(timer);
      if (timedOut) client.disconnect();
      await Promise.all(queues.map((queue) => queue.close().catch(() => undefined)));
      if (client !== connection) await client.quit().catch(() => client.disconnect());
      await close();
    }
  }
}

async function sweep(queues: Queue[], kid: string): Promise<QueuedJobsRefused> {
  const report: QueuedJobsRefused = { refused: 0, jobs: [], schedules: 0 };
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
  return report;
}

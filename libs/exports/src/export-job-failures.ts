import { InjectQueue, OnQueueEvent, QueueEventsHost, QueueEventsListener } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { isDatabaseUnavailable } from '@benteng/database';
import { JOBS_QUEUE, JobSigner } from '@benteng/jobs';
import { ExportBookkeeping } from './export-bookkeeping.js';
import { EXPORT_RUN_JOB, type ExportJobData } from './export.types.js';
import { isUuid } from '@benteng/common';

/**
 * How far back the listener starts reading the event stream when the process starts. Reading only
 * new events would miss a failure that happens between the worker taking its first job and this
 * listener's first read, and every failure while no worker ran; replaying a few minutes costs a
 * lookup per replayed failure, which the status guard makes harmless.
 */
export const FAILURE_REPLAY_MS = 10 * 60_000;
/** Recording a final failure while the database is unavailable: tries, 2 s more apart each time (about 40 s). */
const RECORD_ATTEMPTS = 6;
const RECORD_RETRY_MS = 2_000;
/** The reason of a JobRejection, as its message carries it into BullMQ's failedReason. */
const REJECTION = /^job rejected: ([a-z_]{1,40})/;

/**
 * Marks an export failed once its `exports.run` job has failed for good: refused before the handler
 * ran (the requester was locked or removed, the tenant suspended: the job runtime audits that as
 * `job.rejected`), refused by the handler, out of retries, or stalled too often. Without this the
 * export would stay queued (or running) forever.
 *
 * BullMQ announces only final failures as `failed` on the queue's event stream, to every listener;
 * each worker process listens, and ExportBookkeeping's status guard lets one of them change and
 * audit the export. The tenant and export come from the job's envelope, and only after its
 * signature verifies: a job someone wrote into Redis by hand cannot fail anyone's export.
 *
 * Reading starts FAILURE_REPLAY_MS before this module was loaded (at process start), as the stream
 * id `<ms>-0`.
 */
@QueueEventsListener(JOBS_QUEUE, { lastEventId: `${Date.now() - FAILURE_REPLAY_MS}-0` })
export class ExportJobFailures extends QueueEventsHost {
  constructor(
    @InjectQueue(JOBS_QUEUE) private readonly queue: Queue,
    private readonly signer: JobSigner,
    private readonly bookkeeping: ExportBookkeeping,
    private readonly logger: PinoLogger,
  ) {
    super();
    this.logger.setContext(ExportJobFailures.name);
  }

  @OnQueueEvent('failed')
  async onFailed({ jobId, failedReason }: { jobId: string; failedReason: string }): Promise<void> {
    try {
      const job = await this.queue.getJob(jobId);
      if (!job || job.name !== EXPORT_RUN_JOB) return;
      let envelope;
      try {
        envelope = await this.signer.verifyCurrent(job.data);
      } catch {
        return;
      }
      if (envelope.kind !== 'tenant') return;
      const exportId = (envelope.data as Partial<ExportJobData> | null)?.exportId;
      if (typeof exportId !== 'string' || !isUuid(exportId)) return;
      const errorCode = REJECTION.exec(failedReason ?? '')?.[1] ?? 'job_failed';
      // A job that failed for good while PostgreSQL was away must still be recorded once it is back:
      // otherwise its export stays queued or running forever.
      for (let attempt = 1; ; attempt++) {
        try {
          if (await this.bookkeeping.markFailed(envelope.tenantId, exportId, errorCode, envelope.requestId)) {
            this.logger.warn({ jobId, tenantId: envelope.tenantId, exportId, errorCode }, 'export failed');
          }
          return;
        } catch (error) {
          if (attempt >= RECORD_ATTEMPTS || !isDatabaseUnavailable(error)) throw error;
          await new Promise((resolve) => setTimeout(resolve, RECORD_RETRY_MS * attempt));
        }
      }
    } catch (error) {
      // The export stays as it was; the job's own failure is already logged by the job runtime.
      this.logger.error({ err: error, jobId }, 'export failure could not be recorded');
    }
  }
}

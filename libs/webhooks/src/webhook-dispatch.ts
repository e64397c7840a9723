import { randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import type { PinoLogger } from 'nestjs-pino';
import { JobQueue } from '@benteng/jobs';
import { Scope } from '@benteng/tenancy';

export const DELIVER_JOB = 'webhooks.deliver';
export const DELIVER_BATCH_JOB = 'webhooks.deliver-batch';
/** Deliveries one batch job carries at most. */
export const DELIVER_BATCH_MAX = 50;
export const RELAY_JOB = 'webhooks.relay';
export const SWEEP_JOB = 'webhooks.sweep';

/** What a delivery job carries: which delivery, and which attempt of it the job is meant to make. */
export interface DeliverJobData {
  deliveryId: string;
  attempt: number;
}

/** What a batch job carries: attempts of deliveries to one endpoint (at most DELIVER_BATCH_MAX). */
export interface DeliverBatchJobData {
  endpointId: string;
  deliveries: DeliverJobData[];
}

/**
 * BullMQ ids of delivery jobs. A second add with an id BullMQ still holds is ignored, so the relay
 * (attempt 1: the delivery id itself) and the retry path (`<delivery>.<attempt>`) never queue one
 * attempt twice. BullMQ refuses ':' in custom ids, hence the dot.
 */
export const deliverJobId = (deliveryId: string, attempt: number): string => (attempt <= 1 ? deliveryId : `${deliveryId}.${attempt}`);

/** Jobs that retry the handler itself (a database hiccup), not the receiver: receiver failures follow WEBHOOK_RETRY_SCHEDULE_S. */
const JOB_ATTEMPTS = 3;

/**
 * Queues delivery attempts. Every delivery job runs as the `webhooks` system principal of the
 * delivery's tenant, whoever caused it (the outbox relay, a ping or a redelivery by an admin): the
 * work is the system's, and the admin's own action is audited where it happened.
 */
@Injectable()
export class WebhookDispatcher {
  constructor(private readonly jobs: JobQueue) {}

  /** The scope delivery jobs are queued and run in. */
  static scopeFor(tenantId: string): Scope {
    return Scope.for(tenantId, { kind: 'system', name: 'webhooks' });
  }

  /** Attempt `attempt` of a delivery, after `delayMs`, under the attempt's own job id. */
  attempt(tenantId: string, deliveryId: string, attempt: number, delayMs = 0): Promise<string> {
    return this.enqueue(tenantId, { deliveryId, attempt }, deliverJobId(deliveryId, attempt), delayMs);
  }

  /**
   * The sweeper's re-queue of an overdue attempt. The id is the attempt's plus the sweep window
   * (5 minutes): repeated sweeps of a still-queued job are ignored, while a job whose id BullMQ
   * keeps as finished (a rejected job of a tenant that was suspended at the time) cannot block the
   * delivery forever. A duplicate that does run finds the attempt claimed and does nothing.
   */
  resweep(tenantId: string, deliveryId: string, attempt: number, now: Date): Promise<string> {
    const window = Math.floor(now.getTime() / 300_000);
    return this.enqueue(tenantId, { deliveryId, attempt }, `${deliverJobId(deliveryId, attempt)}.s${window}`, 0);
  }

  /**
   * An attempt asked for now by a person: a redelivery, or a delivery held while its endpoint was
   * off and resumed by enabling it. Always a new job id, so it runs now even while a scheduled
   * retry waits, and even when BullMQ still keeps the finished job of that attempt number (the
   * job that found the endpoint off and held the delivery).
   */
  now(tenantId: string, deliveryId: string, attempt: number): Promise<string> {
    return this.enqueue(tenantId, { deliveryId, attempt }, `${deliverJobId(deliveryId, attempt)}.n${randomBytes(6).toString('hex')}`, 0);
  }

  /**
   * First attempts of deliveries to one endpoint as one job (the relay's fan-out). The id is the
   * first delivery's with a `b.` prefix, so a relay that queues the same batch twice queues one job;
   * a duplicate that runs anyway finds the attempts claimed (claimBatch) and sends nothing.
   */
  batch(tenantId: string, endpointId: string, deliveries: DeliverJobData[], delayMs = 0): Promise<string> {
    return this.jobs.enqueueTenantJob(WebhookDispatcher.scopeFor(tenantId), DELIVER_BATCH_JOB, { endpointId, deliveries } satisfies DeliverBatchJobData, {
      jobId: `b.${deliverJobId(deliveries[0]!.deliveryId, deliveries[0]!.attempt)}`,
      ...(delayMs > 0 ? { delayMs } : {}),
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: 2_000 },
    });
  }

  private enqueue(tenantId: string, data: DeliverJobData, jobId: string, delayMs: number): Promise<string> {
    return this.jobs.enqueueTenantJob(WebhookDispatcher.scopeFor(tenantId), DELIVER_JOB, data, {
      jobId,
      ...(delayMs > 0 ? { delayMs } : {}),
      attempts: JOB_ATTEMPTS,
      backoff: { type: 'exponential', delay: 2_000 },
    });
  }
}

/**
 * Queues an attempt after its transaction committed. If Redis refuses the job, the delivery is
 * already recorded as due and the sweeper (WebhookRelayService) queues it within a minute or two,
 * so the caller still succeeds: the refusal is logged, not thrown.
 */
export async function queueAfterCommit(logger: PinoLogger, enqueue: () => Promise<string>, deliveryId: string): Promise<void> {
  try {
    await enqueue();
  } catch (error) {
    logger.warn({ err: error, deliveryId }, 'delivery job not queued; the sweeper will queue it');
  }
}

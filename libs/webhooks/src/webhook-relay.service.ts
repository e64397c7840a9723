import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { PrismaService } from '@benteng/database';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { DELIVER_BATCH_MAX, WebhookDispatcher } from './webhook-dispatch.js';
import { retrySchedule } from './webhook-retry.js';

/** Events taken from the outbox per query. */
export const RELAY_BATCH = 100;
/** Overdue deliveries re-queued per sweep. */
export const SWEEP_BATCH = 500;
/** A pending delivery this far past its next attempt time has lost its job (or its worker). */
export const SWEEP_GRACE_MS = 60_000;

interface Pending {
  tenant_id: string;
  id: string;
}

/**
 * The outbox relay and the delivery sweeper. Both start from a platform function that crosses
 * tenants and returns ids only (docs/architecture.md, invariant 4: `outbox_pending`,
 * `webhook_deliveries_due`); every read and write after that happens in the row's own tenant, as
 * the `webhooks` system principal, under RLS and the CASL rules.
 */
@Injectable()
export class WebhookRelayService {
  private readonly firstDelayMs: number;

  constructor(
    private readonly prisma: PrismaService,
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly dispatcher: WebhookDispatcher,
    private readonly clock: Clock,
    config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.firstDelayMs = retrySchedule(config.WEBHOOK_RETRY_SCHEDULE_S)[0] ?? 0;
    this.logger.setContext(WebhookRelayService.name);
  }

  /**
   * Publishes one batch of unpublished events; resolves with how many the outbox offered
   * (RELAY_BATCH: there may be more). The first attempts of the deliveries the batch created are
   * queued per endpoint, DELIVER_BATCH_MAX to a job (`webhooks.deliver-batch`), after every event's
   * transaction committed: one job per endpoint and batch instead of one per delivery
   * (docs/benchmarks.md, "Changes and their effect — webhook fan-out").
   */
  async relayBatch(): Promise<number> {
    const pending = await this.prisma.client.$queryRaw<Pending[]>`SELECT tenant_id::text AS tenant_id, id::text AS id FROM outbox_pending(${RELAY_BATCH}::int)`;
    /** Created deliveries by tenant and endpoint, in creation order. */
    const created = new Map<string, { tenantId: string; endpointId: string; ids: string[] }>();
    const add = (tenantId: string, deliveries: { id: string; endpointId: string }[]) => {
      for (const delivery of deliveries) {
        const key = `${tenantId}/${delivery.endpointId}`;
        const group = created.get(key) ?? { tenantId, endpointId: delivery.endpointId, ids: [] };
        group.ids.push(delivery.id);
        created.set(key, group);
      }
    };
    const byTenant = new Map<string, string[]>();
    for (const { tenant_id: tenantId, id } of pending) byTenant.set(tenantId, [...(byTenant.get(tenantId) ?? []), id]);
    for (const [tenantId, eventIds] of byTenant) {
      try {
        // One transaction for the tenant's events of this batch (publishEvents).
        add(tenantId, await this.deliveries.publishEvents(WebhookDispatcher.scopeFor(tenantId), eventIds, this.clock.now(), this.firstDelayMs));
        continue;
      } catch (error) {
        this.logger.warn({ err: error, tenantId, events: eventIds.length }, 'outbox events not relayed together; relaying them one by one');
      }
      // One event's trouble must not stop the others: each on its own, as before batching.
      for (const id of eventIds) {
        try {
          add(tenantId, await this.publish(tenantId, id));
        } catch (error) {
          // The event stays unpublished and comes back.
          this.logger.error({ err: error, tenantId, eventId: id }, 'outbox event not relayed');
        }
      }
    }
    for (const { tenantId, endpointId, ids } of created.values()) {
      for (let i = 0; i < ids.length; i += DELIVER_BATCH_MAX) {
        const deliveries = ids.slice(i, i + DELIVER_BATCH_MAX).map((deliveryId) => ({ deliveryId, attempt: 1 }));
        try {
          await this.dispatcher.batch(tenantId, endpointId, deliveries, this.firstDelayMs);
        } catch (error) {
          // The deliveries are recorded as due: the sweeper queues them (one job each).
          this.logger.warn({ err: error, tenantId, endpointId, deliveries: deliveries.length }, 'delivery batch not queued; the sweeper will queue it');
        }
      }
    }
    return pending.length;
  }

  /**
   * Publishes one event: in ONE transaction of its tenant, mark it published (only if nobody else
   * did: another worker's relay may hold or have taken it) and create one delivery per enabled
   * endpoint subscribed to its type; after the commit, queue the first attempt of each. A crash
   * between commit and enqueue leaves deliveries that are due and have no job: the sweeper queues
   * them. Resolves with the ids of the deliveries created.
   */
  async relayEvent(tenantId: string, eventId: string): Promise<string[]> {
    const created = await this.publish(tenantId, eventId);
    for (const { id: deliveryId } of created) {
      try {
        await this.dispatcher.attempt(tenantId, deliveryId, 1, this.firstDelayMs);
      } catch (error) {
        this.logger.warn({ err: error, tenantId, deliveryId }, 'delivery job not queued; the sweeper will queue it');
      }
    }
    return created.map((d) => d.id);
  }

  private publish(tenantId: string, eventId: string): Promise<{ id: string; endpointId: string }[]> {
    return this.deliveries.publishEvent(WebhookDispatcher.scopeFor(tenantId), eventId, this.clock.now(), this.firstDelayMs);
  }

  /**
   * Re-queues pending deliveries whose next attempt is more than SWEEP_GRACE_MS overdue: their job
   * was lost (a crash between commit and enqueue, Redis trouble) or their worker died mid-attempt
   * (the claim's lease ran out). The job made is for the attempt after the last one claimed, so it
   * cannot repeat an attempt. Resolves with how many were re-queued.
   */
  async sweep(): Promise<number> {
    const now = this.clock.now();
    const cutoff = new Date(now.getTime() - SWEEP_GRACE_MS);
    const due = await this.prisma.client.$queryRaw<Pending[]>`SELECT tenant_id::text AS tenant_id, id::text AS id FROM webhook_deliveries_due(${cutoff}, ${SWEEP_BATCH}::int)`;
    let queued = 0;
    for (const { tenant_id: tenantId, id } of due) {
      try {
        const scope = WebhookDispatcher.scopeFor(tenantId);
        const delivery = await this.deliveries.findOverdue(scope, id, cutoff);
        if (!delivery) continue;
        await this.dispatcher.resweep(tenantId, id, delivery.attempts + 1, now);
        queued++;
      } catch (error) {
        this.logger.error({ err: error, tenantId, deliveryId: id }, 'overdue delivery not re-queued');
      }
    }
    if (queued > 0) this.logger.info({ queued }, 'overdue webhook deliveries re-queued');
    return queued;
  }
}

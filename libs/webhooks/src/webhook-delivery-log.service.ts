import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { successEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { Clock } from '@benteng/common';
import type { InTransaction } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { queueAfterCommit, WebhookDispatcher } from './webhook-dispatch.js';
import { PING_EVENT_TYPE, type WebhookMessage } from './webhook.events.js';
import { pageSize } from './webhook-request.js';
import type { PageRequest, WebhookDeliveryDetail, WebhookDeliveryView } from './webhook.types.js';
import { deliveryView } from './webhook.view.js';

/**
 * An endpoint's delivery log as its tenant's owners and admins see and use it: the deliveries and
 * their attempts, a redelivery, a test message (ping). Another endpoint's delivery is not found,
 * like a missing one. Attempts are queued after their transaction commits; if Redis refuses the
 * job, the delivery is already recorded as due and the sweeper (WebhookRelayService) queues it.
 */
@Injectable()
export class WebhookDeliveryLogService {
  constructor(
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly dispatcher: WebhookDispatcher,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(WebhookDeliveryLogService.name);
  }

  /** The endpoint's deliveries, newest first (keyset on createdAt, id). */
  async list(scope: Scope, endpointId: string, page: PageRequest): Promise<WebhookDeliveryView[]> {
    const rows = await this.deliveries.list(scope, endpointId, page, pageSize(page));
    return rows.map(deliveryView);
  }

  /** One delivery, the message it carries, and every attempt (oldest first). */
  async get(scope: Scope, endpointId: string, deliveryId: string): Promise<WebhookDeliveryDetail> {
    const { delivery, payload, attempts } = await this.deliveries.findDetail(scope, endpointId, deliveryId);
    return { ...deliveryView(delivery), payload, attemptLog: attempts };
  }

  /**
   * Sends a delivery again now: one more attempt of the same message (same webhook-id), whatever
   * its status. If that attempt fails and the retry schedule still has room, retries follow it as
   * usual; otherwise the delivery ends failed again. Audited with the caller as actor.
   */
  async redeliver(scope: Scope, endpointId: string, deliveryId: string, meta: RequestMeta, also?: InTransaction<WebhookDeliveryView>): Promise<WebhookDeliveryView> {
    const row = await this.deliveries.redeliver(scope, endpointId, deliveryId, this.clock.now(), (current) => ({
      ...successEntry(scope, 'webhook.redelivered', `webhook_delivery:${deliveryId}`, meta),
      data: { endpointId, messageId: current.messageId, previousStatus: current.status, attempt: current.attempts + 1 },
    }), also ? (tx, row) => also(tx, deliveryView(row)) : undefined);
    await queueAfterCommit(this.logger, () => this.dispatcher.now(scope.tenantId, deliveryId, row.attempts + 1), deliveryId);
    return deliveryView(row);
  }

  /** A `webhook.ping` message to this endpoint only: a delivery of its own, logged like any other. */
  async ping(scope: Scope, endpointId: string, meta: RequestMeta, also?: InTransaction<WebhookDeliveryView>): Promise<WebhookDeliveryView> {
    const now = this.clock.now();
    const id = randomUUID();
    const message: WebhookMessage = { type: PING_EVENT_TYPE, timestamp: now.toISOString(), data: { endpointId } };
    const row = await this.deliveries.ping(scope, endpointId, id, message, now, {
      ...successEntry(scope, 'webhook.pinged', `webhook_endpoint:${endpointId}`, meta),
      data: { deliveryId: id },
    }, also ? (tx, row) => also(tx, deliveryView(row)) : undefined);
    await queueAfterCommit(this.logger, () => this.dispatcher.attempt(scope.tenantId, id, 1), id);
    return deliveryView(row);
  }
}

import { Injectable } from '@nestjs/common';
import { isUuid } from '@benteng/common';
import { JobRejection, TenantJob, type JobRun, type TenantJobHandler } from '@benteng/jobs';
import type { Scope } from '@benteng/tenancy';
import { DELIVER_JOB, type DeliverJobData } from './webhook-dispatch.js';
import { WebhookDeliveryService } from './webhook-delivery.service.js';

export function isDeliverJobData(data: unknown): data is DeliverJobData {
  const d = data as Partial<DeliverJobData> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    Object.keys(d).length === 2 &&
    typeof d.deliveryId === 'string' &&
    isUuid(d.deliveryId) &&
    Number.isInteger(d.attempt) &&
    d.attempt! >= 1 &&
    d.attempt! <= 1000
  );
}

/**
 * `webhooks.deliver`: one attempt of one delivery (WebhookDeliveryService). Only the `webhooks`
 * system principal delivers: a job queued in anyone else's name is refused, whatever it says.
 */
@Injectable()
@TenantJob(DELIVER_JOB)
export class WebhookDeliverHandler implements TenantJobHandler<DeliverJobData> {
  constructor(private readonly deliveries: WebhookDeliveryService) {}

  async handle(scope: Scope, data: DeliverJobData, context: JobRun<DeliverJobData>): Promise<void> {
    if (!isDeliverJobData(data)) throw new JobRejection('malformed');
    if (scope.principal.kind !== 'system' || scope.principal.name !== 'webhooks') throw new JobRejection('wrong_actor');
    await this.deliveries.deliver(scope, data.deliveryId, data.attempt, context.requestId);
  }
}


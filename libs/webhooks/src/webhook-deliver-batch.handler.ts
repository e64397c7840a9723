import { Injectable } from '@nestjs/common';
import { isUuid } from '@benteng/common';
import { JobRejection, TenantJob, type JobRun, type TenantJobHandler } from '@benteng/jobs';
import type { Scope } from '@benteng/tenancy';
import { DELIVER_BATCH_JOB, DELIVER_BATCH_MAX, type DeliverBatchJobData } from './webhook-dispatch.js';
import { WebhookDeliveryService } from './webhook-delivery.service.js';
import { isDeliverJobData } from './webhook-deliver.handler.js';

function isDeliverBatchJobData(data: unknown): data is DeliverBatchJobData {
  const d = data as Partial<DeliverBatchJobData> | null;
  return (
    typeof d === 'object' &&
    d !== null &&
    Object.keys(d).length === 2 &&
    typeof d.endpointId === 'string' &&
    isUuid(d.endpointId) &&
    Array.isArray(d.deliveries) &&
    d.deliveries.length >= 1 &&
    d.deliveries.length <= DELIVER_BATCH_MAX &&
    d.deliveries.every(isDeliverJobData)
  );
}

/**
 * `webhooks.deliver-batch`: attempts of many deliveries to one endpoint in one job
 * (WebhookDeliveryService.deliverBatch), so the job gate's envelope and actor checks, the claim and
 * the record are paid once per batch instead of once per delivery. Only the `webhooks` system
 * principal delivers, as for `webhooks.deliver`.
 */
@Injectable()
@TenantJob(DELIVER_BATCH_JOB)
export class WebhookDeliverBatchHandler implements TenantJobHandler<DeliverBatchJobData> {
  constructor(private readonly deliveries: WebhookDeliveryService) {}

  async handle(scope: Scope, data: DeliverBatchJobData, context: JobRun<DeliverBatchJobData>): Promise<void> {
    if (!isDeliverBatchJobData(data)) throw new JobRejection('malformed');
    if (scope.principal.kind !== 'system' || scope.principal.name !== 'webhooks') throw new JobRejection('wrong_actor');
    await this.deliveries.deliverBatch(scope, data.endpointId, data.deliveries, context.requestId);
  }
}

export { WebhooksModule, WebhooksWorkerModule } from './webhooks.module.js';
export { WebhookEndpointsService } from './webhook-endpoints.service.js';
export { WebhookSecretsService } from './webhook-secrets.service.js';
export { WebhookDeliveryLogService } from './webhook-delivery-log.service.js';
export { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
export { WebhookDeliveriesRepository, type AttemptResult } from './webhook-deliveries.repository.js';
export { MAX_PAGE_SIZE } from './webhook-request.js';
export { WebhookDeliveryService, excerptOf, RESPONSE_EXCERPT_MAX_BYTES, type DeliverOutcome } from './webhook-delivery.service.js';
export { WebhookRelayService, RELAY_BATCH, SWEEP_BATCH, SWEEP_GRACE_MS } from './webhook-relay.service.js';
export { WebhookDeliverHandler } from './webhook-deliver.handler.js';
export { WebhookDeliverBatchHandler } from './webhook-deliver-batch.handler.js';
export { SWEEP_INTERVAL_MS, WebhookSweepHandler } from './webhook-sweep.handler.js';
export { OutboxRelayLoop } from './outbox-relay-loop.js';
export { DELIVER_BATCH_JOB, DELIVER_BATCH_MAX, DELIVER_JOB, RELAY_JOB, SWEEP_JOB, WebhookDispatcher, deliverJobId, type DeliverBatchJobData, type DeliverJobData } from './webhook-dispatch.js';
export { WebhookError, WebhookErrorCode } from './webhook.errors.js';
export {
  ENDPOINT_DISABLED_EVENT,
  PING_EVENT_TYPE,
  WEBHOOK_EVENT_TYPES,
  canonicalEvents,
  endpointDisabledEvent,
  messageIdForEvent,
  type DisabledReason,
  type WebhookEventType,
  type WebhookMessage,
} from './webhook.events.js';
export { DATA_REENCRYPTION_JOB, DataReencryptionHandler, REENCRYPTION_BATCH, WebhookSecretReencryption, type ReencryptionOptions, type ReencryptionReport } from './webhook-secret-reencryption.js';
export { mintWebhookSecret, WEBHOOK_SECRET, WebhookSecretBox } from './webhook-secret-box.js';
export { signatureHeaders, WebhookSigner, type SignedHeaders } from './webhook-signer.js';
export { nextDelayMs, retrySchedule } from './webhook-retry.js';
export type * from './webhook.types.js';

export { WebhooksModule, WebhooksWorkerModule } from './webhooks.module.js';
export { MAX_PAGE_SIZE, WebhookEndpointsService, canonicalEvents } from './webhook-endpoints.service.js';
export { WebhookDeliveryService, excerptOf, RESPONSE_EXCERPT_MAX_BYTES, type AttemptResult, type DeliverOutcome } from './webhook-delivery.service.js';
export { WebhookRelayService, RELAY_BATCH, SWEEP_BATCH, SWEEP_GRACE_MS } from './webhook-relay.service.js';
export { OutboxRelayLoop, SWEEP_INTERVAL_MS, WebhookDeliverJob, WebhookSweepJob } from './webhook.jobs.js';
export { DELIVER_JOB, RELAY_JOB, SWEEP_JOB, WebhookDispatcher, deliverJobId, type DeliverJobData } from './webhook-dispatch.js';
export { WebhookError, WebhookErrorCode } from './webhook.errors.js';
export {
  ENDPOINT_DISABLED_EVENT,
  PING_EVENT_TYPE,
  WEBHOOK_EVENT_TYPES,
  endpointDisabledEvent,
  messageIdForEvent,
  type DisabledReason,
  type WebhookEventType,
  type WebhookMessage,
} from './webhook.events.js';
export { mintWebhookSecret, WEBHOOK_SECRET, WebhookSecretBox } from './webhook-secrets.js';
export { signatureHeaders, WebhookSigner, type SignedHeaders } from './webhook-signature.js';
export { nextDelayMs, retrySchedule } from './webhook-retry.js';
export type {
  DeliveryStatus,
  NewWebhookEndpoint,
  PageRequest,
  WebhookAttemptView,
  WebhookDeliveryDetail,
  WebhookDeliveryView,
  WebhookEndpointPatch,
  WebhookEndpointView,
  WithWebhookSecret,
} from './webhook.types.js';

export { PaymentsModule } from './payments.module.js';
export { PaymentsService, DEDUPE_TTL_S, dedupeKeyOf } from './payments.service.js';
export { PaymentWebhookVerifier, SIGNATURE_TOLERANCE_S, type RefusalReason, type WebhookHeaders } from './payment-webhook.verifier.js';
export { PaymentsError, PaymentsErrorCode } from './payment.errors.js';
export {
  PAYMENT_EVENT_TYPES,
  PAYMENT_PROVIDER,
  PAYMENT_REJECTIONS,
  type PaymentEventType,
  type PaymentOutcome,
  type PaymentReceipt,
  type PaymentRejection,
  type PaymentRequestMeta,
  type ProviderPaymentEvent,
  type VerifiedDelivery,
} from './payment.types.js';

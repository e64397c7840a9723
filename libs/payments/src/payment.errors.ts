import { defineErrors } from '@benteng/common';

export enum PaymentsErrorCode {
  MalformedDelivery = 'payments.malformed_delivery',
  Unverified = 'payments.unverified',
  InFlight = 'payments.in_flight',
  Retry = 'payments.retry',
}

export class PaymentsError extends defineErrors<PaymentsErrorCode>({
  [PaymentsErrorCode.MalformedDelivery]: { kind: 'invalid', message: 'The request is not a webhook delivery: the webhook-id, webhook-timestamp and webhook-signature headers are required.' },
  // One sentence for every reason (bad signature, wrong secret, stale or future timestamp):
  // the caller learns nothing about which check failed. The reason is logged.
  [PaymentsErrorCode.Unverified]: { kind: 'unauthenticated', message: 'The webhook signature could not be verified.' },
  [PaymentsErrorCode.InFlight]: { kind: 'conflict', message: 'This message is being processed. Retry the delivery later.' },
  [PaymentsErrorCode.Retry]: { kind: 'conflict', message: 'The invoice changed while the payment was applied. Retry the delivery.' },
}) {}

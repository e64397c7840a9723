import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum PaymentsErrorCode {
  MalformedDelivery = 'payments.malformed_delivery',
  Unverified = 'payments.unverified',
  InFlight = 'payments.in_flight',
  Retry = 'payments.retry',
}

function describe(code: PaymentsErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case PaymentsErrorCode.MalformedDelivery:
      return { kind: 'invalid', message: 'The request is not a webhook delivery: the webhook-id, webhook-timestamp and webhook-signature headers are required.' };
    case PaymentsErrorCode.Unverified:
      // One sentence for every reason (bad signature, wrong secret, stale or future timestamp):
      // the caller learns nothing about which check failed. The reason is logged.
      return { kind: 'unauthenticated', message: 'The webhook signature could not be verified.' };
    case PaymentsErrorCode.InFlight:
      return { kind: 'conflict', message: 'This message is being processed. Retry the delivery later.' };
    case PaymentsErrorCode.Retry:
      return { kind: 'conflict', message: 'The invoice changed while the payment was applied. Retry the delivery.' };
    default:
      return assertUnreachable(code);
  }
}

export class PaymentsError extends DomainError<PaymentsErrorCode> {
  readonly kind: DomainErrorKind;

  constructor(code: PaymentsErrorCode) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
  }
}

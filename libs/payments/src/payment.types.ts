/** The simulated payment provider whose webhooks this deployment accepts. */
export const PAYMENT_PROVIDER = 'simpay';

/** Event types the provider sends that Benteng acts on. */
export const PAYMENT_EVENT_TYPES = ['payment.succeeded'] as const;
export type PaymentEventType = (typeof PAYMENT_EVENT_TYPES)[number];

/** A provider event, as validated at the edge (the body of the delivery). */
export interface ProviderPaymentEvent {
  type: PaymentEventType;
  data: {
    /** The provider's merchant account: decides the tenant (payments_tenant_for_account). */
    account_id: string;
    invoice_id: string;
    /** Integer minor units, as decimal digits (no floats near money). */
    amount_minor: string;
    currency: string;
  };
}

/** A delivery whose Standard Webhooks signature verified: its message id and signed timestamp. */
export interface VerifiedDelivery {
  id: string;
  timestamp: Date;
}

/** Why a verified event changed nothing. */
export const PAYMENT_REJECTIONS = ['invoice_not_found', 'not_payable', 'already_paid', 'amount_mismatch'] as const;
export type PaymentRejection = (typeof PAYMENT_REJECTIONS)[number];

/** What happened to one message, as stored in payment_events.outcome. */
export type PaymentOutcome = 'paid' | PaymentRejection;

/**
 * The answer to the provider. Every settled message is a 200: the provider retries anything else
 * (and may disable the endpoint after enough failures), and no retry can change these answers.
 */
export type PaymentReceipt = { status: 'paid' } | { status: 'duplicate' } | { status: 'ignored' } | { status: 'rejected'; reason: PaymentRejection };

/** Request facts kept with the audit event. */
export interface PaymentRequestMeta {
  ip: string;
  requestId?: string;
}

import { IsIn, IsUUID, Matches } from 'class-validator';
import { PAYMENT_EVENT_TYPES, type PaymentEventType } from '@benteng/payments';
import { NestedObject } from '../../http/nested.decorator.js';

/** What a `payment.succeeded` event says was paid, and to which merchant account. */
export class PaymentEventDataDto {
  @Matches(/^acct_[A-Za-z0-9_]{1,64}$/, { message: 'must be a provider account id (acct_…)' })
  account_id!: string;

  @IsUUID('all')
  invoice_id!: string;

  /** Integer minor units as decimal digits: no floats near money, no bigint precision loss. */
  @Matches(/^(0|[1-9][0-9]{0,18})$/, { message: 'must be a non-negative integer amount in minor units, as a string' })
  amount_minor!: string;

  @Matches(/^[A-Z]{3}$/, { message: 'must be an ISO 4217 currency code' })
  currency!: string;
}

/**
 * The body of a provider delivery. Validated as strictly as any other input (unknown fields are
 * 400), but only after the signature over its bytes verified: an unsigned body is never looked at.
 */
export class PaymentEventDto {
  @IsIn(PAYMENT_EVENT_TYPES)
  type!: PaymentEventType;

  @NestedObject(() => PaymentEventDataDto)
  data!: PaymentEventDataDto;
}

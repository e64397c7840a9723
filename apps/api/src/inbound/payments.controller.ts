import { Body, Controller, Header, HttpCode, Post, UseGuards } from '@nestjs/common';
import type { RequestMeta } from '@benteng/auth';
import { PaymentsService, type PaymentReceipt, type VerifiedDelivery } from '@benteng/payments';
import { Anonymous, RateLimit } from '../http/access.decorator.js';
import { Meta } from '../http/request-auth.js';
import { PaymentEventDto } from './dto/payment-event.dto.js';
import { PaymentSignatureGuard, SignedDelivery } from './payment-signature.guard.js';
import { KeepRawBody } from './raw-body.js';

/**
 * Webhooks the payment provider sends us (Standard Webhooks). No tenant credential exists here:
 * the tenant follows from the provider account named in the signed event (PaymentsService).
 *
 * Answers: 200 `{status}` for every message that verified and validated (paid, duplicate, ignored,
 * rejected with a reason), since the provider retries anything else; 400 without the webhook
 * headers or with an invalid body; 401 when the signature does not verify; 409 while the same
 * message is in flight; 503 when no secret is configured.
 */
@Controller('webhooks/inbound')
export class InboundPaymentsController {
  constructor(private readonly payments: PaymentsService) {}

  @Post('payments')
  @HttpCode(200)
  @Anonymous('signed by the payment provider (Standard Webhooks); the signature is the credential', { credential: 'webhook-signature' })
  @RateLimit('auth')
  @KeepRawBody()
  @UseGuards(PaymentSignatureGuard)
  @Header('cache-control', 'no-store')
  receive(@SignedDelivery() delivery: VerifiedDelivery, @Body() event: PaymentEventDto, @Meta() meta: RequestMeta): Promise<PaymentReceipt> {
    return this.payments.receive(delivery, event, meta);
  }
}

import { Module } from '@nestjs/common';
import { PaymentsModule } from '@benteng/payments';
import { PaymentSignatureGuard } from './payment-signature.guard.js';
import { InboundPaymentsController } from './payments.controller.js';

/**
 * Inbound webhooks: /webhooks/inbound/*, sent by third parties we integrate with and authenticated
 * by their signatures, not by any tenant credential (the `inbound` surface of the route catalog).
 */
@Module({
  imports: [PaymentsModule],
  controllers: [InboundPaymentsController],
  providers: [PaymentSignatureGuard],
})
export class InboundModule {}

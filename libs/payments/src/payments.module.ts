import { Module } from '@nestjs/common';
import { InvoicesModule } from '@benteng/invoices';
import { PaymentWebhookVerifier } from './payment-webhook.verifier.js';
import { PaymentsRepository } from './payments.repository.js';
import { PaymentsService } from './payments.service.js';

/** Inbound payment events: provider signature verification, account → tenant, invoice settlement. */
@Module({
  imports: [InvoicesModule],
  providers: [PaymentWebhookVerifier, PaymentsRepository, PaymentsService],
  exports: [PaymentWebhookVerifier, PaymentsService],
})
export class PaymentsModule {}

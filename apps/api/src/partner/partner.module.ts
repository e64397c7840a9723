import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { DocumentsModule } from '@benteng/documents';
import { IdempotencyModule } from '@benteng/idempotency';
import { InvoicesModule } from '@benteng/invoices';
import { TicketsModule } from '@benteng/tickets';
import { IdempotencyInterceptor } from '../http/idempotency.js';
import { PartnerDocumentsController } from './documents.controller.js';
import { PartnerInvoicesController } from './invoices.controller.js';
import { PartnerTicketsController } from './tickets.controller.js';
import { PartnerTokenController } from './token.controller.js';

/**
 * The partner surface: /partner/v1 for partner clients (API key or client-credentials token,
 * authenticated and authorized by AccessGuard from @PartnerAuthorize), and the token endpoint
 * /partner/oauth/token. Its own DTOs and response shapes, narrower than /v1's.
 *
 * The token endpoint's application/x-www-form-urlencoded bodies (RFC 6749) need no plugin: the
 * Nest Fastify adapter registers a urlencoded parser for the application (fast-querystring).
 */
@Module({
  imports: [AuthModule, InvoicesModule, TicketsModule, DocumentsModule, IdempotencyModule],
  controllers: [PartnerTokenController, PartnerInvoicesController, PartnerTicketsController, PartnerDocumentsController],
  providers: [IdempotencyInterceptor],
})
export class PartnerModule {}

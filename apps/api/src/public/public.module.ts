import { Module } from '@nestjs/common';
import { AuthModule } from '@benteng/auth';
import { DocumentsModule } from '@benteng/documents';
import { ExportsModule } from '@benteng/exports';
import { PrivacyModule } from '@benteng/privacy';
import { IdempotencyModule } from '@benteng/idempotency';
import { InvoicesModule } from '@benteng/invoices';
import { MembersModule } from '@benteng/members';
import { PartnersModule } from '@benteng/partners';
import { TicketsModule } from '@benteng/tickets';
import { WebhooksModule } from '@benteng/webhooks';
import { IdempotencyInterceptor } from '../http/idempotency.js';
import { SingleFileUploadInterceptor } from '../http/single-file-upload.interceptor.js';
import { AuthController } from './auth.controller.js';
import { DocumentsController } from './documents.controller.js';
import { ExportsController } from './exports.controller.js';
import { PrivacyController } from './privacy.controller.js';
import { InvitationsController } from './invitations.controller.js';
import { InvoicesController } from './invoices.controller.js';
import { InvoiceResponses } from './invoice.response.js';
import { MeController } from './me.controller.js';
import { MembersController } from './members.controller.js';
import { PartnerClientsController } from './partner-clients.controller.js';
import { PartnerSigningKeysController } from './partner-signing-keys.controller.js';
import { RevealOnceInterceptor } from '../http/reveal-once.js';
import { SecurityBlocksController } from './security-blocks.controller.js';
import { SessionsController } from './sessions.controller.js';
import { TicketsController } from './tickets.controller.js';
import { WebhookEndpointsController } from './webhook-endpoints.controller.js';
import { WellKnownController } from './well-known.controller.js';

/** The public surface, /v1: tenant users with short-lived access tokens. */
@Module({
  imports: [AuthModule, MembersModule, InvoicesModule, TicketsModule, DocumentsModule, PartnersModule, WebhooksModule, ExportsModule, PrivacyModule, IdempotencyModule],
  controllers: [
    AuthController,
    MeController,
    SessionsController,
    MembersController,
    InvitationsController,
    InvoicesController,
    TicketsController,
    DocumentsController,
    ExportsController,
    PrivacyController,
    PartnerClientsController,
    PartnerSigningKeysController,
    SecurityBlocksController,
    WellKnownController,
    WebhookEndpointsController,
  ],
  providers: [IdempotencyInterceptor, SingleFileUploadInterceptor, RevealOnceInterceptor, InvoiceResponses],
})
export class PublicModule {}

import { Module } from '@nestjs/common';
import { PlatformAuditModule } from '@benteng/audit';
import { JobsModule } from '@benteng/jobs';
import { SafeHttpClient } from '@benteng/security';
import { OutboxRelayLoop } from './outbox-relay-loop.js';
import { WebhookDeliverBatchHandler } from './webhook-deliver-batch.handler.js';
import { WebhookDeliverHandler } from './webhook-deliver.handler.js';
import { WebhookDeliveriesRepository } from './webhook-deliveries.repository.js';
import { WebhookDeliveryLogService } from './webhook-delivery-log.service.js';
import { WebhookDeliveryService } from './webhook-delivery.service.js';
import { WebhookDispatcher } from './webhook-dispatch.js';
import { WebhookEndpointsRepository } from './webhook-endpoints.repository.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';
import { WebhookRelayService } from './webhook-relay.service.js';
import { WebhookSecretBox } from './webhook-secret-box.js';
import { DataReencryptionHandler, WebhookSecretReencryption } from './webhook-secret-reencryption.js';
import { WebhookSecretsService } from './webhook-secrets.service.js';
import { WebhookSigner } from './webhook-signer.js';
import { WebhookSweepHandler } from './webhook-sweep.handler.js';

/**
 * Webhook endpoint management for the API (/v1/webhook-endpoints): endpoints, their signing
 * secrets, their delivery log. SafeHttpClient is provided here (it needs only the config), so its
 * save-time URL checks do not depend on which other modules an application imports.
 */
@Module({
  imports: [JobsModule.forProducer()],
  providers: [
    WebhookEndpointsService,
    WebhookSecretsService,
    WebhookDeliveryLogService,
    WebhookEndpointsRepository,
    WebhookDeliveriesRepository,
    WebhookSecretBox,
    WebhookDispatcher,
    SafeHttpClient,
  ],
  exports: [WebhookEndpointsService, WebhookSecretsService, WebhookDeliveryLogService],
})
export class WebhooksModule {}

/**
 * The worker side: the delivery job handler, the sweeper and the outbox relay loop. Pass it to
 * JobsWorkerModule.register in the worker's imports (JobsWorkerModule provides JobQueue globally).
 */
@Module({
  imports: [PlatformAuditModule],
  providers: [
    WebhookSecretBox,
    WebhookSecretReencryption,
    DataReencryptionHandler,
    WebhookDispatcher,
    SafeHttpClient,
    WebhookSigner,
    WebhookDeliveriesRepository,
    WebhookDeliveryService,
    WebhookRelayService,
    WebhookDeliverHandler,
    WebhookDeliverBatchHandler,
    WebhookSweepHandler,
    OutboxRelayLoop,
  ],
})
export class WebhooksWorkerModule {}

import { Module } from '@nestjs/common';
import { JobsModule } from '@benteng/jobs';
import { SafeHttpClient } from '@benteng/security';
import { WebhookDeliveryService } from './webhook-delivery.service.js';
import { WebhookDispatcher } from './webhook-dispatch.js';
import { WebhookEndpointsService } from './webhook-endpoints.service.js';
import { OutboxRelayLoop, WebhookDeliverJob, WebhookSweepJob } from './webhook.jobs.js';
import { WebhookRelayService } from './webhook-relay.service.js';
import { WebhookSecretBox } from './webhook-secrets.js';
import { WebhookSigner } from './webhook-signature.js';

/**
 * Webhook endpoint management for the API (/v1/webhook-endpoints). SafeHttpClient is provided
 * here (it needs only the config), so its save-time URL checks do not depend on which other
 * modules an application imports.
 */
@Module({
  imports: [JobsModule.forProducer()],
  providers: [WebhookEndpointsService, WebhookSecretBox, WebhookDispatcher, SafeHttpClient],
  exports: [WebhookEndpointsService],
})
export class WebhooksModule {}

/**
 * The worker side: the delivery job handler, the sweeper and the outbox relay loop. Pass it to
 * JobsWorkerModule.register in the worker's imports (JobsWorkerModule provides JobQueue globally).
 */
@Module({
  providers: [WebhookSecretBox, WebhookDispatcher, SafeHttpClient, WebhookSigner, WebhookDeliveryService, WebhookRelayService, WebhookDeliverJob, WebhookSweepJob, OutboxRelayLoop],
})
export class WebhooksWorkerModule {}

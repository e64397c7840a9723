import { Injectable } from '@nestjs/common';
import { AppConfig } from '@benteng/config';
import { PlatformJob, type PlatformJobHandler } from '@benteng/jobs';
import { SWEEP_JOB } from './webhook-dispatch.js';
import { WebhookRelayService } from './webhook-relay.service.js';

/** How often the sweeper looks for deliveries whose job was lost. */
export const SWEEP_INTERVAL_MS = 30_000;

/** `webhooks.sweep`, every SWEEP_INTERVAL_MS: re-queues deliveries whose job was lost. */
@Injectable()
@PlatformJob(SWEEP_JOB, { everyMs: SWEEP_INTERVAL_MS })
export class WebhookSweepHandler implements PlatformJobHandler {
  constructor(
    private readonly relay: WebhookRelayService,
    private readonly config: AppConfig,
  ) {}

  async handle(): Promise<void> {
    if (this.config.OUTBOX_RELAY_ENABLED) await this.relay.sweep();
  }
}


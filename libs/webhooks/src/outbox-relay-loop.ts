import { Injectable, OnApplicationBootstrap, OnModuleDestroy } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AppConfig } from '@benteng/config';
import { RELAY_BATCH, WebhookRelayService } from './webhook-relay.service.js';

/** Longest pause of the relay loop after repeated errors (database or Redis down). */
const MAX_RELAY_BACKOFF_MS = 30_000;

/**
 * The outbox relay runs as a loop in every worker process rather than as a BullMQ repeatable job:
 * OUTBOX_POLL_INTERVAL_MS goes down to 50 ms (the event-to-webhook latency), while job schedulers
 * run at most once a second and would add a Redis round trip and a job record per poll. Several
 * workers polling at once is safe and cheap: each event is published under a row lock taken with
 * SKIP LOCKED and only while `published_at IS NULL`, so exactly one relay publishes it and the
 * others pass over it. A full batch polls again at once; errors back off, up to 30 s.
 */
@Injectable()
export class OutboxRelayLoop implements OnApplicationBootstrap, OnModuleDestroy {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = false;
  private failures = 0;
  private readonly intervalMs: number;
  private readonly enabled: boolean;

  constructor(
    private readonly relay: WebhookRelayService,
    config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.intervalMs = config.OUTBOX_POLL_INTERVAL_MS;
    this.enabled = config.OUTBOX_RELAY_ENABLED;
    this.logger.setContext(OutboxRelayLoop.name);
  }

  onApplicationBootstrap(): void {
    if (this.enabled) this.next(0);
    else this.logger.info('outbox relay disabled (OUTBOX_RELAY_ENABLED=false)');
  }

  /** Stops polling and waits for the batch in progress, before the database connection closes. */
  async onModuleDestroy(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.running;
  }

  private next(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => (this.running = undefined));
    }, delayMs);
  }

  private async tick(): Promise<void> {
    let delayMs = this.intervalMs;
    try {
      const offered = await this.relay.relayBatch();
      this.failures = 0;
      if (offered >= RELAY_BATCH) delayMs = 0;
    } catch (error) {
      this.failures++;
      delayMs = Math.min(this.intervalMs * 2 ** this.failures, MAX_RELAY_BACKOFF_MS);
      this.logger.error({ err: error, retryInMs: delayMs }, 'outbox relay failed');
    }
    this.next(delayMs);
  }
}

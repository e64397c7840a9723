import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { EgressError, SafeHttpClient } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { verdictOf, type RetryPolicy } from './webhook-attempt-plan.js';
import { WebhookDeliveriesRepository, type AttemptResult, type BatchItem, type ClaimedAttempt, type BatchSuccess } from './webhook-deliveries.repository.js';
import { WebhookDispatcher } from './webhook-dispatch.js';
import { retrySchedule } from './webhook-retry.js';
import { WebhookSecretBox } from './webhook-secret-box.js';
import { WebhookSigner } from './webhook-signer.js';

/** The delivery log keeps this much of a receiver's answer, bytes of UTF-8. */
export const RESPONSE_EXCERPT_MAX_BYTES = 1024;
/** How long past its timeout a claimed attempt counts as in flight before the sweeper may try again. */
const LEASE_SLACK_MS = 30_000;
const USER_AGENT = 'Benteng-Webhooks/1.0';
/**
 * Requests of one batch in flight at once, to its one endpoint: enough to hide the round trip of a
 * receiver that answers in a few ms, few enough not to flood one receiver from one job.
 */
export const BATCH_SENDS_IN_FLIGHT = 8;

export type DeliverOutcome = 'succeeded' | 'retrying' | 'failed' | 'endpoint_disabled' | 'superseded' | 'skipped';

type ClaimedEndpoint = ClaimedAttempt['endpoint'];

interface Claim {
  attempt: number;
  endpointId: string;
  url: string;
  messageId: string;
  body: string;
  /** null: the stored secret could not be decrypted (its DATA_ENCRYPTION_KEYS key was removed). */
  secrets: string[] | null;
}

/**
 * One attempt of a webhook delivery, as the `webhooks.deliver` job runs it in the delivery's tenant
 * (scope: system principal `webhooks`):
 *
 * 1. **Claim** (one short transaction, delivery row locked): a delivery that is gone, no longer
 *    pending, or whose attempt `attempt` was already claimed is left alone. That is what makes
 *    the job idempotent: BullMQ runs a job at least once, and a second run of an attempt, or a
 *    stale duplicate job, finds the attempt claimed and sends nothing. A delivery whose endpoint
 *    is disabled is held (no next attempt time) until the endpoint is enabled again. Otherwise the
 *    attempt counter moves on and the next attempt time becomes a lease (timeout plus slack), so
 *    the sweeper leaves an attempt in flight alone.
 * 2. **Send**, outside any transaction: Standard Webhooks headers signed with the current secret
 *    (and, during a rotation window, the previous one too), POSTed through SafeHttpClient, which
 *    refuses private addresses at connect time. No response at all (refused address, timeout, DNS,
 *    TLS) is a failed attempt whose `error` is the fixed reason, never an address.
 * 3. **Record** (one transaction, endpoint then delivery locked): the attempt's log row, then
 *    2xx: succeeded, and the endpoint's failure streak ends; 410 Gone: the delivery fails and the
 *    endpoint is disabled (`gone`); anything else: the next attempt per WEBHOOK_RETRY_SCHEDULE_S,
 *    or failed when the schedule is exhausted, and an endpoint that has failed without a success
 *    for WEBHOOK_DISABLE_AFTER_S is disabled (`failing`). A disable emits the outbox event
 *    `webhook_endpoint.disabled` (for the tenant's other endpoints) and is audited. The next
 *    attempt is queued after the commit; if that enqueue is lost, the sweeper finds it due.
 */
@Injectable()
export class WebhookDeliveryService {
  private readonly policy: RetryPolicy;

  constructor(
    private readonly deliveries: WebhookDeliveriesRepository,
    private readonly box: WebhookSecretBox,
    private readonly egress: SafeHttpClient,
    private readonly dispatcher: WebhookDispatcher,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
    private readonly signer: WebhookSigner,
  ) {
    this.policy = { schedule: retrySchedule(config.WEBHOOK_RETRY_SCHEDULE_S), disableAfterMs: config.WEBHOOK_DISABLE_AFTER_S * 1000 };
    this.logger.setContext(WebhookDeliveryService.name);
  }

  /** `requestId`: the job's, so an endpoint disabled by this attempt is audited under the id that caused the delivery. */
  async deliver(scope: Scope, deliveryId: string, attempt: number, requestId?: string): Promise<DeliverOutcome> {
    const claim = await this.claim(scope, deliveryId, attempt);
    if (typeof claim === 'string') {
      // `deliveryAttempt`: the delivery's attempt number; the job's own `attempt` is bound by the processor.
      this.logger.info({ deliveryId, deliveryAttempt: attempt, outcome: claim }, 'webhook attempt not made');
      return claim === 'held' ? 'endpoint_disabled' : 'skipped';
    }
    const result = await this.send(claim);
    return this.record(scope, deliveryId, claim, result, requestId);
  }

  /** Records one attempt's result (recordAttempt), logs it and queues the next attempt after the commit. */
  private async record(scope: Scope, deliveryId: string, claim: Claim, result: AttemptResult, requestId: string | undefined): Promise<DeliverOutcome> {
    const { outcome, retry, disabled } = await this.deliveries.recordAttempt(scope, deliveryId, claim, result, this.clock.now(), this.policy, requestId);
    if (disabled) this.logger.warn({ endpointId: claim.endpointId, reason: disabled }, 'webhook endpoint disabled');
    this.logger.info(
      {
        deliveryId,
        endpointId: claim.endpointId,
        deliveryAttempt: claim.attempt,
        outcome,
        latencyMs: result.latencyMs,
        ...(result.kind === 'response' ? { statusCode: result.statusCode } : { error: result.error }),
      },
      'webhook attempt made',
    );
    if (retry) {
      try {
        await this.dispatcher.attempt(scope.tenantId, deliveryId, retry.attempt, retry.delayMs);
      } catch (error) {
        this.logger.warn({ err: error, deliveryId }, 'next webhook attempt not queued; the sweeper will queue it');
      }
    }
    return outcome;
  }

  /**
   * First attempts of many deliveries to one endpoint, as one `webhooks.deliver-batch` job: one
   * claim statement for all (claimBatch: the same rules as `claim`, row by row), the endpoint's
   * secrets opened once, every message signed and sent on its own (BATCH_SENDS_IN_FLIGHT at a
   * time), then the successes recorded in one transaction (recordSuccesses) and every other answer
   * through recordAttempt, exactly as a single attempt, with its retry queued after the commit.
   * Resolves with the outcome per delivery.
   */
  async deliverBatch(scope: Scope, endpointId: string, items: readonly BatchItem[], requestId?: string): Promise<Map<string, DeliverOutcome>> {
    const now = this.clock.now();
    const lease = new Date(now.getTime() + this.config.WEBHOOK_TIMEOUT_MS + LEASE_SLACK_MS);
    const batch = await this.deliveries.claimBatch(scope, endpointId, items, now, lease);
    const outcomes = new Map<string, DeliverOutcome>();
    for (const { deliveryId, reason } of batch.refused) outcomes.set(deliveryId, reason === 'held' ? 'endpoint_disabled' : 'skipped');
    if (batch.refused.length > 0) this.logger.info({ endpointId, refused: batch.refused }, 'webhook attempts not made');
    if (batch.claimed.length === 0 || !batch.endpoint) return outcomes;
    const secrets = this.openSecrets(scope, endpointId, batch.endpoint, now);
    const claims: Claim[] = batch.claimed.map((c) => ({ attempt: c.number, endpointId, url: batch.endpoint!.url, messageId: c.messageId, body: JSON.stringify(c.payload), secrets }));

    const results: AttemptResult[] = new Array(claims.length);
    let next = 0;
    const lane = async () => {
      while (next < claims.length) {
        const i = next++;
        results[i] = await this.send(claims[i]!);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_SENDS_IN_FLIGHT, claims.length) }, lane));

    const successes: BatchSuccess[] = [];
    const others: number[] = [];
    claims.forEach((claim, i) => {
      const result = results[i]!;
      if (result.kind === 'response' && verdictOf(result.statusCode) === 'success') {
        successes.push({ deliveryId: batch.claimed[i]!.deliveryId, attempt: claim.attempt, statusCode: result.statusCode, latencyMs: result.latencyMs, excerpt: result.excerpt });
      } else others.push(i);
    });
    const recorded = await this.deliveries.recordSuccesses(scope, endpointId, successes, this.clock.now());
    for (const s of successes) outcomes.set(s.deliveryId, 'succeeded');
    for (const s of successes) if (!recorded.includes(s.deliveryId)) outcomes.set(s.deliveryId, 'skipped');
    for (const i of others) {
      const deliveryId = batch.claimed[i]!.deliveryId;
      outcomes.set(deliveryId, await this.record(scope, deliveryId, claims[i]!, results[i]!, requestId));
    }
    this.logger.info({ endpointId, attempts: claims.length, succeeded: recorded.length, failed: others.length }, 'webhook batch attempts made');
    return outcomes;
  }

  private async claim(scope: Scope, deliveryId: string, attempt: number): Promise<Claim | 'missing' | 'not_pending' | 'already_claimed' | 'held'> {
    const now = this.clock.now();
    const lease = new Date(now.getTime() + this.config.WEBHOOK_TIMEOUT_MS + LEASE_SLACK_MS);
    const claimed = await this.deliveries.claim(scope, deliveryId, attempt, now, lease);
    if (typeof claimed === 'string') return claimed;
    const { number, delivery, endpoint } = claimed;
    const secrets = this.openSecrets(scope, delivery.endpointId, endpoint, now);
    return { attempt: number, endpointId: delivery.endpointId, url: endpoint.url, messageId: delivery.messageId, body: JSON.stringify(delivery.payload), secrets };
  }

  /** The endpoint's current secret and, inside its rotation window, the previous one; null when they cannot be decrypted. */
  private openSecrets(scope: Scope, endpointId: string, endpoint: ClaimedEndpoint, now: Date): string[] | null {
    try {
      const secrets = [this.box.open(endpoint.secretCiphertext, scope.tenantId, endpointId)];
      if (endpoint.previousSecretCiphertext && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt.getTime() > now.getTime()) {
        secrets.push(this.box.open(endpoint.previousSecretCiphertext, scope.tenantId, endpointId));
      }
      return secrets;
    } catch (error) {
      this.logger.error({ err: error, endpointId }, 'webhook secret cannot be decrypted: check DATA_ENCRYPTION_KEYS');
      return null;
    }
  }

  /**
   * Never an unsigned message: without its secret, the attempt fails (`secret_unavailable`) and
   * follows the retry schedule like any other failure, so the delivery ends failed instead of
   * being re-queued forever.
   */
  private async send(claim: Claim): Promise<AttemptResult> {
    if (!claim.secrets) return { kind: 'error', error: 'secret_unavailable', latencyMs: 0 };
    const headers = {
      ...this.signer.sign(claim.messageId, this.clock.now(), claim.body, claim.secrets),
      'content-type': 'application/json',
      'user-agent': USER_AGENT,
    };
    const started = performance.now();
    try {
      const response = await this.egress.post(claim.url, claim.body, headers, {
        timeoutMs: this.config.WEBHOOK_TIMEOUT_MS,
        // Only the excerpt is kept: reading more would be wasted.
        maxBytes: Math.min(this.config.WEBHOOK_RESPONSE_MAX_BYTES, RESPONSE_EXCERPT_MAX_BYTES),
      });
      return { kind: 'response', statusCode: response.status, latencyMs: response.latencyMs, excerpt: excerptOf(response.body) };
    } catch (error) {
      const latencyMs = Math.round(performance.now() - started);
      if (error instanceof EgressError) return { kind: 'error', error: error.reason, latencyMs };
      this.logger.error({ err: error, endpointId: claim.endpointId }, 'webhook attempt failed unexpectedly');
      return { kind: 'error', error: 'internal', latencyMs };
    }
  }
}

/**
 * At most RESPONSE_EXCERPT_MAX_BYTES of the receiver's answer, cut on a character boundary.
 * U+0000 is dropped: PostgreSQL text cannot hold it, and a receiver must not be able to make the
 * log write fail.
 */
export function excerptOf(body: string): string {
  const clean = body.replaceAll('\u0000', '');
  const bytes = Buffer.from(clean, 'utf8');
  if (bytes.length <= RESPONSE_EXCERPT_MAX_BYTES) return clean;
  return new TextDecoder('utf-8').decode(bytes.subarray(0, RESPONSE_EXCERPT_MAX_BYTES), { stream: true });
}

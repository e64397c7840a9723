import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { accessibleWhere, principalId } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { appendDomainEvent, TenantDatabase, type Prisma, type TenantTx } from '@benteng/database';
import { EgressError, SafeHttpClient } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { WebhookDispatcher } from './webhook-dispatch.js';
import { endpointDisabledEvent, type DisabledReason } from './webhook.events.js';
import { nextDelayMs, retrySchedule } from './webhook-retry.js';
import { WebhookSecretBox } from './webhook-secrets.js';
import { WebhookSigner } from './webhook-signature.js';
import type { DeliveryStatus } from './webhook.types.js';

/** The delivery log keeps this much of a receiver's answer, bytes of UTF-8. */
export const RESPONSE_EXCERPT_MAX_BYTES = 1024;
/** How long past its timeout a claimed attempt counts as in flight before the sweeper may try again. */
const LEASE_SLACK_MS = 30_000;
const USER_AGENT = 'Benteng-Webhooks/1.0';

/** What one attempt came to: a response (any status) or no response at all, with a fixed reason. */
export type AttemptResult =
  | { kind: 'response'; statusCode: number; latencyMs: number; excerpt: string }
  | { kind: 'error'; error: string; latencyMs: number };

export type DeliverOutcome = 'succeeded' | 'retrying' | 'failed' | 'endpoint_disabled' | 'superseded' | 'skipped';

/** The claim statement's row: the delivery, its endpoint (null columns: no such endpoint) and whether it was written. */
interface ClaimRow {
  endpoint_id: string;
  message_id: string;
  payload: unknown;
  status: string;
  attempts: number;
  url: string | null;
  enabled: boolean | null;
  secret_ciphertext: string | null;
  previous_secret_ciphertext: string | null;
  previous_secret_expires_at: Date | null;
  written: number;
}

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
  private readonly schedule: number[];

  constructor(
    private readonly db: TenantDatabase,
    private readonly box: WebhookSecretBox,
    private readonly egress: SafeHttpClient,
    private readonly dispatcher: WebhookDispatcher,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
    private readonly signer: WebhookSigner,
  ) {
    this.schedule = retrySchedule(config.WEBHOOK_RETRY_SCHEDULE_S);
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
    const { outcome, retry } = await this.record(scope, deliveryId, claim, result, requestId);
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

  private async claim(scope: Scope, deliveryId: string, attempt: number): Promise<Claim | 'missing' | 'not_pending' | 'already_claimed' | 'held'> {
    const now = this.clock.now();
    const lease = new Date(now.getTime() + this.config.WEBHOOK_TIMEOUT_MS + LEASE_SLACK_MS);
    this.assertMay(scope, 'update', 'WebhookDelivery');
    this.assertMay(scope, 'read', 'WebhookEndpoint');
    const tenantId = scope.tenantId;
    const claimed = await this.db.run(scope, async (tx) => {
      // One statement (hot path: it was a lock, two reads and an update): lock the delivery, read
      // it with its endpoint, and, when the attempt is still to be made, either claim it (attempt
      // counter + lease) or hold it (endpoint disabled: no next attempt time). A second claim of
      // the same attempt waits for the lock and then sees the counter already moved on.
      const [row] = await tx.$queryRaw<ClaimRow[]>`
        WITH d AS (
          SELECT id, endpoint_id, message_id, payload, status, attempts
            FROM webhook_deliveries
           WHERE tenant_id = ${tenantId}::uuid AND id = ${deliveryId}::uuid
             FOR UPDATE
        ), e AS (
          SELECT url, enabled, secret_ciphertext, previous_secret_ciphertext, previous_secret_expires_at
            FROM webhook_endpoints
           WHERE tenant_id = ${tenantId}::uuid AND id = (SELECT endpoint_id FROM d)
        ), u AS (
          UPDATE webhook_deliveries w
             SET attempts = CASE WHEN e.enabled THEN d.attempts + 1 ELSE w.attempts END,
                 next_attempt_at = CASE WHEN e.enabled THEN ${lease}::timestamptz ELSE NULL END,
                 updated_at = ${now}::timestamptz
            FROM d, e
           WHERE w.tenant_id = ${tenantId}::uuid AND w.id = d.id AND d.status = 'pending' AND d.attempts < ${attempt}::int
          RETURNING w.id
        )
        SELECT d.endpoint_id::text AS endpoint_id, d.message_id, d.payload, d.status, d.attempts,
               e.url, e.enabled, e.secret_ciphertext, e.previous_secret_ciphertext, e.previous_secret_expires_at,
               (SELECT count(*) FROM u)::int AS written
          FROM d LEFT JOIN e ON true`;
      if (!row) return 'missing' as const;
      if (row.status !== ('pending' satisfies DeliveryStatus)) return 'not_pending' as const;
      if (row.attempts >= attempt) return 'already_claimed' as const;
      if (row.url === null) return 'missing' as const;
      if (!row.enabled) return 'held' as const;
      if (row.written !== 1) throw new Error('webhook claim: the delivery row was not updated');
      const delivery = { endpointId: row.endpoint_id, messageId: row.message_id, payload: row.payload };
      const endpoint = {
        url: row.url,
        secretCiphertext: row.secret_ciphertext!,
        previousSecretCiphertext: row.previous_secret_ciphertext,
        previousSecretExpiresAt: row.previous_secret_expires_at,
      };
      return { number: row.attempts + 1, delivery, endpoint };
    });
    if (typeof claimed === 'string') return claimed;
    const { number, delivery, endpoint } = claimed;
    let secrets: string[] | null;
    try {
      secrets = [this.box.open(endpoint.secretCiphertext, scope.tenantId, delivery.endpointId)];
      if (endpoint.previousSecretCiphertext && endpoint.previousSecretExpiresAt && endpoint.previousSecretExpiresAt.getTime() > now.getTime()) {
        secrets.push(this.box.open(endpoint.previousSecretCiphertext, scope.tenantId, delivery.endpointId));
      }
    } catch (error) {
      this.logger.error({ err: error, endpointId: delivery.endpointId }, 'webhook secret cannot be decrypted: check DATA_ENCRYPTION_KEYS');
      secrets = null;
    }
    return { attempt: number, endpointId: delivery.endpointId, url: endpoint.url, messageId: delivery.messageId, body: JSON.stringify(delivery.payload), secrets };
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

  private async record(scope: Scope, deliveryId: string, claim: Claim, result: AttemptResult, requestId: string | undefined): Promise<{ outcome: DeliverOutcome; retry?: { attempt: number; delayMs: number } }> {
    const now = this.clock.now();
    const statusCode = result.kind === 'response' ? result.statusCode : null;
    const verdict = statusCode !== null && statusCode >= 200 && statusCode < 300 ? 'success' : statusCode === 410 ? 'gone' : 'failure';
    this.assertMay(scope, 'update', 'WebhookDelivery');
    this.assertMay(scope, 'update', 'WebhookEndpoint');
    const tenantId = scope.tenantId;
    return this.db.run(scope, async (tx) => {
      // Endpoint first, then delivery (the order this path has always taken), both locked and read
      // in one statement: the lateral subquery refers to the endpoint's row, so PostgreSQL locks
      // the endpoint before it looks at the delivery.
      const [locked] = await tx.$queryRaw<{ enabled: boolean; failing_since: Date | null; status: string | null; attempts: number | null }[]>`
        SELECT e.enabled, e.failing_since, d.status, d.attempts
          FROM (SELECT enabled, failing_since FROM webhook_endpoints WHERE tenant_id = ${tenantId}::uuid AND id = ${claim.endpointId}::uuid FOR UPDATE) e
          LEFT JOIN LATERAL (
            SELECT status, attempts FROM webhook_deliveries WHERE tenant_id = ${tenantId}::uuid AND id = ${deliveryId}::uuid AND e.enabled IS NOT NULL FOR UPDATE
          ) d ON true`;
      // Deleted with its endpoint while the attempt was in flight: nothing left to record.
      if (!locked || locked.status === null || locked.attempts === null) return { outcome: 'skipped' as const };
      const endpoint = { enabled: locked.enabled, failingSince: locked.failing_since };
      const delivery = { status: locked.status, attempts: locked.attempts };

      if (verdict === 'success') {
        // The common case in one statement: the attempt's log row, the delivery succeeded, and the
        // endpoint's failure streak (if any) ended.
        const excerpt = result.kind === 'response' ? result.excerpt : null;
        await tx.$executeRaw`
          WITH attempt AS (
            INSERT INTO webhook_attempts (tenant_id, id, delivery_id, attempt, status_code, latency_ms, error, response_excerpt, attempted_at)
            VALUES (${tenantId}::uuid, ${randomUUID()}::uuid, ${deliveryId}::uuid, ${claim.attempt}::int, ${statusCode}::int, ${result.latencyMs}::int, NULL, ${excerpt}, ${now}::timestamptz)
          ), streak AS (
            UPDATE webhook_endpoints SET failing_since = NULL, updated_at = ${now}::timestamptz
             WHERE tenant_id = ${tenantId}::uuid AND id = ${claim.endpointId}::uuid AND failing_since IS NOT NULL
          )
          UPDATE webhook_deliveries
             SET status = 'succeeded', delivered_at = ${now}::timestamptz, last_status_code = ${statusCode}::int, next_attempt_at = NULL, updated_at = ${now}::timestamptz
           WHERE tenant_id = ${tenantId}::uuid AND id = ${deliveryId}::uuid`;
        return { outcome: 'succeeded' as const };
      }

      await tx.webhookAttempt.create({
        data: {
          tenantId: scope.tenantId,
          id: randomUUID(),
          deliveryId,
          attempt: claim.attempt,
          statusCode,
          latencyMs: result.latencyMs,
          error: result.kind === 'error' ? result.error : null,
          responseExcerpt: result.kind === 'response' ? result.excerpt : null,
          attemptedAt: now,
        },
        select: { id: true },
      });
      // A newer attempt (an admin's redelivery) was claimed meanwhile: that one decides what comes next.
      const latest = delivery.status === 'pending' && delivery.attempts === claim.attempt;

      if (verdict === 'gone') {
        await this.updateDelivery(tx, scope, deliveryId, { status: 'failed', lastStatusCode: statusCode, nextAttemptAt: null, updatedAt: now });
        if (endpoint.enabled) await this.disable(tx, scope, claim.endpointId, 'gone', now, requestId);
        return { outcome: 'endpoint_disabled' as const };
      }

      const failingSince = endpoint.failingSince ?? now;
      if (!endpoint.failingSince) await this.updateEndpoint(tx, scope, claim.endpointId, { failingSince });
      const disable = endpoint.enabled && now.getTime() - failingSince.getTime() >= this.config.WEBHOOK_DISABLE_AFTER_S * 1000;
      if (!latest) return { outcome: 'superseded' as const };
      if (disable) {
        // Held, not failed: enabling the endpoint again resumes it.
        await this.updateDelivery(tx, scope, deliveryId, { lastStatusCode: statusCode, nextAttemptAt: null, updatedAt: now });
        await this.disable(tx, scope, claim.endpointId, 'failing', now, requestId);
        return { outcome: 'endpoint_disabled' as const };
      }
      const delayMs = nextDelayMs(this.schedule, claim.attempt);
      if (delayMs === null) {
        await this.updateDelivery(tx, scope, deliveryId, { status: 'failed', lastStatusCode: statusCode, nextAttemptAt: null, updatedAt: now });
        return { outcome: 'failed' as const };
      }
      await this.updateDelivery(tx, scope, deliveryId, { lastStatusCode: statusCode, nextAttemptAt: new Date(now.getTime() + delayMs), updatedAt: now });
      return { outcome: 'retrying' as const, retry: { attempt: claim.attempt + 1, delayMs } };
    });
  }

  /** The system switches an endpoint off, tells the tenant's other endpoints (outbox) and audits it. */
  private async disable(tx: TenantTx, scope: Scope, endpointId: string, reason: Exclude<DisabledReason, 'manual'>, now: Date, requestId: string | undefined): Promise<void> {
    await tx.webhookEndpoint.update({
      where: { tenantId_id: { tenantId: scope.tenantId, id: endpointId }, AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint')] },
      data: { enabled: false, disabledAt: now, disabledReason: reason, version: { increment: 1 }, updatedAt: now },
      select: { id: true },
    });
    await appendDomainEvent(tx, scope.tenantId, endpointDisabledEvent(endpointId, reason, now), now);
    await this.audit.recordIn(tx, scope.tenantId, {
      type: 'webhook.endpoint_disabled',
      outcome: 'success',
      actor: principalId(scope.principal),
      subject: `webhook_endpoint:${endpointId}`,
      ...(requestId ? { requestId } : {}),
      data: { reason },
    });
    this.logger.warn({ endpointId, reason }, 'webhook endpoint disabled');
  }

  private async updateDelivery(
    tx: TenantTx,
    scope: Scope,
    id: string,
    data: { status?: DeliveryStatus; deliveredAt?: Date; lastStatusCode: number | null; nextAttemptAt: Date | null; updatedAt: Date },
  ): Promise<void> {
    await tx.webhookDelivery.update({ where: this.writable(scope, id), data, select: { id: true } });
  }

  private async updateEndpoint(tx: TenantTx, scope: Scope, id: string, data: { failingSince: Date | null }): Promise<void> {
    await tx.webhookEndpoint.update({
      where: { tenantId_id: { tenantId: scope.tenantId, id }, AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint')] },
      data,
      select: { id: true },
    });
  }

  /**
   * The hot path's statements are plain SQL, so the CASL rule they rely on is checked here: the
   * principal may `action` this subject in its tenant (the same `{ tenantId }` condition that
   * accessibleWhere would add, and that RLS enforces again in the database).
   */
  private assertMay(scope: Scope, action: 'read' | 'update', subjectType: 'WebhookDelivery' | 'WebhookEndpoint'): void {
    if (!scope.ability.can(action, subject(subjectType, { tenantId: scope.tenantId } as never))) {
      throw new Error(`webhook delivery: the principal may not ${action} ${subjectType}`);
    }
  }

  private writable(scope: Scope, id: string): Prisma.WebhookDeliveryWhereUniqueInput {
    return { tenantId_id: { tenantId: scope.tenantId, id }, AND: [accessibleWhere(scope.ability, 'update', 'WebhookDelivery')] };
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

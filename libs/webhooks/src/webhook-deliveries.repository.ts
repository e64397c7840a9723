import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { accessibleWhere, authorize, permits, principalId } from '@benteng/authz';
import { appendDomainEvent, keysetWhere, TenantDatabase, type InTransaction, type Prisma, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { failurePlan, verdictOf, type RecordOutcome, type RetryPolicy } from './webhook-attempt-plan.js';
import { WebhookDispatcher } from './webhook-dispatch.js';
import { readableEndpoint } from './webhook-endpoints.repository.js';
import { WebhookError, WebhookErrorCode } from './webhook.errors.js';
import { ENDPOINT_DISABLED_EVENT, endpointDisabledEvent, messageIdForEvent, WEBHOOK_EVENT_TYPES, type DisabledReason, type WebhookMessage } from './webhook.events.js';
import type { DeliveryStatus, PageRequest, WebhookAttemptView } from './webhook.types.js';

export const DELIVERY_SELECT = {
  id: true,
  endpointId: true,
  messageId: true,
  eventType: true,
  eventId: true,
  status: true,
  attempts: true,
  nextAttemptAt: true,
  lastStatusCode: true,
  deliveredAt: true,
  createdAt: true,
  updatedAt: true,
} as const satisfies Prisma.WebhookDeliverySelect;
export type DeliveryRow = Prisma.WebhookDeliveryGetPayload<{ select: typeof DELIVERY_SELECT }>;

const ATTEMPT_SELECT = {
  id: true,
  attempt: true,
  statusCode: true,
  latencyMs: true,
  error: true,
  responseExcerpt: true,
  attemptedAt: true,
} as const satisfies Prisma.WebhookAttemptSelect;

/** What one attempt came to: a response (any status) or no response at all, with a fixed reason. */
export type AttemptResult =
  | { kind: 'response'; statusCode: number; latencyMs: number; excerpt: string }
  | { kind: 'error'; error: string; latencyMs: number };

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

/** A claimed attempt: the delivery's message and its endpoint's address and sealed secrets. */
export interface ClaimedAttempt {
  number: number;
  delivery: { endpointId: string; messageId: string; payload: unknown };
  endpoint: { url: string; secretCiphertext: string; previousSecretCiphertext: string | null; previousSecretExpiresAt: Date | null };
}

export type ClaimRefusal = 'missing' | 'not_pending' | 'already_claimed' | 'held';

/** One attempt a batch job asks for: a delivery of the batch's endpoint and the attempt number. */
export interface BatchItem {
  deliveryId: string;
  attempt: number;
}

/** A batch claim: the endpoint's address and sealed secrets, and per delivery its claim or refusal. */
export interface ClaimedBatch {
  endpoint: ClaimedAttempt['endpoint'] | null;
  claimed: { deliveryId: string; number: number; messageId: string; payload: unknown }[];
  refused: { deliveryId: string; reason: ClaimRefusal }[];
}

/** A successful attempt of a batch, as recordSuccesses writes it. */
export interface BatchSuccess {
  deliveryId: string;
  attempt: number;
  statusCode: number;
  latencyMs: number;
  excerpt: string;
}

interface BatchClaimRow {
  id: string;
  message_id: string;
  payload: unknown;
  status: string;
  attempts: number;
  wanted: number;
  written: boolean;
  url: string | null;
  enabled: boolean | null;
  secret_ciphertext: string | null;
  previous_secret_ciphertext: string | null;
  previous_secret_expires_at: Date | null;
}

/**
 * Webhook delivery persistence: the delivery log (webhook_deliveries, webhook_attempts) as the
 * management API reads and adds to it, and the delivery system's own statements (claim and record of
 * an attempt, publishing an outbox event as deliveries, the sweeper's check). Every method takes the
 * Scope first; what the delivery system changes, it changes as its `webhooks` system principal.
 */
@Injectable()
export class WebhookDeliveriesRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /** The endpoint's deliveries, newest first (keyset on createdAt, id); 404 when the endpoint is not readable. */
  list(scope: Scope, endpointId: string, page: PageRequest, take: number): Promise<DeliveryRow[]> {
    return this.db.run(scope, async (tx) => {
      if (!(await readableEndpoint(tx, scope, endpointId))) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
      return tx.webhookDelivery.findMany({
        where: {
          AND: [
            accessibleWhere(scope.ability, 'read', 'WebhookDelivery'),
            { endpointId },
            page.after ? (keysetWhere('createdAt', 'desc', page.after) as Prisma.WebhookDeliveryWhereInput) : {},
          ],
        },
        select: DELIVERY_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take,
      });
    });
  }

  /** One delivery, the message it carries, and every attempt (oldest first). */
  findDetail(scope: Scope, endpointId: string, deliveryId: string): Promise<{ delivery: DeliveryRow; payload: unknown; attempts: WebhookAttemptView[] }> {
    return this.db.run(scope, async (tx) => {
      const delivery = await readableDelivery(tx, scope, endpointId, deliveryId);
      const [message, attempts] = await Promise.all([
        tx.webhookDelivery.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'WebhookDelivery'), { id: deliveryId }] }, select: { payload: true } }),
        tx.webhookAttempt.findMany({ where: { deliveryId }, select: ATTEMPT_SELECT, orderBy: [{ attempt: 'asc' }, { attemptedAt: 'asc' }, { id: 'asc' }] }),
      ]);
      return { delivery, payload: message?.payload ?? null, attempts: attempts.map((a): WebhookAttemptView => ({ ...a })) };
    });
  }

  /**
   * Makes a delivery due now. The caller's right to ask is checked in the caller's scope (a
   * readable endpoint and delivery, `create` on the endpoint's deliveries, the endpoint enabled);
   * the state change is then the delivery system's own (`webhooks` system principal, the only
   * principal that updates deliveries), in a transaction of its own, audited with the caller as actor.
   */
  async redeliver(scope: Scope, endpointId: string, deliveryId: string, now: Date, audit: (current: DeliveryRow) => AuditEntry, also?: InTransaction<DeliveryRow>): Promise<DeliveryRow> {
    await this.db.run(scope, async (tx) => {
      const endpoint = await readableEndpoint(tx, scope, endpointId);
      if (!endpoint) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
      await readableDelivery(tx, scope, endpointId, deliveryId);
      authorize(scope, 'create', 'WebhookDelivery', { tenantId: scope.tenantId, endpointId }, () => new WebhookError(WebhookErrorCode.Forbidden));
      if (!endpoint.enabled) throw new WebhookError(WebhookErrorCode.EndpointDisabled);
    });
    const system = WebhookDispatcher.scopeFor(scope.tenantId);
    return this.db.run(system, async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM webhook_deliveries WHERE id = ${deliveryId}::uuid AND endpoint_id = ${endpointId}::uuid FOR UPDATE`;
      const current = await tx.webhookDelivery.findFirst({ where: { AND: [accessibleWhere(system.ability, 'update', 'WebhookDelivery'), { id: deliveryId, endpointId }] }, select: DELIVERY_SELECT });
      if (!current) throw new WebhookError(WebhookErrorCode.DeliveryNotFound);
      const updated = await tx.webhookDelivery.update({
        where: { tenantId_id: { tenantId: scope.tenantId, id: deliveryId }, AND: [accessibleWhere(system.ability, 'update', 'WebhookDelivery')] },
        data: { status: 'pending' satisfies DeliveryStatus, nextAttemptAt: now, updatedAt: now },
        select: DELIVERY_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, audit(current));
      return updated;
    }, { also });
  }

  /** A delivery of `message` to this endpoint only (a ping), due now; 404 / 403 / 409 as for a redelivery. */
  ping(scope: Scope, endpointId: string, id: string, message: WebhookMessage, now: Date, audit: AuditEntry, also?: InTransaction<DeliveryRow>): Promise<DeliveryRow> {
    return this.db.run(scope, async (tx) => {
      const endpoint = await readableEndpoint(tx, scope, endpointId);
      if (!endpoint) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
      authorize(scope, 'create', 'WebhookDelivery', { tenantId: scope.tenantId, endpointId }, () => new WebhookError(WebhookErrorCode.Forbidden));
      if (!endpoint.enabled) throw new WebhookError(WebhookErrorCode.EndpointDisabled);
      const created = await tx.webhookDelivery.create({
        data: {
          tenantId: scope.tenantId,
          id,
          endpointId,
          messageId: `msg_${id}`,
          eventType: message.type,
          eventId: null,
          payload: message as unknown as Prisma.InputJsonObject,
          status: 'pending' satisfies DeliveryStatus,
          nextAttemptAt: now,
          createdAt: now,
          updatedAt: now,
        },
        select: DELIVERY_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, audit);
      return created;
    }, { also });
  }

  /**
   * Claims attempt `attempt` of a delivery (one short transaction, delivery row locked): a delivery
   * that is gone, no longer pending, or whose attempt was already claimed is left alone; one whose
   * endpoint is disabled is held (no next attempt time); otherwise the attempt counter moves on and
   * the next attempt time becomes `lease`.
   */
  async claim(scope: Scope, deliveryId: string, attempt: number, now: Date, lease: Date): Promise<ClaimedAttempt | ClaimRefusal> {
    assertMay(scope, 'update', 'WebhookDelivery');
    assertMay(scope, 'read', 'WebhookEndpoint');
    const tenantId = scope.tenantId;
    return this.db.run(scope, async (tx) => {
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
  }

  /**
   * `claim` for many deliveries of one endpoint in one statement (the batch job's hot path,
   * docs/benchmarks.md, "Changes and their effect — webhook fan-out"): the deliveries are locked in
   * id order (two batches that share deliveries cannot deadlock), and each one that is pending with
   * its attempt still to be made is claimed (attempt counter + lease) or, the endpoint disabled,
   * held — the same rules, row by row, as `claim`. A delivery that is not this endpoint's is missing.
   */
  async claimBatch(scope: Scope, endpointId: string, items: readonly BatchItem[], now: Date, lease: Date): Promise<ClaimedBatch> {
    assertMay(scope, 'update', 'WebhookDelivery');
    assertMay(scope, 'read', 'WebhookEndpoint');
    const tenantId = scope.tenantId;
    const ids = items.map((i) => i.deliveryId);
    const attempts = items.map((i) => i.attempt);
    const rows = await this.db.run(scope, (tx) =>
      tx.$queryRaw<BatchClaimRow[]>`
        WITH req AS (
          SELECT r.id, max(r.attempt) AS attempt FROM unnest(${ids}::uuid[], ${attempts}::int[]) AS r(id, attempt) GROUP BY r.id
        ), d AS (
          SELECT w.id, w.message_id, w.payload, w.status, w.attempts, req.attempt AS wanted
            FROM webhook_deliveries w JOIN req ON req.id = w.id
           WHERE w.tenant_id = ${tenantId}::uuid AND w.endpoint_id = ${endpointId}::uuid
           ORDER BY w.id
             FOR UPDATE OF w
        ), e AS (
          SELECT url, enabled, secret_ciphertext, previous_secret_ciphertext, previous_secret_expires_at
            FROM webhook_endpoints
           WHERE tenant_id = ${tenantId}::uuid AND id = ${endpointId}::uuid
        ), u AS (
          UPDATE webhook_deliveries w
             SET attempts = CASE WHEN e.enabled THEN d.attempts + 1 ELSE w.attempts END,
                 next_attempt_at = CASE WHEN e.enabled THEN ${lease}::timestamptz ELSE NULL END,
                 updated_at = ${now}::timestamptz
            FROM d, e
           WHERE w.tenant_id = ${tenantId}::uuid AND w.id = d.id AND d.status = 'pending' AND d.attempts < d.wanted
          RETURNING w.id
        )
        SELECT d.id::text AS id, d.message_id, d.payload, d.status, d.attempts, d.wanted, (d.id IN (SELECT id FROM u)) AS written,
               e.url, e.enabled, e.secret_ciphertext, e.previous_secret_ciphertext, e.previous_secret_expires_at
          FROM d LEFT JOIN e ON true`,
    );
    const found = new Map(rows.map((row) => [row.id, row]));
    const first = rows[0];
    const batch: ClaimedBatch = {
      endpoint:
        first && first.url !== null
          ? { url: first.url, secretCiphertext: first.secret_ciphertext!, previousSecretCiphertext: first.previous_secret_ciphertext, previousSecretExpiresAt: first.previous_secret_expires_at }
          : null,
      claimed: [],
      refused: [],
    };
    for (const id of new Set(ids)) {
      const row = found.get(id);
      const refuse = (reason: ClaimRefusal) => batch.refused.push({ deliveryId: id, reason });
      if (!row || row.url === null) refuse('missing');
      else if (row.status !== ('pending' satisfies DeliveryStatus)) refuse('not_pending');
      else if (row.attempts >= row.wanted) refuse('already_claimed');
      else if (!row.enabled) refuse('held');
      else if (!row.written) throw new Error('webhook batch claim: a delivery row was not updated');
      else batch.claimed.push({ deliveryId: id, number: row.attempts + 1, messageId: row.message_id, payload: row.payload });
    }
    return batch;
  }

  /**
   * Records the successful attempts of a batch in one transaction of two statements (the failures
   * go through `recordAttempt` one by one: they are rare and their rules are many): the endpoint
   * locked first, as recordAttempt does, then the deliveries in id order; per delivery the
   * attempt's log row and succeeded; the endpoint's failure streak, if any, ended. Deliveries
   * deleted with their endpoint in the meantime are skipped. Resolves with the ids recorded.
   */
  async recordSuccesses(scope: Scope, endpointId: string, successes: readonly BatchSuccess[], now: Date): Promise<string[]> {
    if (successes.length === 0) return [];
    assertMay(scope, 'update', 'WebhookDelivery');
    assertMay(scope, 'update', 'WebhookEndpoint');
    const tenantId = scope.tenantId;
    return this.db.run(scope, async (tx) => {
      const locked = await tx.$queryRaw<{ enabled: boolean }[]>`
        SELECT enabled FROM webhook_endpoints WHERE tenant_id = ${tenantId}::uuid AND id = ${endpointId}::uuid FOR UPDATE`;
      if (locked.length === 0) return [];
      const recorded = await tx.$queryRaw<{ id: string }[]>`
        WITH ok AS (
          SELECT * FROM unnest(${successes.map((s) => s.deliveryId)}::uuid[], ${successes.map((s) => s.attempt)}::int[], ${successes.map((s) => s.statusCode)}::int[],
                               ${successes.map((s) => s.latencyMs)}::int[], ${successes.map((s) => s.excerpt)}::text[], ${successes.map(() => randomUUID())}::uuid[])
                   AS r(id, attempt, status_code, latency_ms, excerpt, attempt_id)
        ), d AS (
          SELECT w.id FROM webhook_deliveries w JOIN ok ON ok.id = w.id
           WHERE w.tenant_id = ${tenantId}::uuid AND w.endpoint_id = ${endpointId}::uuid
           ORDER BY w.id
             FOR UPDATE OF w
        ), attempt AS (
          INSERT INTO webhook_attempts (tenant_id, id, delivery_id, attempt, status_code, latency_ms, error, response_excerpt, attempted_at)
          SELECT ${tenantId}::uuid, ok.attempt_id, ok.id, ok.attempt, ok.status_code, ok.latency_ms, NULL, ok.excerpt, ${now}::timestamptz
            FROM ok JOIN d ON d.id = ok.id
        ), streak AS (
          UPDATE webhook_endpoints SET failing_since = NULL, updated_at = ${now}::timestamptz
           WHERE tenant_id = ${tenantId}::uuid AND id = ${endpointId}::uuid AND failing_since IS NOT NULL
        )
        UPDATE webhook_deliveries w
           SET status = 'succeeded', delivered_at = ${now}::timestamptz, last_status_code = ok.status_code, next_attempt_at = NULL, updated_at = ${now}::timestamptz
          FROM ok JOIN d ON d.id = ok.id
         WHERE w.tenant_id = ${tenantId}::uuid AND w.id = ok.id
        RETURNING w.id::text AS id`;
      return recorded.map((r) => r.id);
    });
  }

  /**
   * Records an attempt (one transaction, endpoint then delivery locked): its log row, then what the
   * answer means (webhook-attempt-plan.ts). A disable emits the outbox event
   * `webhook_endpoint.disabled` (for the tenant's other endpoints) and is audited, under `requestId`.
   * `disabled`: the reason, when this attempt disabled the endpoint.
   */
  async recordAttempt(
    scope: Scope,
    deliveryId: string,
    claim: { attempt: number; endpointId: string },
    result: AttemptResult,
    now: Date,
    policy: RetryPolicy,
    requestId: string | undefined,
  ): Promise<{ outcome: RecordOutcome | 'skipped'; retry?: { attempt: number; delayMs: number }; disabled?: Exclude<DisabledReason, 'manual'> }> {
    const statusCode = result.kind === 'response' ? result.statusCode : null;
    const verdict = verdictOf(statusCode);
    assertMay(scope, 'update', 'WebhookDelivery');
    assertMay(scope, 'update', 'WebhookEndpoint');
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
      const plan = failurePlan(
        verdict,
        { endpoint: { enabled: locked.enabled, failingSince: locked.failing_since }, delivery: { status: locked.status, attempts: locked.attempts }, attempt: claim.attempt, now },
        policy,
      );
      if (plan.startStreak) await updateEndpoint(tx, scope, claim.endpointId, { failingSince: plan.startStreak });
      if (plan.delivery) {
        await tx.webhookDelivery.update({ where: writableDelivery(scope, deliveryId), data: { ...plan.delivery, lastStatusCode: statusCode, updatedAt: now }, select: { id: true } });
      }
      if (plan.disable) await this.disable(tx, scope, claim.endpointId, plan.disable, now, requestId);
      return { outcome: plan.outcome, ...(plan.retry ? { retry: plan.retry } : {}), ...(plan.disable ? { disabled: plan.disable } : {}) };
    });
  }

  /**
   * Publishes one outbox event of the scope's tenant (the `webhooks` system principal): marks it
   * published, only if nobody else did (another worker's relay may hold or have taken it), and
   * creates one delivery per enabled endpoint subscribed to its type, first attempt due after
   * `firstDelayMs`, all in one transaction. Resolves with the deliveries created (id, endpoint).
   */
  publishEvent(scope: Scope, eventId: string, now: Date, firstDelayMs: number): Promise<{ id: string; endpointId: string }[]> {
    const tenantId = scope.tenantId;
    return this.db.run(scope, async (tx) => {
      // SKIP LOCKED: a row another relay is publishing right now is its business, not a wait.
      const locked = await tx.$queryRaw<{ id: string }[]>`
        SELECT id::text AS id FROM domain_events WHERE tenant_id = ${tenantId}::uuid AND id = ${eventId}::uuid AND published_at IS NULL FOR UPDATE SKIP LOCKED`;
      if (locked.length === 0) return [];
      const published = await tx.domainEvent.updateMany({ where: { tenantId, id: eventId, publishedAt: null }, data: { publishedAt: now } });
      if (published.count === 0) return [];
      const event = await tx.domainEvent.findFirst({ where: { tenantId, id: eventId }, select: { id: true, type: true, subjectId: true, payload: true, occurredAt: true } });
      if (!event || !(WEBHOOK_EVENT_TYPES as readonly string[]).includes(event.type)) return [];
      const endpoints = await tx.webhookEndpoint.findMany({
        where: {
          AND: [
            accessibleWhere(scope.ability, 'read', 'WebhookEndpoint'),
            { enabled: true, events: { has: event.type } },
            // The endpoint an announcement is about never hears it (it is disabled anyway).
            event.type === ENDPOINT_DISABLED_EVENT ? { NOT: { id: event.subjectId } } : {},
          ],
        },
        select: { id: true },
      });
      if (endpoints.length === 0) return [];
      if (!permits(scope, 'create', 'WebhookDelivery', { tenantId })) throw new Error('the webhooks principal may not create deliveries');
      const rows = endpoints.map((endpoint) => pendingDelivery(tenantId, endpoint.id, event, now, firstDelayMs));
      await tx.webhookDelivery.createMany({ data: rows });
      return rows.map((row) => ({ id: row.id, endpointId: row.endpointId }));
    });
  }

  /**
   * `publishEvent` for many events of the scope's tenant in one transaction of three statements
   * (the relay's hot path): the events still unpublished and not locked by another relay are
   * locked and marked published in one statement (SKIP LOCKED, as publishEvent), the tenant's
   * enabled endpoints are read once, and one delivery per event and subscribed endpoint is created
   * in one insert — the same deliveries publishEvent would create event by event (an endpoint never
   * hears the announcement of its own disabling). Resolves with the deliveries created.
   */
  publishEvents(scope: Scope, eventIds: readonly string[], now: Date, firstDelayMs: number): Promise<{ id: string; endpointId: string }[]> {
    const tenantId = scope.tenantId;
    return this.db.run(scope, async (tx) => {
      const events = await tx.$queryRaw<{ id: string; type: string; subject_id: string | null; payload: unknown; occurred_at: Date }[]>`
        UPDATE domain_events e SET published_at = ${now}::timestamptz
          FROM (SELECT id FROM domain_events
                 WHERE tenant_id = ${tenantId}::uuid AND id = ANY(${[...eventIds]}::uuid[]) AND published_at IS NULL
                 ORDER BY id FOR UPDATE SKIP LOCKED) l
         WHERE e.tenant_id = ${tenantId}::uuid AND e.id = l.id
        RETURNING e.id::text AS id, e.type, e.subject_id::text AS subject_id, e.payload, e.occurred_at`;
      const relevant = events.filter((event) => (WEBHOOK_EVENT_TYPES as readonly string[]).includes(event.type));
      if (relevant.length === 0) return [];
      const endpoints = await tx.webhookEndpoint.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'WebhookEndpoint'), { enabled: true, events: { hasSome: [...new Set(relevant.map((e) => e.type))] } }] },
        select: { id: true, events: true },
      });
      if (endpoints.length === 0) return [];
      if (!permits(scope, 'create', 'WebhookDelivery', { tenantId })) throw new Error('the webhooks principal may not create deliveries');
      const rows: ReturnType<typeof pendingDelivery>[] = [];
      // Events in the order they happened, so deliveries (and batches) keep it.
      relevant.sort((a, b) => a.occurred_at.getTime() - b.occurred_at.getTime() || (a.id < b.id ? -1 : 1));
      for (const event of relevant) {
        for (const endpoint of endpoints) {
          if (!endpoint.events.includes(event.type)) continue;
          if (event.type === ENDPOINT_DISABLED_EVENT && endpoint.id === event.subject_id) continue;
          rows.push(pendingDelivery(tenantId, endpoint.id, { id: event.id, type: event.type, payload: event.payload, occurredAt: event.occurred_at }, now, firstDelayMs));
        }
      }
      if (rows.length > 0) await tx.webhookDelivery.createMany({ data: rows });
      return rows.map((row) => ({ id: row.id, endpointId: row.endpointId }));
    });
  }

  /** The delivery if it is still pending and its next attempt at or before `cutoff` (the sweeper's check); null otherwise. */
  findOverdue(scope: Scope, id: string, cutoff: Date): Promise<{ attempts: number } | null> {
    return this.db.run(scope, (tx) =>
      tx.webhookDelivery.findFirst({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'WebhookDelivery'), { id, status: 'pending', nextAttemptAt: { lte: cutoff } }] },
        select: { attempts: true },
      }),
    );
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
  }
}

/** A delivery of a readable endpoint; another endpoint's delivery is not found, like a missing one. */
async function readableDelivery(tx: TenantTx, scope: Scope, endpointId: string, deliveryId: string): Promise<DeliveryRow> {
  if (!(await readableEndpoint(tx, scope, endpointId))) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
  const row = await tx.webhookDelivery.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'WebhookDelivery'), { id: deliveryId, endpointId }] }, select: DELIVERY_SELECT });
  if (!row) throw new WebhookError(WebhookErrorCode.DeliveryNotFound);
  return row;
}

async function updateEndpoint(tx: TenantTx, scope: Scope, id: string, data: { failingSince: Date | null }): Promise<void> {
  await tx.webhookEndpoint.update({
    where: { tenantId_id: { tenantId: scope.tenantId, id }, AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint')] },
    data,
    select: { id: true },
  });
}

/** The first, pending delivery of one outbox event to one endpoint (publishEvent and publishEvents). */
function pendingDelivery(
  tenantId: string,
  endpointId: string,
  event: { id: string; type: string; payload: unknown; occurredAt: Date },
  now: Date,
  firstDelayMs: number,
): Prisma.WebhookDeliveryCreateManyInput & { id: string } {
  const message: WebhookMessage = { type: event.type, timestamp: event.occurredAt.toISOString(), data: event.payload as Record<string, unknown> };
  return {
    tenantId,
    id: randomUUID(),
    endpointId,
    messageId: messageIdForEvent(event.id),
    eventType: event.type,
    eventId: event.id,
    payload: message as unknown as Prisma.InputJsonObject,
    status: 'pending' satisfies DeliveryStatus,
    nextAttemptAt: new Date(now.getTime() + firstDelayMs),
    createdAt: now,
    updatedAt: now,
  };
}

const writableDelivery = (scope: Scope, id: string): Prisma.WebhookDeliveryWhereUniqueInput => ({
  tenantId_id: { tenantId: scope.tenantId, id },
  AND: [accessibleWhere(scope.ability, 'update', 'WebhookDelivery')],
});

/**
 * The hot path's statements are plain SQL, so the CASL rule they rely on is checked here: the
 * principal may `action` this subject in its tenant (the same `{ tenantId }` condition that
 * accessibleWhere would add, and that RLS enforces again in the database).
 */
function assertMay(scope: Scope, action: 'read' | 'update', subjectType: 'WebhookDelivery' | 'WebhookEndpoint'): void {
  if (!permits(scope, action, subjectType, { tenantId: scope.tenantId })) {
    throw new Error(`webhook delivery: the principal may not ${action} ${subjectType}`);
  }
}

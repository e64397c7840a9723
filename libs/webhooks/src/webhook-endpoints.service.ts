import { randomUUID } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { accessibleWhere, principalId } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { keysetWhere, TenantDatabase, type Prisma, type TenantTx } from '@benteng/database';
import { EgressError, SafeHttpClient } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { WebhookDispatcher } from './webhook-dispatch.js';
import { PING_EVENT_TYPE, WEBHOOK_EVENT_TYPES, type DisabledReason, type WebhookEventType, type WebhookMessage } from './webhook.events.js';
import { WebhookError, WebhookErrorCode } from './webhook.errors.js';
import { mintWebhookSecret, WebhookSecretBox } from './webhook-secrets.js';
import type {
  DeliveryStatus,
  NewWebhookEndpoint,
  PageRequest,
  WebhookAttemptView,
  WebhookDeliveryDetail,
  WebhookDeliveryView,
  WebhookEndpointPatch,
  WebhookEndpointView,
  WithWebhookSecret,
} from './webhook.types.js';

export const MAX_PAGE_SIZE = 100;
/** Held deliveries queued at once when an endpoint is enabled again; the sweeper takes the rest. */
const RESUME_QUEUED = 100;
type HeldDelivery = { id: string; attempts: number };

/** Every column the API shows, and nothing else: the secret columns are read only where a secret is used. */
export const ENDPOINT_SELECT = {
  id: true,
  url: true,
  description: true,
  events: true,
  enabled: true,
  failingSince: true,
  disabledAt: true,
  disabledReason: true,
  previousSecretExpiresAt: true,
  createdAt: true,
  updatedAt: true,
  version: true,
} as const satisfies Prisma.WebhookEndpointSelect;
type EndpointRow = Prisma.WebhookEndpointGetPayload<{ select: typeof ENDPOINT_SELECT }>;

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
type DeliveryRow = Prisma.WebhookDeliveryGetPayload<{ select: typeof DELIVERY_SELECT }>;

const ATTEMPT_SELECT = {
  id: true,
  attempt: true,
  statusCode: true,
  latencyMs: true,
  error: true,
  responseExcerpt: true,
  attemptedAt: true,
} as const satisfies Prisma.WebhookAttemptSelect;

type EditableField = 'url' | 'description' | 'events' | 'enabled';

/** Event types in one canonical order, so a reordered list is no change. */
export const canonicalEvents = (events: readonly string[]): WebhookEventType[] => WEBHOOK_EVENT_TYPES.filter((type) => events.includes(type));

/**
 * Webhook endpoints of a tenant and their delivery log, managed by owners and admins
 * (libs/authz/src/rules/webhooks.rules.ts). Signing secrets are minted here, returned in clear by
 * the call that made them only, and stored encrypted (WebhookSecretBox); no read returns one.
 *
 * Every change locks the endpoint row first and is audited in the same transaction, as its last
 * step. Pings and redeliveries are queued after their transaction commits; if Redis refuses the job,
 * the delivery is already recorded as due and the sweeper (WebhookRelay) queues it within a minute
 * or two, so the request still succeeds.
 */
@Injectable()
export class WebhookEndpointsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly box: WebhookSecretBox,
    private readonly egress: SafeHttpClient,
    private readonly dispatcher: WebhookDispatcher,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(WebhookEndpointsService.name);
  }

  async list(scope: Scope, page: PageRequest): Promise<WebhookEndpointView[]> {
    const rows = await this.db.run(scope, (tx) =>
      tx.webhookEndpoint.findMany({
        where: {
          AND: [accessibleWhere(scope.ability, 'read', 'WebhookEndpoint'), page.after ? (keysetWhere('createdAt', 'desc', page.after) as Prisma.WebhookEndpointWhereInput) : {}],
        },
        select: ENDPOINT_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: pageSize(page),
      }),
    );
    return rows.map(endpointView);
  }

  /** Missing and another tenant's endpoint are the same answer: not found (invariant 5). */
  async get(scope: Scope, id: string): Promise<WebhookEndpointView> {
    const row = await this.db.run(scope, (tx) => this.readableEndpoint(tx, scope, id));
    if (!row) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
    return endpointView(row);
  }

  async create(scope: Scope, input: NewWebhookEndpoint, meta: RequestMeta): Promise<WithWebhookSecret> {
    const createdById = this.userOf(scope);
    if (!scope.ability.can('create', subject('WebhookEndpoint', { tenantId: scope.tenantId } as never))) throw new WebhookError(WebhookErrorCode.Forbidden);
    const url = this.deliverableUrl(input.url);
    const events = canonicalEvents(input.events);
    const enabled = input.enabled ?? true;
    const now = this.clock.now();
    const id = randomUUID();
    const secret = mintWebhookSecret();
    const row = await this.db.run(scope, async (tx) => {
      const created = await tx.webhookEndpoint.create({
        data: {
          tenantId: scope.tenantId,
          id,
          url,
          description: input.description ?? null,
          events,
          enabled,
          secretCiphertext: this.box.seal(secret, scope.tenantId, id),
          createdById,
          createdAt: now,
          updatedAt: now,
          ...(enabled ? {} : { disabledAt: now, disabledReason: 'manual' satisfies DisabledReason }),
        },
        select: ENDPOINT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...this.entry(scope, 'webhook.endpoint_created', `webhook_endpoint:${id}`, meta),
        data: { host: new URL(url).host, events: events.join(' '), enabled },
      });
      return created;
    });
    return { endpoint: endpointView(row), secret };
  }

  /**
   * Changes the URL, description, subscriptions or the enabled switch. `expectedVersion` comes from
   * If-Match (412 when stale). Enabling an endpoint the system disabled forgets its failures and
   * resumes the deliveries that were held back while it was off; disabling by hand records
   * `manual` as the reason; a new URL starts without a failure streak. A patch that changes nothing returns the endpoint unversioned and unaudited.
   */
  async update(scope: Scope, id: string, patch: WebhookEndpointPatch, expectedVersion: number | undefined, meta: RequestMeta): Promise<WebhookEndpointView> {
    const wanted: Partial<Pick<EndpointRow, EditableField>> = {};
    if (patch.url !== undefined) wanted.url = this.deliverableUrl(patch.url);
    if (patch.description !== undefined) wanted.description = patch.description;
    if (patch.events !== undefined) wanted.events = canonicalEvents(patch.events);
    if (patch.enabled !== undefined) wanted.enabled = patch.enabled;
    const now = this.clock.now();

    let resumed: HeldDelivery[] = [];
    const row = await this.db.run(scope, async (tx) => {
      const current = await this.lockEndpoint(tx, scope, id);
      if (expectedVersion !== undefined && current.version !== expectedVersion) throw new WebhookError(WebhookErrorCode.VersionMismatch);
      const changed = (Object.keys(wanted) as EditableField[]).filter((field) => !sameValue(current[field], wanted[field]));
      if (changed.length === 0) return current;
      const data: Prisma.WebhookEndpointUpdateInput = Object.fromEntries(changed.map((field) => [field, wanted[field]]));
      // Another URL is another receiver: its predecessor's failure streak is not held against it.
      if (changed.includes('url')) data.failingSince = null;
      if (changed.includes('enabled')) {
        Object.assign(data, wanted.enabled ? { failingSince: null, disabledAt: null, disabledReason: null } : { disabledAt: now, disabledReason: 'manual' satisfies DisabledReason });
      }
      const updated = await tx.webhookEndpoint.update({ where: writableEndpoint(scope, id), data: { ...data, version: { increment: 1 }, updatedAt: now }, select: ENDPOINT_SELECT });
      if (changed.includes('enabled') && wanted.enabled) resumed = await this.resumeHeldDeliveries(tx, scope, id, now);
      await this.audit.recordIn(tx, scope.tenantId, { ...this.entry(scope, 'webhook.endpoint_updated', `webhook_endpoint:${id}`, meta), data: { changed: changed.sort().join(' ') } });
      return updated;
    });
    for (const held of resumed) await this.queue(() => this.dispatcher.now(scope.tenantId, held.id, held.attempts + 1), held.id);
    return endpointView(row);
  }

  /** Deletes the endpoint with its deliveries and their log (queued attempts then find nothing to do). */
  async remove(scope: Scope, id: string, expectedVersion: number | undefined, meta: RequestMeta): Promise<void> {
    await this.db.run(scope, async (tx) => {
      const current = await this.lockEndpoint(tx, scope, id);
      if (expectedVersion !== undefined && current.version !== expectedVersion) throw new WebhookError(WebhookErrorCode.VersionMismatch);
      if (!scope.ability.can('delete', subject('WebhookEndpoint', { tenantId: scope.tenantId, id } as never))) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
      await tx.webhookEndpoint.delete({ where: { tenantId_id: { tenantId: scope.tenantId, id }, AND: [accessibleWhere(scope.ability, 'delete', 'WebhookEndpoint')] }, select: { id: true } });
      await this.audit.recordIn(tx, scope.tenantId, this.entry(scope, 'webhook.endpoint_deleted', `webhook_endpoint:${id}`, meta));
    });
  }

  /**
   * A new signing secret. The previous one keeps signing beside it (both signatures in every
   * message) until WEBHOOK_SECRET_ROTATION_OVERLAP_S from now, so the receiver can switch without
   * refusing a message; with an overlap of 0 it stops at once. Rotating again within the window
   * drops the oldest secret.
   */
  async rotateSecret(scope: Scope, id: string, meta: RequestMeta): Promise<WithWebhookSecret> {
    const now = this.clock.now();
    const overlapS = this.config.WEBHOOK_SECRET_ROTATION_OVERLAP_S;
    const previousSecretExpiresAt = overlapS > 0 ? new Date(now.getTime() + overlapS * 1000) : null;
    const secret = mintWebhookSecret();
    const row = await this.db.run(scope, async (tx) => {
      await this.lockEndpoint(tx, scope, id);
      const stored = await tx.webhookEndpoint.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint'), { id }] }, select: { secretCiphertext: true } });
      if (!stored) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
      const rotated = await tx.webhookEndpoint.update({
        where: writableEndpoint(scope, id),
        data: {
          secretCiphertext: this.box.seal(secret, scope.tenantId, id),
          previousSecretCiphertext: previousSecretExpiresAt ? stored.secretCiphertext : null,
          previousSecretExpiresAt,
          version: { increment: 1 },
          updatedAt: now,
        },
        select: ENDPOINT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...this.entry(scope, 'webhook.secret_rotated', `webhook_endpoint:${id}`, meta),
        data: { previousValidUntil: previousSecretExpiresAt?.toISOString() ?? null },
      });
      return rotated;
    });
    return { endpoint: endpointView(row), secret };
  }

  /** The endpoint's deliveries, newest first (keyset on createdAt, id). */
  async listDeliveries(scope: Scope, endpointId: string, page: PageRequest): Promise<WebhookDeliveryView[]> {
    const rows = await this.db.run(scope, async (tx) => {
      if (!(await this.readableEndpoint(tx, scope, endpointId))) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
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
        take: pageSize(page),
      });
    });
    return rows.map(deliveryView);
  }

  /** One delivery, the message it carries, and every attempt (oldest first). */
  async getDelivery(scope: Scope, endpointId: string, deliveryId: string): Promise<WebhookDeliveryDetail> {
    return this.db.run(scope, async (tx) => {
      const delivery = await this.readableDelivery(tx, scope, endpointId, deliveryId);
      const [message, attempts] = await Promise.all([
        tx.webhookDelivery.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'WebhookDelivery'), { id: deliveryId }] }, select: { payload: true } }),
        tx.webhookAttempt.findMany({ where: { deliveryId }, select: ATTEMPT_SELECT, orderBy: [{ attempt: 'asc' }, { attemptedAt: 'asc' }, { id: 'asc' }] }),
      ]);
      return { ...deliveryView(delivery), payload: message?.payload ?? null, attemptLog: attempts.map((a): WebhookAttemptView => ({ ...a })) };
    });
  }

  /**
   * Sends a delivery again now: one more attempt of the same message (same webhook-id), whatever
   * its status. If that attempt fails and the retry schedule still has room, retries follow it as
   * usual; otherwise the delivery ends failed again. The caller's right to ask is checked in the
   * caller's scope; the state change is the delivery system's own (`webhooks` system principal,
   * the only principal that updates deliveries), audited with the caller as actor.
   */
  async redeliver(scope: Scope, endpointId: string, deliveryId: string, meta: RequestMeta): Promise<WebhookDeliveryView> {
    await this.db.run(scope, async (tx) => {
      const endpoint = await this.readableEndpoint(tx, scope, endpointId);
      if (!endpoint) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
      await this.readableDelivery(tx, scope, endpointId, deliveryId);
      if (!scope.ability.can('create', subject('WebhookDelivery', { tenantId: scope.tenantId, endpointId } as never))) throw new WebhookError(WebhookErrorCode.Forbidden);
      if (!endpoint.enabled) throw new WebhookError(WebhookErrorCode.EndpointDisabled);
    });
    const system = WebhookDispatcher.scopeFor(scope.tenantId);
    const now = this.clock.now();
    const row = await this.db.run(system, async (tx) => {
      await tx.$queryRaw`SELECT 1 FROM webhook_deliveries WHERE id = ${deliveryId}::uuid AND endpoint_id = ${endpointId}::uuid FOR UPDATE`;
      const current = await tx.webhookDelivery.findFirst({ where: { AND: [accessibleWhere(system.ability, 'update', 'WebhookDelivery'), { id: deliveryId, endpointId }] }, select: DELIVERY_SELECT });
      if (!current) throw new WebhookError(WebhookErrorCode.DeliveryNotFound);
      const updated = await tx.webhookDelivery.update({
        where: { tenantId_id: { tenantId: scope.tenantId, id: deliveryId }, AND: [accessibleWhere(system.ability, 'update', 'WebhookDelivery')] },
        data: { status: 'pending' satisfies DeliveryStatus, nextAttemptAt: now, updatedAt: now },
        select: DELIVERY_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...this.entry(scope, 'webhook.redelivered', `webhook_delivery:${deliveryId}`, meta),
        data: { endpointId, messageId: current.messageId, previousStatus: current.status, attempt: current.attempts + 1 },
      });
      return updated;
    });
    await this.queue(() => this.dispatcher.now(scope.tenantId, deliveryId, row.attempts + 1), deliveryId);
    return deliveryView(row);
  }

  /** A `webhook.ping` message to this endpoint only: a delivery of its own, logged like any other. */
  async ping(scope: Scope, endpointId: string, meta: RequestMeta): Promise<WebhookDeliveryView> {
    const now = this.clock.now();
    const id = randomUUID();
    const message: WebhookMessage = { type: PING_EVENT_TYPE, timestamp: now.toISOString(), data: { endpointId } };
    const row = await this.db.run(scope, async (tx) => {
      const endpoint = await this.readableEndpoint(tx, scope, endpointId);
      if (!endpoint) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
      if (!scope.ability.can('create', subject('WebhookDelivery', { tenantId: scope.tenantId, endpointId } as never))) throw new WebhookError(WebhookErrorCode.Forbidden);
      if (!endpoint.enabled) throw new WebhookError(WebhookErrorCode.EndpointDisabled);
      const created = await tx.webhookDelivery.create({
        data: {
          tenantId: scope.tenantId,
          id,
          endpointId,
          messageId: `msg_${id}`,
          eventType: PING_EVENT_TYPE,
          eventId: null,
          payload: message as unknown as Prisma.InputJsonObject,
          status: 'pending' satisfies DeliveryStatus,
          nextAttemptAt: now,
          createdAt: now,
          updatedAt: now,
        },
        select: DELIVERY_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, { ...this.entry(scope, 'webhook.pinged', `webhook_endpoint:${endpointId}`, meta), data: { deliveryId: id } });
      return created;
    });
    await this.queue(() => this.dispatcher.attempt(scope.tenantId, id, 1), id);
    return deliveryView(row);
  }

  /** The URL as it will be stored and called (WHATWG-normalized), or 400 with the rule it broke. */
  private deliverableUrl(input: string): string {
    try {
      this.egress.assertDeliverableUrl(input);
    } catch (error) {
      if (error instanceof EgressError) throw new WebhookError(WebhookErrorCode.UrlNotAllowed, error.reason);
      throw error;
    }
    return new URL(input).href;
  }

  /**
   * Deliveries held back while the endpoint was off are due again. The first RESUME_QUEUED are
   * queued right after the commit; the sweeper queues the rest (and any whose enqueue is lost).
   * Held deliveries belong to the delivery system, so they are changed as its principal.
   */
  private async resumeHeldDeliveries(tx: TenantTx, scope: Scope, endpointId: string, now: Date): Promise<HeldDelivery[]> {
    const system = WebhookDispatcher.scopeFor(scope.tenantId);
    const held = { AND: [accessibleWhere(system.ability, 'update', 'WebhookDelivery'), { endpointId, status: 'pending', nextAttemptAt: null }] };
    const first = await tx.webhookDelivery.findMany({ where: held, select: { id: true, attempts: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take: RESUME_QUEUED });
    await tx.webhookDelivery.updateMany({ where: held, data: { nextAttemptAt: now, updatedAt: now } });
    return first;
  }

  private async queue(enqueue: () => Promise<string>, deliveryId: string): Promise<void> {
    try {
      await enqueue();
    } catch (error) {
      this.logger.warn({ err: error, deliveryId }, 'delivery job not queued; the sweeper will queue it');
    }
  }

  private readableEndpoint(tx: TenantTx, scope: Scope, id: string): Promise<EndpointRow | null> {
    return tx.webhookEndpoint.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'WebhookEndpoint'), { id }] }, select: ENDPOINT_SELECT });
  }

  /** A delivery of a readable endpoint; another endpoint's delivery is not found, like a missing one. */
  private async readableDelivery(tx: TenantTx, scope: Scope, endpointId: string, deliveryId: string): Promise<DeliveryRow> {
    if (!(await this.readableEndpoint(tx, scope, endpointId))) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
    const row = await tx.webhookDelivery.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'WebhookDelivery'), { id: deliveryId, endpointId }] }, select: DELIVERY_SELECT });
    if (!row) throw new WebhookError(WebhookErrorCode.DeliveryNotFound);
    return row;
  }

  /**
   * The endpoint the scope may change, its row locked until the transaction ends; missing and
   * forbidden are both "not found". Locks are always taken endpoint first, then delivery.
   */
  private async lockEndpoint(tx: TenantTx, scope: Scope, id: string): Promise<EndpointRow> {
    await tx.$queryRaw`SELECT 1 FROM webhook_endpoints WHERE id = ${id}::uuid FOR UPDATE`;
    const row = await tx.webhookEndpoint.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint'), { id }] }, select: ENDPOINT_SELECT });
    if (!row) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
    return row;
  }

  /** Endpoints are made by people: the user is recorded as creator (and audited as the actor). */
  private userOf(scope: Scope): string {
    if (scope.principal.kind !== 'user') throw new WebhookError(WebhookErrorCode.Forbidden);
    return scope.principal.userId;
  }

  private entry(scope: Scope, type: AuditEntry['type'], subjectRef: string, meta: RequestMeta): AuditEntry {
    return { type, outcome: 'success', actor: principalId(scope.principal), subject: subjectRef, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
  }
}

/** One row by primary key, and only if the scope may update it: the CASL condition rides along on the write too. */
const writableEndpoint = (scope: Scope, id: string): Prisma.WebhookEndpointWhereUniqueInput => ({
  tenantId_id: { tenantId: scope.tenantId, id },
  AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint')],
});

const pageSize = (page: PageRequest): number => Math.min(Math.max(page.limit, 1), MAX_PAGE_SIZE);

export function endpointView(row: EndpointRow): WebhookEndpointView {
  return {
    id: row.id,
    url: row.url,
    description: row.description,
    events: canonicalEvents(row.events),
    enabled: row.enabled,
    failingSince: row.failingSince,
    disabledAt: row.disabledAt,
    disabledReason: row.disabledReason as DisabledReason | null,
    previousSecretExpiresAt: row.previousSecretExpiresAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    version: row.version,
  };
}

export function deliveryView(row: DeliveryRow): WebhookDeliveryView {
  return {
    id: row.id,
    messageId: row.messageId,
    eventType: row.eventType,
    eventId: row.eventId,
    status: row.status as DeliveryStatus,
    attempts: row.attempts,
    nextAttemptAt: row.nextAttemptAt,
    lastStatusCode: row.lastStatusCode,
    deliveredAt: row.deliveredAt,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i]);
  return a === b;
}

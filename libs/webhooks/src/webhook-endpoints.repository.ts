import { Injectable } from '@nestjs/common';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { accessibleWhere, authorize } from '@benteng/authz';
import { keysetWhere, TenantDatabase, type InTransaction, type Prisma, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { WebhookDispatcher } from './webhook-dispatch.js';
import { WebhookError, WebhookErrorCode } from './webhook.errors.js';
import type { DisabledReason } from './webhook.events.js';
import type { PageRequest } from './webhook.types.js';

/** Held deliveries queued at once when an endpoint is enabled again; the sweeper takes the rest. */
const RESUME_QUEUED = 100;
export type HeldDelivery = { id: string; attempts: number };

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
export type EndpointRow = Prisma.WebhookEndpointGetPayload<{ select: typeof ENDPOINT_SELECT }>;

export type EditableField = 'url' | 'description' | 'events' | 'enabled';
export type EndpointChanges = Partial<Pick<EndpointRow, EditableField>>;

/** A new endpoint as stored: its secret already sealed for this tenant and id. */
export interface NewEndpointRow {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  secretCiphertext: string;
  createdById: string;
  now: Date;
}

/**
 * Webhook endpoint persistence (webhook_endpoints). Every method takes the Scope first and runs in
 * one tenant transaction; reads filter with the scope's CASL condition, and every change locks the
 * endpoint row first (missing and forbidden are both "not found") and records its audit event in the
 * same transaction, as its last step. Locks are always taken endpoint first, then delivery.
 */
@Injectable()
export class WebhookEndpointsRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /** Newest first (keyset on createdAt, id). */
  list(scope: Scope, page: PageRequest, take: number): Promise<EndpointRow[]> {
    return this.db.run(scope, (tx) =>
      tx.webhookEndpoint.findMany({
        where: {
          AND: [accessibleWhere(scope.ability, 'read', 'WebhookEndpoint'), page.after ? (keysetWhere('createdAt', 'desc', page.after) as Prisma.WebhookEndpointWhereInput) : {}],
        },
        select: ENDPOINT_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take,
      }),
    );
  }

  /** The endpoint if the scope may read it; null when missing or another tenant's (invariant 5). */
  findById(scope: Scope, id: string): Promise<EndpointRow | null> {
    return this.db.run(scope, (tx) => readableEndpoint(tx, scope, id));
  }

  /** The caller has checked `create` on the draft (before the URL, so a refusal comes first). */
  create(scope: Scope, row: NewEndpointRow, audit: AuditEntry, also?: InTransaction<EndpointRow>): Promise<EndpointRow> {
    const { now, ...columns } = row;
    return this.db.run(scope, async (tx) => {
      const created = await tx.webhookEndpoint.create({
        data: {
          tenantId: scope.tenantId,
          ...columns,
          createdAt: now,
          updatedAt: now,
          ...(row.enabled ? {} : { disabledAt: now, disabledReason: 'manual' satisfies DisabledReason }),
        },
        select: ENDPOINT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, audit);
      return created;
    }, { also });
  }

  /**
   * Writes the fields of `wanted` that differ from the stored endpoint (412 when `expectedVersion`
   * is stale). A new URL starts without a failure streak; enabling forgets the failures and makes
   * the deliveries held while the endpoint was off due again (the first RESUME_QUEUED are returned,
   * to be queued after the commit); disabling records `manual` as the reason. Nothing to change:
   * the endpoint as it is, unversioned and unaudited.
   */
  async update(
    scope: Scope,
    id: string,
    wanted: EndpointChanges,
    expectedVersion: number | undefined,
    now: Date,
    audit: (changed: EditableField[]) => AuditEntry,
  ): Promise<{ endpoint: EndpointRow; resumed: HeldDelivery[] }> {
    return this.db.run(scope, async (tx) => {
      const current = await lockEndpoint(tx, scope, id);
      if (expectedVersion !== undefined && current.version !== expectedVersion) throw new WebhookError(WebhookErrorCode.VersionMismatch);
      const changed = (Object.keys(wanted) as EditableField[]).filter((field) => !sameValue(current[field], wanted[field]));
      if (changed.length === 0) return { endpoint: current, resumed: [] };
      const data: Prisma.WebhookEndpointUpdateInput = Object.fromEntries(changed.map((field) => [field, wanted[field]]));
      // Another URL is another receiver: its predecessor's failure streak is not held against it.
      if (changed.includes('url')) data.failingSince = null;
      if (changed.includes('enabled')) {
        Object.assign(data, wanted.enabled ? { failingSince: null, disabledAt: null, disabledReason: null } : { disabledAt: now, disabledReason: 'manual' satisfies DisabledReason });
      }
      const updated = await tx.webhookEndpoint.update({ where: writableEndpoint(scope, id), data: { ...data, version: { increment: 1 }, updatedAt: now }, select: ENDPOINT_SELECT });
      const resumed = changed.includes('enabled') && wanted.enabled ? await resumeHeldDeliveries(tx, scope, id, now) : [];
      await this.audit.recordIn(tx, scope.tenantId, audit(changed));
      return { endpoint: updated, resumed };
    });
  }

  /** Deletes the endpoint with its deliveries and their log (queued attempts then find nothing to do). */
  async remove(scope: Scope, id: string, expectedVersion: number | undefined, audit: AuditEntry): Promise<void> {
    await this.db.run(scope, async (tx) => {
      const current = await lockEndpoint(tx, scope, id);
      if (expectedVersion !== undefined && current.version !== expectedVersion) throw new WebhookError(WebhookErrorCode.VersionMismatch);
      authorize(scope, 'delete', 'WebhookEndpoint', { tenantId: scope.tenantId, id }, () => new WebhookError(WebhookErrorCode.EndpointNotFound));
      await tx.webhookEndpoint.delete({ where: { tenantId_id: { tenantId: scope.tenantId, id }, AND: [accessibleWhere(scope.ability, 'delete', 'WebhookEndpoint')] }, select: { id: true } });
      await this.audit.recordIn(tx, scope.tenantId, audit);
    });
  }

  /**
   * Stores a new sealed secret; the current one becomes the previous one until
   * `previousSecretExpiresAt` (null: it is dropped at once, as is any older previous secret).
   */
  rotateSecret(scope: Scope, id: string, secretCiphertext: string, previousSecretExpiresAt: Date | null, now: Date, audit: AuditEntry): Promise<EndpointRow> {
    return this.db.run(scope, async (tx) => {
      await lockEndpoint(tx, scope, id);
      const stored = await tx.webhookEndpoint.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint'), { id }] }, select: { secretCiphertext: true } });
      if (!stored) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
      const rotated = await tx.webhookEndpoint.update({
        where: writableEndpoint(scope, id),
        data: {
          secretCiphertext,
          previousSecretCiphertext: previousSecretExpiresAt ? stored.secretCiphertext : null,
          previousSecretExpiresAt,
          version: { increment: 1 },
          updatedAt: now,
        },
        select: ENDPOINT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, audit);
      return rotated;
    });
  }
}

/** The endpoint the scope may read, in a transaction already open; null when missing or forbidden. */
export function readableEndpoint(tx: TenantTx, scope: Scope, id: string): Promise<EndpointRow | null> {
  return tx.webhookEndpoint.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'WebhookEndpoint'), { id }] }, select: ENDPOINT_SELECT });
}

/**
 * The endpoint the scope may change, its row locked until the transaction ends; missing and
 * forbidden are both "not found".
 */
async function lockEndpoint(tx: TenantTx, scope: Scope, id: string): Promise<EndpointRow> {
  await tx.$queryRaw`SELECT 1 FROM webhook_endpoints WHERE id = ${id}::uuid FOR UPDATE`;
  const row = await tx.webhookEndpoint.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint'), { id }] }, select: ENDPOINT_SELECT });
  if (!row) throw new WebhookError(WebhookErrorCode.EndpointNotFound);
  return row;
}

/** One row by primary key, and only if the scope may update it: the CASL condition rides along on the write too. */
const writableEndpoint = (scope: Scope, id: string): Prisma.WebhookEndpointWhereUniqueInput => ({
  tenantId_id: { tenantId: scope.tenantId, id },
  AND: [accessibleWhere(scope.ability, 'update', 'WebhookEndpoint')],
});

/**
 * Deliveries held back while the endpoint was off are due again. The first RESUME_QUEUED are
 * queued right after the commit; the sweeper queues the rest (and any whose enqueue is lost).
 * Held deliveries belong to the delivery system, so they are changed as its principal.
 */
async function resumeHeldDeliveries(tx: TenantTx, scope: Scope, endpointId: string, now: Date): Promise<HeldDelivery[]> {
  const system = WebhookDispatcher.scopeFor(scope.tenantId);
  const held = { AND: [accessibleWhere(system.ability, 'update', 'WebhookDelivery'), { endpointId, status: 'pending', nextAttemptAt: null }] };
  const first = await tx.webhookDelivery.findMany({ where: held, select: { id: true, attempts: true }, orderBy: [{ createdAt: 'asc' }, { id: 'asc' }], take: RESUME_QUEUED });
  await tx.webhookDelivery.updateMany({ where: held, data: { nextAttemptAt: now, updatedAt: now } });
  return first;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i]);
  return a === b;
}

import { Injectable } from '@nestjs/common';
import { AuditLog, successEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { accessibleWhere, type PartnerScope, type PartnerTier } from '@benteng/authz';
import { keysetWhere, TenantDatabase, type InTransaction, type PartnerEnvironment, type Prisma } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { iso } from './partner-audit.js';
import { CLIENT_SELECT, lockClient, readableClient, type ClientRow } from './partner-client-rows.js';
import { PartnerError, PartnerErrorCode } from './partner.errors.js';
import type { PartnerClientListQuery } from './partner.types.js';

export const MAX_PAGE_SIZE = 100;

export type EditableField = 'name' | 'scopes' | 'tier' | 'ipAllowlist' | 'requireSignatures' | 'expiresAt';
export type ClientChanges = Partial<Pick<ClientRow, EditableField>>;

export interface PartnerClientDraft {
  name: string;
  environment: PartnerEnvironment;
  scopes: PartnerScope[];
  tier: PartnerTier;
  ipAllowlist: string[];
  requireSignatures: boolean;
  secretHash: string;
  expiresAt: Date | null;
  createdById: string;
  createdAt: Date;
}

/**
 * Partner client persistence. Every method takes the Scope first and runs in one tenant
 * transaction; every change locks the client row first (partner-client-rows.ts), writes only where
 * the scope may update it, and records its audit event in the same transaction (AuditLog.recordIn,
 * last step), so two concurrent revocations or rotations see each other's result instead of both
 * acting. Nothing here reads a stored secret hash back (column grants).
 */
@Injectable()
export class PartnerClientsRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /** Newest first (keyset on createdAt, id), at most MAX_PAGE_SIZE. */
  list(scope: Scope, query: PartnerClientListQuery): Promise<ClientRow[]> {
    return this.db.run(scope, (tx) =>
      tx.partnerClient.findMany({
        where: {
          AND: [
            accessibleWhere(scope.ability, 'read', 'PartnerClient'),
            query.after ? (keysetWhere('createdAt', 'desc', query.after) as Prisma.PartnerClientWhereInput) : {},
          ],
        },
        select: CLIENT_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: Math.min(Math.max(query.limit, 1), MAX_PAGE_SIZE),
      }),
    );
  }

  /** Null when missing or not readable in this scope (another tenant's: the same answer). */
  get(scope: Scope, id: string): Promise<ClientRow | null> {
    return this.db.run(scope, (tx) => readableClient(tx, scope, id));
  }

  create(scope: Scope, draft: PartnerClientDraft, meta: RequestMeta, also?: InTransaction<ClientRow>): Promise<ClientRow> {
    const { createdAt, ...fields } = draft;
    return this.db.run(scope, async (tx) => {
      const created = await tx.partnerClient.create({
        data: { tenantId: scope.tenantId, ...fields, createdAt, updatedAt: createdAt },
        select: CLIENT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...successEntry(scope, 'partner.client_created', `partner_client:${created.id}`, meta),
        data: { environment: created.environment, tier: draft.tier, scopes: draft.scopes.join(' '), ipRanges: draft.ipAllowlist.length, requireSignatures: draft.requireSignatures, expiresAt: iso(draft.expiresAt) },
      });
      return created;
    }, { also });
  }

  /**
   * Writes the fields of `wanted` that differ from the stored ones. `expectedVersion` comes from
   * If-Match (412 when stale). A patch that changes nothing returns the client as it is,
   * unversioned and unaudited.
   */
  update(scope: Scope, id: string, wanted: ClientChanges, expectedVersion: number | undefined, now: Date, meta: RequestMeta): Promise<ClientRow> {
    return this.db.run(scope, async (tx) => {
      const current = await lockClient(tx, scope, id);
      if (expectedVersion !== undefined && current.version !== expectedVersion) throw new PartnerError(PartnerErrorCode.VersionMismatch);
      if (current.revokedAt) throw new PartnerError(PartnerErrorCode.ClientRevoked);
      const changed = (Object.keys(wanted) as EditableField[]).filter((field) => !sameValue(current[field], wanted[field]));
      if (changed.length === 0) return current;
      const data: Prisma.PartnerClientUpdateInput = Object.fromEntries(changed.map((field) => [field, wanted[field]]));
      const updated = await tx.partnerClient.update({
        where: writableClient(scope, current.id),
        data: { ...data, version: { increment: 1 }, updatedAt: now },
        select: CLIENT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, { ...successEntry(scope, 'partner.client_updated', `partner_client:${id}`, meta), data: { changed: changed.sort().join(' ') } });
      return updated;
    });
  }

  /** Revokes the client; revoking a revoked client changes nothing and is not audited again. */
  revoke(scope: Scope, id: string, now: Date, meta: RequestMeta): Promise<ClientRow> {
    return this.db.run(scope, async (tx) => {
      const current = await lockClient(tx, scope, id);
      if (current.revokedAt) return current;
      const revoked = await tx.partnerClient.update({
        where: writableClient(scope, current.id),
        data: { revokedAt: now, version: { increment: 1 }, updatedAt: now },
        select: CLIENT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, successEntry(scope, 'partner.client_revoked', `partner_client:${id}`, meta));
      return revoked;
    });
  }

  /** Stores the hash of a new client secret (the old one stops working at once); a revoked client is 409. */
  rotateSecret(scope: Scope, id: string, secretHash: string, now: Date, meta: RequestMeta): Promise<ClientRow> {
    return this.db.run(scope, async (tx) => {
      const current = await lockClient(tx, scope, id);
      if (current.revokedAt) throw new PartnerError(PartnerErrorCode.ClientRevoked);
      const rotated = await tx.partnerClient.update({
        where: writableClient(scope, current.id),
        data: { secretHash, version: { increment: 1 }, updatedAt: now },
        select: CLIENT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, successEntry(scope, 'partner.secret_rotated', `partner_client:${id}`, meta));
      return rotated;
    });
  }
}

/** One row by primary key, and only if the scope may update it: the CASL condition rides along on every write too. */
const writableClient = (scope: Scope, id: string): Prisma.PartnerClientWhereUniqueInput => ({
  tenantId_id: { tenantId: scope.tenantId, id },
  AND: [accessibleWhere(scope.ability, 'update', 'PartnerClient')],
});

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i]);
  return a === b;
}

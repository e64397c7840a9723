import { Injectable } from '@nestjs/common';
import { AuditLog, successEntry } from '@benteng/audit';
import { PartnerCredentials, type RequestMeta } from '@benteng/auth';
import { accessibleWhere, authorize } from '@benteng/authz';
import { TenantDatabase, type InTransaction, type Prisma, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { iso } from './partner-audit.js';
import { lockClient, readableClient, type ClientRow } from './partner-client-rows.js';
import { PartnerError, PartnerErrorCode } from './partner.errors.js';

/** GET /v1/partner-clients/:id/keys answers the newest keys of a client, up to this many. */
export const MAX_KEYS_LISTED = 100;

const KEY_SELECT = {
  id: true,
  prefix: true,
  environment: true,
  createdAt: true,
  expiresAt: true,
  lastUsedAt: true,
  revokedAt: true,
  replacedById: true,
} as const satisfies Prisma.PartnerApiKeySelect;
export type KeyRow = Prisma.PartnerApiKeyGetPayload<{ select: typeof KEY_SELECT }>;

/** A key in clear (returned once, never stored) and its stored row. */
export interface MintedKey {
  key: string;
  row: KeyRow;
}

const keyNotFound = () => new PartnerError(PartnerErrorCode.KeyNotFound);

/**
 * Partner API key persistence. Every method takes the Scope first and runs in one tenant
 * transaction; every change locks the key's client first and then the key (one lock order
 * everywhere, partner-client-rows.ts), and records its audit event in the same transaction. A new
 * key is minted here, in the environment of the client row just read, and only its HMAC is stored
 * (PartnerCredentials).
 */
@Injectable()
export class PartnerApiKeysRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly credentials: PartnerCredentials,
    private readonly audit: AuditLog,
  ) {}

  /** The client's keys, newest first (at most MAX_KEYS_LISTED); an unreadable client is 404. */
  list(scope: Scope, clientId: string): Promise<KeyRow[]> {
    return this.db.run(scope, async (tx) => {
      if (!(await readableClient(tx, scope, clientId))) throw new PartnerError(PartnerErrorCode.ClientNotFound);
      return tx.partnerApiKey.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'PartnerApiKey'), { clientId }] },
        select: KEY_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: MAX_KEYS_LISTED,
      });
    });
  }

  /** A new key in the client's environment; a revoked client is 409. */
  create(scope: Scope, clientId: string, input: { expiresAt: Date | null; createdById: string; now: Date }, meta: RequestMeta, also?: InTransaction<MintedKey>): Promise<MintedKey> {
    return this.db.run(scope, async (tx) => {
      const client = await lockClient(tx, scope, clientId);
      if (client.revokedAt) throw new PartnerError(PartnerErrorCode.ClientRevoked);
      const minted = await this.insertKey(tx, scope, client, input);
      await this.audit.recordIn(tx, scope.tenantId, {
        ...successEntry(scope, 'partner.key_created', `partner_key:${minted.row.id}`, meta),
        data: { clientId, credentialPrefix: minted.row.prefix, environment: minted.row.environment, expiresAt: iso(input.expiresAt) },
      });
      return minted;
    }, { also });
  }

  /**
   * Replaces a key with a new one of the same client, environment and expiry; the old key expires
   * at `overlapEnd` (or its own expiry, if sooner) and records which key replaced it. A key that was
   * already replaced, is revoked or has expired cannot be rotated (409).
   */
  rotate(scope: Scope, clientId: string, keyId: string, input: { createdById: string; now: Date; overlapEnd: Date }, meta: RequestMeta): Promise<MintedKey> {
    const { createdById, now, overlapEnd } = input;
    return this.db.run(scope, async (tx) => {
      const client = await lockClient(tx, scope, clientId);
      const old = await this.lockKey(tx, scope, client.id, keyId);
      if (client.revokedAt) throw new PartnerError(PartnerErrorCode.ClientRevoked);
      if (old.revokedAt) throw new PartnerError(PartnerErrorCode.KeyRevoked);
      if (old.replacedById) throw new PartnerError(PartnerErrorCode.KeyReplaced);
      if (old.expiresAt && old.expiresAt <= now) throw new PartnerError(PartnerErrorCode.KeyExpired);
      const minted = await this.insertKey(tx, scope, client, { expiresAt: old.expiresAt, createdById, now });
      const oldExpiresAt = old.expiresAt && old.expiresAt < overlapEnd ? old.expiresAt : overlapEnd;
      await tx.partnerApiKey.update({
        where: writableKey(scope, old.id),
        data: { replacedById: minted.row.id, expiresAt: oldExpiresAt },
        select: { id: true },
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...successEntry(scope, 'partner.key_rotated', `partner_key:${old.id}`, meta),
        data: { clientId, replacedById: minted.row.id, credentialPrefix: minted.row.prefix, previousPrefix: old.prefix, previousExpiresAt: iso(oldExpiresAt) },
      });
      return minted;
    });
  }

  /** Revokes one key; revoking a revoked key changes nothing and is not audited again. */
  revoke(scope: Scope, clientId: string, keyId: string, now: Date, meta: RequestMeta): Promise<KeyRow> {
    return this.db.run(scope, async (tx) => {
      const client = await lockClient(tx, scope, clientId);
      const current = await this.lockKey(tx, scope, client.id, keyId);
      if (current.revokedAt) return current;
      const revoked = await tx.partnerApiKey.update({
        where: writableKey(scope, current.id),
        data: { revokedAt: now },
        select: KEY_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...successEntry(scope, 'partner.key_revoked', `partner_key:${current.id}`, meta),
        data: { clientId, credentialPrefix: current.prefix },
      });
      return revoked;
    });
  }

  private async insertKey(tx: TenantTx, scope: Scope, client: ClientRow, input: { expiresAt: Date | null; createdById: string; now: Date }): Promise<MintedKey> {
    authorize(scope, 'create', 'PartnerApiKey', { tenantId: scope.tenantId, clientId: client.id }, () => new PartnerError(PartnerErrorCode.Forbidden));
    const { key, prefix, hash } = this.credentials.mintKey(client.environment);
    const row = await tx.partnerApiKey.create({
      data: { tenantId: scope.tenantId, clientId: client.id, prefix, keyHash: hash, environment: client.environment, expiresAt: input.expiresAt, createdById: input.createdById, createdAt: input.now },
      select: KEY_SELECT,
    });
    return { key, row };
  }

  /** A key of this client, locked (after its client: one lock order everywhere); missing and forbidden are both 404. */
  private async lockKey(tx: TenantTx, scope: Scope, clientId: string, keyId: string): Promise<KeyRow> {
    await tx.$queryRaw`SELECT 1 FROM partner_api_keys WHERE id = ${keyId}::uuid AND client_id = ${clientId}::uuid FOR UPDATE`;
    const locked = await tx.partnerApiKey.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'PartnerApiKey'), { id: keyId, clientId }] }, select: { ...KEY_SELECT, tenantId: true } });
    if (!locked) throw keyNotFound();
    const { tenantId, ...key } = locked;
    authorize(scope, 'update', 'PartnerApiKey', { tenantId }, keyNotFound);
    return key;
  }
}

/** One row by primary key, and only if the scope may update it: the CASL condition rides along on every write too. */
const writableKey = (scope: Scope, id: string): Prisma.PartnerApiKeyWhereUniqueInput => ({
  tenantId_id: { tenantId: scope.tenantId, id },
  AND: [accessibleWhere(scope.ability, 'update', 'PartnerApiKey')],
});

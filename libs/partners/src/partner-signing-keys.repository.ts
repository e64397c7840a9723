import { Injectable } from '@nestjs/common';
import { AuditLog, successEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { accessibleWhere, authorize, permits } from '@benteng/authz';
import { TenantDatabase, type Prisma, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { lockClient, readableClient } from './partner-client-rows.js';
import { PartnerError, PartnerErrorCode } from './partner.errors.js';
import type { SigningKeyMaterial } from './signing-key-material.js';

/** Most active signing keys one client may hold: enough for a rotation overlap across several deployments. */
export const MAX_ACTIVE_SIGNING_KEYS = 10;
/** GET /v1/partner-clients/:id/signing-keys answers the newest keys, up to this many. */
export const MAX_SIGNING_KEYS_LISTED = 100;

const SIGNING_KEY_SELECT = {
  id: true,
  clientId: true,
  keyid: true,
  alg: true,
  publicKey: true,
  label: true,
  createdAt: true,
  revokedAt: true,
  lastUsedAt: true,
} as const satisfies Prisma.PartnerSigningKeySelect;
export type SigningKeyRow = Prisma.PartnerSigningKeyGetPayload<{ select: typeof SIGNING_KEY_SELECT }>;

/** What the request gate needs to know about one client to decide on a signature (one statement). */
export interface SigningState {
  /** The client's flag: every request must be signed. */
  requireSignatures: boolean;
  /** At least one key is registered and not revoked: high-trust routes then need a signature. */
  hasActiveKey: boolean;
  /** The key the signature names, if it exists in the client's tenant (of whichever client). */
  key: SigningKeyRow | null;
}

/** One row of tenant_partner_signing_state: each part null when there is no such row (left joins). */
interface SigningStateRow {
  clientTenantId: string | null;
  clientId: string | null;
  requireSignatures: boolean | null;
  activeKeyTenantId: string | null;
  activeKeyClientId: string | null;
  activeKeyId: string | null;
  keyTenantId: string | null;
  keyId: string | null;
  keyClientId: string | null;
  keyid: string | null;
  alg: string | null;
  publicKey: string | null;
  label: string | null;
  keyCreatedAt: Date | null;
  keyRevokedAt: Date | null;
  keyLastUsedAt: Date | null;
}

const signingKeyNotFound = () => new PartnerError(PartnerErrorCode.SigningKeyNotFound);

/**
 * Request-signing public keys of partner clients (RFC 9421). Every method takes the Scope first and
 * runs in one tenant transaction; changes lock the client first, then the key (the lock order of
 * partner-client-rows.ts), and record their audit event in the same transaction.
 */
@Injectable()
export class PartnerSigningKeysRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /** The client's keys, newest first; an unreadable client is 404. */
  list(scope: Scope, clientId: string): Promise<SigningKeyRow[]> {
    return this.db.run(scope, async (tx) => {
      if (!(await readableClient(tx, scope, clientId))) throw new PartnerError(PartnerErrorCode.ClientNotFound);
      return tx.partnerSigningKey.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'PartnerSigningKey'), { clientId }] },
        select: SIGNING_KEY_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: MAX_SIGNING_KEYS_LISTED,
      });
    });
  }

  /** Registers a public key; a revoked client, a key already known in the tenant or too many active keys is 409. */
  register(scope: Scope, clientId: string, input: { material: SigningKeyMaterial; label: string | null; createdById: string; now: Date }, meta: RequestMeta): Promise<SigningKeyRow> {
    return this.db.run(scope, async (tx) => {
      const client = await lockClient(tx, scope, clientId);
      if (client.revokedAt) throw new PartnerError(PartnerErrorCode.ClientRevoked);
      authorize(scope, 'create', 'PartnerSigningKey', { tenantId: scope.tenantId, clientId: client.id }, () => new PartnerError(PartnerErrorCode.Forbidden));
      const readable = accessibleWhere(scope.ability, 'read', 'PartnerSigningKey');
      if (await tx.partnerSigningKey.findFirst({ where: { AND: [readable, { keyid: input.material.keyid }] }, select: { id: true } })) throw new PartnerError(PartnerErrorCode.SigningKeyExists);
      const active = await tx.partnerSigningKey.count({ where: { AND: [readable, { clientId: client.id, revokedAt: null }] } });
      if (active >= MAX_ACTIVE_SIGNING_KEYS) throw new PartnerError(PartnerErrorCode.TooManySigningKeys);
      const row = await tx.partnerSigningKey.create({
        data: { tenantId: scope.tenantId, clientId: client.id, keyid: input.material.keyid, alg: 'ed25519', publicKey: input.material.publicKeyPem, label: input.label, createdById: input.createdById, createdAt: input.now },
        select: SIGNING_KEY_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...successEntry(scope, 'partner.signing_key_registered', `partner_signing_key:${row.id}`, meta),
        data: { clientId, thumbprint: row.keyid, alg: row.alg, label: row.label },
      });
      return row;
    });
  }

  /** Revokes one key; revoking a revoked key changes nothing and is not audited again. */
  revoke(scope: Scope, clientId: string, id: string, now: Date, meta: RequestMeta): Promise<SigningKeyRow> {
    return this.db.run(scope, async (tx) => {
      const client = await lockClient(tx, scope, clientId);
      const current = await this.lockKey(tx, scope, client.id, id);
      if (current.revokedAt) return current;
      const revoked = await tx.partnerSigningKey.update({
        where: { tenantId_id: { tenantId: scope.tenantId, id: current.id }, AND: [accessibleWhere(scope.ability, 'update', 'PartnerSigningKey')] },
        data: { revokedAt: now },
        select: SIGNING_KEY_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...successEntry(scope, 'partner.signing_key_revoked', `partner_signing_key:${current.id}`, meta),
        data: { clientId, thumbprint: current.keyid },
      });
      return revoked;
    });
  }

  /**
   * The gate's question for one request of `clientId` (a system Scope of the client's tenant): the
   * client's flag, whether it has an active key, and the key named `keyid` in this tenant (RLS: a
   * key of another tenant is simply not there). Asked on every /partner/v1 request, so it is one
   * statement through the tenant function `tenant_partner_signing_state` (TenantDatabase.readThrough:
   * one round trip instead of the six of a transaction with three SELECTs; prisma/migrations/
   * 20261207177000_hot_path_functions). RLS applies inside the function, and the CASL read rule is
   * applied here to each row it returns, as `accessibleWhere` did in the WHERE clauses: a row the
   * ability may not read counts as missing.
   */
  async signingState(scope: Scope, clientId: string, keyid: string | undefined): Promise<SigningState> {
    const [row] = await this.db.readThrough(scope, (client, tenantId) =>
      client.$queryRaw<SigningStateRow[]>`SELECT * FROM tenant_partner_signing_state(${tenantId}::uuid, ${clientId}::uuid, ${keyid ?? null})`,
    );
    const readableClient = row?.clientId != null && permits(scope, 'read', 'PartnerClient', { tenantId: row.clientTenantId!, id: row.clientId });
    const active = row?.activeKeyId != null && permits(scope, 'read', 'PartnerSigningKey', { tenantId: row.activeKeyTenantId!, id: row.activeKeyId, clientId: row.activeKeyClientId! });
    const key: SigningKeyRow | null =
      row?.keyId != null && permits(scope, 'read', 'PartnerSigningKey', { tenantId: row.keyTenantId!, id: row.keyId, clientId: row.keyClientId! })
        ? { id: row.keyId, clientId: row.keyClientId!, keyid: row.keyid!, alg: row.alg!, publicKey: row.publicKey!, label: row.label, createdAt: row.keyCreatedAt!, revokedAt: row.keyRevokedAt, lastUsedAt: row.keyLastUsedAt }
        : null;
    // A client that cannot be read fails closed: treated as requiring signatures.
    return { requireSignatures: readableClient ? row.requireSignatures! : true, hasActiveKey: active, key };
  }

  /** Records that a key verified a request at `now` (at most once a minute per key, by the caller). */
  async touch(scope: Scope, id: string, now: Date): Promise<void> {
    await this.db.run(scope, (tx) => tx.partnerSigningKey.updateMany({ where: { AND: [accessibleWhere(scope.ability, 'update', 'PartnerSigningKey'), { id }] }, data: { lastUsedAt: now } }));
  }

  private async lockKey(tx: TenantTx, scope: Scope, clientId: string, id: string): Promise<SigningKeyRow> {
    await tx.$queryRaw`SELECT 1 FROM partner_signing_keys WHERE id = ${id}::uuid AND client_id = ${clientId}::uuid FOR UPDATE`;
    const locked = await tx.partnerSigningKey.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'PartnerSigningKey'), { id, clientId }] }, select: { ...SIGNING_KEY_SELECT, tenantId: true } });
    if (!locked) throw signingKeyNotFound();
    const { tenantId, ...key } = locked;
    authorize(scope, 'update', 'PartnerSigningKey', { tenantId }, signingKeyNotFound);
    return key;
  }
}

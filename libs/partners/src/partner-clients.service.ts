import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import { AuditLog, type AuditDataValue, type AuditEntry } from '@benteng/audit';
import { PartnerCredentials, type RequestMeta } from '@benteng/auth';
import { accessibleWhere, PARTNER_SCOPES, principalId, type PartnerScope, type PartnerTier } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { keysetWhere, TenantDatabase, type Prisma, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { normalizeIpAllowlist } from './ip-allowlist.js';
import { PartnerError, PartnerErrorCode } from './partner.errors.js';
import type {
  NewPartnerClient,
  NewPartnerKey,
  PartnerClientListQuery,
  PartnerClientPatch,
  PartnerClientStatus,
  PartnerClientView,
  PartnerKeyView,
  WithApiKey,
  WithClientSecret,
} from './partner.types.js';

export const MAX_PAGE_SIZE = 100;
/** GET /v1/partner-clients/:id/keys answers the newest keys of a client, up to this many. */
export const MAX_KEYS_LISTED = 100;

/**
 * Every column the runtime role may read, and nothing else: Prisma reads all scalar columns unless
 * told otherwise, and secret_hash / key_hash are withheld from benteng_app by column grants (a
 * default select would fail with "permission denied", which is the point of the grants).
 */
const CLIENT_SELECT = {
  id: true,
  name: true,
  environment: true,
  scopes: true,
  tier: true,
  ipAllowlist: true,
  expiresAt: true,
  revokedAt: true,
  createdAt: true,
  updatedAt: true,
  version: true,
} as const satisfies Prisma.PartnerClientSelect;
type ClientRow = Prisma.PartnerClientGetPayload<{ select: typeof CLIENT_SELECT }>;
type EditableField = 'name' | 'scopes' | 'tier' | 'ipAllowlist' | 'expiresAt';

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
type KeyRow = Prisma.PartnerApiKeyGetPayload<{ select: typeof KEY_SELECT }>;

/** Scopes in one canonical order, so a reordered list is no change and lists compare as strings. */
const canonicalScopes = (scopes: readonly string[]): PartnerScope[] => PARTNER_SCOPES.filter((s) => scopes.includes(s));

const keyView = (k: KeyRow): PartnerKeyView => ({ ...k });

/**
 * Partner clients and their API keys, managed by tenant owners and admins on /v1 (the partner
 * surface that uses them is /partner/v1). Credentials are made here, returned in clear once by the
 * call that made them, and stored only as HMACs (PartnerCredentials); nothing here can read a
 * stored hash back (column grants).
 *
 * Every change is audited in the same transaction as the change (AuditLog.recordIn, last step), and
 * each change first locks the client row (and then the key row: always in that order), so two
 * concurrent revocations or rotations see each other's result instead of both acting.
 */
@Injectable()
export class PartnerClientsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly credentials: PartnerCredentials,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  async list(scope: Scope, query: PartnerClientListQuery): Promise<PartnerClientView[]> {
    const rows = await this.db.run(scope, (tx) =>
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
    const now = this.clock.now();
    return rows.map((row) => this.clientView(row, now));
  }

  /** Missing and another tenant's client are the same answer: not found (invariant 5). */
  async get(scope: Scope, id: string): Promise<PartnerClientView> {
    const row = await this.db.run(scope, (tx) => this.readableClient(tx, scope, id, 'read'));
    if (!row) throw new PartnerError(PartnerErrorCode.ClientNotFound);
    return this.clientView(row, this.clock.now());
  }

  async create(scope: Scope, input: NewPartnerClient, meta: RequestMeta): Promise<WithClientSecret> {
    const createdById = this.userOf(scope);
    if (!scope.ability.can('create', subject('PartnerClient', { tenantId: scope.tenantId } as never))) throw new PartnerError(PartnerErrorCode.Forbidden);
    const now = this.clock.now();
    const expiresAt = this.futureOrNull(input.expiresAt, now);
    const ipAllowlist = this.allowlist(input.ipAllowlist ?? []);
    const scopes = canonicalScopes(input.scopes);
    const tier: PartnerTier = input.tier ?? 'standard';
    const { secret, hash } = this.credentials.mintClientSecret();
    const row = await this.db.run(scope, async (tx) => {
      const created = await tx.partnerClient.create({
        data: { tenantId: scope.tenantId, name: input.name, environment: input.environment, scopes, tier, ipAllowlist, secretHash: hash, expiresAt, createdById, createdAt: now, updatedAt: now },
        select: CLIENT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...this.entry(scope, 'partner.client_created', `partner_client:${created.id}`, meta),
        data: { environment: created.environment, tier, scopes: scopes.join(' '), ipRanges: ipAllowlist.length, expiresAt: iso(expiresAt) },
      });
      return created;
    });
    return { client: this.clientView(row, now), clientSecret: secret };
  }

  /**
   * Changes metadata. `expectedVersion` comes from If-Match (412 when stale). A patch that changes
   * nothing returns the client as it is, unversioned and unaudited.
   */
  async update(scope: Scope, id: string, patch: PartnerClientPatch, expectedVersion: number | undefined, meta: RequestMeta): Promise<PartnerClientView> {
    const now = this.clock.now();
    const wanted: Partial<Pick<ClientRow, EditableField>> = {};
    if (patch.name !== undefined) wanted.name = patch.name;
    if (patch.scopes !== undefined) wanted.scopes = canonicalScopes(patch.scopes);
    if (patch.tier !== undefined) wanted.tier = patch.tier;
    if (patch.ipAllowlist !== undefined) wanted.ipAllowlist = this.allowlist(patch.ipAllowlist);
    if (patch.expiresAt !== undefined) wanted.expiresAt = this.futureOrNull(patch.expiresAt, now);

    const row = await this.db.run(scope, async (tx) => {
      const current = await this.lockClient(tx, scope, id);
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
      await this.audit.recordIn(tx, scope.tenantId, { ...this.entry(scope, 'partner.client_updated', `partner_client:${id}`, meta), data: { changed: changed.sort().join(' ') } });
      return updated;
    });
    return this.clientView(row, now);
  }

  /**
   * Revokes the client: every key and token of it is refused from the next request on (the partner
   * surface reads the client's revoked_at on each one). Revoking a revoked client changes nothing
   * and is not audited again.
   */
  async revoke(scope: Scope, id: string, meta: RequestMeta): Promise<PartnerClientView> {
    const now = this.clock.now();
    const row = await this.db.run(scope, async (tx) => {
      const current = await this.lockClient(tx, scope, id);
      if (current.revokedAt) return current;
      const revoked = await tx.partnerClient.update({
        where: writableClient(scope, current.id),
        data: { revokedAt: now, version: { increment: 1 }, updatedAt: now },
        select: CLIENT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, this.entry(scope, 'partner.client_revoked', `partner_client:${id}`, meta));
      return revoked;
    });
    return this.clientView(row, now);
  }

  /** A new client secret; the old one stops working at once (no overlap: rotate keys for that). */
  async rotateSecret(scope: Scope, id: string, meta: RequestMeta): Promise<WithClientSecret> {
    const now = this.clock.now();
    const { secret, hash } = this.credentials.mintClientSecret();
    const row = await this.db.run(scope, async (tx) => {
      const current = await this.lockClient(tx, scope, id);
      if (current.revokedAt) throw new PartnerError(PartnerErrorCode.ClientRevoked);
      const rotated = await tx.partnerClient.update({
        where: writableClient(scope, current.id),
        data: { secretHash: hash, version: { increment: 1 }, updatedAt: now },
        select: CLIENT_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, this.entry(scope, 'partner.secret_rotated', `partner_client:${id}`, meta));
      return rotated;
    });
    return { client: this.clientView(row, now), clientSecret: secret };
  }

  /** The client's keys, newest first (at most MAX_KEYS_LISTED). */
  async listKeys(scope: Scope, clientId: string): Promise<PartnerKeyView[]> {
    const rows = await this.db.run(scope, async (tx) => {
      if (!(await this.readableClient(tx, scope, clientId, 'read'))) throw new PartnerError(PartnerErrorCode.ClientNotFound);
      return tx.partnerApiKey.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'PartnerApiKey'), { clientId }] },
        select: KEY_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: MAX_KEYS_LISTED,
      });
    });
    return rows.map(keyView);
  }

  /** A new API key in the client's environment. */
  async createKey(scope: Scope, clientId: string, input: NewPartnerKey, meta: RequestMeta): Promise<WithApiKey> {
    const createdById = this.userOf(scope);
    const now = this.clock.now();
    const expiresAt = this.futureOrNull(input.expiresAt, now);
    return this.db.run(scope, async (tx) => {
      const client = await this.lockClient(tx, scope, clientId);
      if (client.revokedAt) throw new PartnerError(PartnerErrorCode.ClientRevoked);
      const { key, row } = await this.insertKey(tx, scope, client, { expiresAt, createdById, now });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...this.entry(scope, 'partner.key_created', `partner_key:${row.id}`, meta),
        data: { clientId, credentialPrefix: row.prefix, environment: row.environment, expiresAt: iso(expiresAt) },
      });
      return { key: keyView(row), apiKey: key };
    });
  }

  /**
   * Replaces a key with a new one of the same client, environment and expiry. The old key keeps
   * working for PARTNER_KEY_ROTATION_OVERLAP_S (never longer than it would have anyway), so the
   * partner can deploy the new key without downtime; it records which key replaced it. A key that
   * was already replaced, is revoked or has expired cannot be rotated (409).
   */
  async rotateKey(scope: Scope, clientId: string, keyId: string, meta: RequestMeta): Promise<WithApiKey> {
    const createdById = this.userOf(scope);
    const now = this.clock.now();
    const overlapEnd = new Date(now.getTime() + this.config.PARTNER_KEY_ROTATION_OVERLAP_S * 1000);
    return this.db.run(scope, async (tx) => {
      const client = await this.lockClient(tx, scope, clientId);
      const old = await this.lockKey(tx, scope, client.id, keyId);
      if (client.revokedAt) throw new PartnerError(PartnerErrorCode.ClientRevoked);
      if (old.revokedAt) throw new PartnerError(PartnerErrorCode.KeyRevoked);
      if (old.replacedById) throw new PartnerError(PartnerErrorCode.KeyReplaced);
      if (old.expiresAt && old.expiresAt <= now) throw new PartnerError(PartnerErrorCode.KeyExpired);
      const { key, row } = await this.insertKey(tx, scope, client, { expiresAt: old.expiresAt, createdById, now });
      const oldExpiresAt = old.expiresAt && old.expiresAt < overlapEnd ? old.expiresAt : overlapEnd;
      await tx.partnerApiKey.update({
        where: writableKey(scope, old.id),
        data: { replacedById: row.id, expiresAt: oldExpiresAt },
        select: { id: true },
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...this.entry(scope, 'partner.key_rotated', `partner_key:${old.id}`, meta),
        data: { clientId, replacedById: row.id, credentialPrefix: row.prefix, previousPrefix: old.prefix, previousExpiresAt: iso(oldExpiresAt) },
      });
      return { key: keyView(row), apiKey: key };
    });
  }

  /**
   * Revokes one key from the next request on (also a rotated key still in its overlap). Revoking a
   * revoked key changes nothing and is not audited again. Works on a revoked client too.
   */
  async revokeKey(scope: Scope, clientId: string, keyId: string, meta: RequestMeta): Promise<PartnerKeyView> {
    const now = this.clock.now();
    const row = await this.db.run(scope, async (tx) => {
      const client = await this.lockClient(tx, scope, clientId);
      const current = await this.lockKey(tx, scope, client.id, keyId);
      if (current.revokedAt) return current;
      const revoked = await tx.partnerApiKey.update({
        where: writableKey(scope, current.id),
        data: { revokedAt: now },
        select: KEY_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, {
        ...this.entry(scope, 'partner.key_revoked', `partner_key:${current.id}`, meta),
        data: { clientId, credentialPrefix: current.prefix },
      });
      return revoked;
    });
    return keyView(row);
  }

  private async insertKey(tx: TenantTx, scope: Scope, client: ClientRow, input: { expiresAt: Date | null; createdById: string; now: Date }): Promise<{ key: string; row: KeyRow }> {
    if (!scope.ability.can('create', subject('PartnerApiKey', { tenantId: scope.tenantId, clientId: client.id } as never))) throw new PartnerError(PartnerErrorCode.Forbidden);
    const { key, prefix, hash } = this.credentials.mintKey(client.environment);
    const row = await tx.partnerApiKey.create({
      data: { tenantId: scope.tenantId, clientId: client.id, prefix, keyHash: hash, environment: client.environment, expiresAt: input.expiresAt, createdById: input.createdById, createdAt: input.now },
      select: KEY_SELECT,
    });
    return { key, row };
  }

  private readableClient(tx: TenantTx, scope: Scope, id: string, action: 'read' | 'update'): Promise<ClientRow | null> {
    return tx.partnerClient.findFirst({ where: { AND: [accessibleWhere(scope.ability, action, 'PartnerClient'), { id }] }, select: CLIENT_SELECT });
  }

  /**
   * The client the scope may change, its row locked until the transaction ends; missing and
   * forbidden are both "not found". The lock is taken first, so the state read after it is the one
   * the write will change.
   */
  private async lockClient(tx: TenantTx, scope: Scope, id: string): Promise<ClientRow> {
    await tx.$queryRaw`SELECT 1 FROM partner_clients WHERE id = ${id}::uuid FOR UPDATE`;
    const client = await this.readableClient(tx, scope, id, 'update');
    if (!client) throw new PartnerError(PartnerErrorCode.ClientNotFound);
    return client;
  }

  /** A key of this client, locked (after its client: one lock order everywhere). */
  private async lockKey(tx: TenantTx, scope: Scope, clientId: string, keyId: string): Promise<KeyRow> {
    await tx.$queryRaw`SELECT 1 FROM partner_api_keys WHERE id = ${keyId}::uuid AND client_id = ${clientId}::uuid FOR UPDATE`;
    const key = await tx.partnerApiKey.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'update', 'PartnerApiKey'), { id: keyId, clientId }] }, select: KEY_SELECT });
    if (!key) throw new PartnerError(PartnerErrorCode.KeyNotFound);
    return key;
  }

  private clientView(row: ClientRow, now: Date): PartnerClientView {
    return { ...row, scopes: canonicalScopes(row.scopes), tier: row.tier, status: statusOf(row, now) };
  }

  /** Credentials are made by people: the user is recorded as creator (and audited as the actor). */
  private userOf(scope: Scope): string {
    if (scope.principal.kind !== 'user') throw new PartnerError(PartnerErrorCode.Forbidden);
    return scope.principal.userId;
  }

  private futureOrNull(value: Date | null | undefined, now: Date): Date | null {
    if (value === undefined || value === null) return null;
    if (value.getTime() <= now.getTime()) throw new PartnerError(PartnerErrorCode.ExpiryInPast);
    return value;
  }

  private allowlist(entries: readonly string[]): string[] {
    const normalized = normalizeIpAllowlist(entries);
    if (!normalized) throw new PartnerError(PartnerErrorCode.InvalidIpAllowlist);
    return normalized;
  }

  private entry(scope: Scope, type: AuditEntry['type'], subjectRef: string, meta: RequestMeta): AuditEntry {
    return { type, outcome: 'success', actor: principalId(scope.principal), subject: subjectRef, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
  }
}

/** One row by primary key, and only if the scope may update it: the CASL condition rides along on every write too. */
const writableClient = (scope: Scope, id: string): Prisma.PartnerClientWhereUniqueInput => ({
  tenantId_id: { tenantId: scope.tenantId, id },
  AND: [accessibleWhere(scope.ability, 'update', 'PartnerClient')],
});
const writableKey = (scope: Scope, id: string): Prisma.PartnerApiKeyWhereUniqueInput => ({
  tenantId_id: { tenantId: scope.tenantId, id },
  AND: [accessibleWhere(scope.ability, 'update', 'PartnerApiKey')],
});

function statusOf(client: { revokedAt: Date | null; expiresAt: Date | null }, now: Date): PartnerClientStatus {
  if (client.revokedAt) return 'revoked';
  if (client.expiresAt && client.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

const iso = (value: Date | null): AuditDataValue => value?.toISOString() ?? null;

function sameValue(a: unknown, b: unknown): boolean {
  if (a instanceof Date || b instanceof Date) return a instanceof Date && b instanceof Date ? a.getTime() === b.getTime() : a === b;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((item, i) => item === b[i]);
  return a === b;
}

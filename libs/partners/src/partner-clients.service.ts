import { Injectable } from '@nestjs/common';
import { PartnerCredentials, type RequestMeta } from '@benteng/auth';
import { authorize, PARTNER_SCOPES, type PartnerScope, type PartnerTier } from '@benteng/authz';
import { Clock } from '@benteng/common';
import type { InTransaction } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { creatorOf, futureOrNull } from './credential-rules.js';
import { normalizeIpAllowlist } from './ip-allowlist.js';
import type { ClientRow } from './partner-client-rows.js';
import { PartnerClientsRepository, type ClientChanges } from './partner-clients.repository.js';
import { PartnerError, PartnerErrorCode } from './partner.errors.js';
import type { NewPartnerClient, PartnerClientListQuery, PartnerClientPatch, PartnerClientStatus, PartnerClientView, WithClientSecret } from './partner.types.js';

/** Scopes in one canonical order, so a reordered list is no change and lists compare as strings. */
const canonicalScopes = (scopes: readonly string[]): PartnerScope[] => PARTNER_SCOPES.filter((s) => scopes.includes(s));

/**
 * Partner clients, managed by tenant owners and admins on /v1 (the partner surface that uses them
 * is /partner/v1; their API keys: PartnerApiKeysService). A client secret is made here, returned in
 * clear once by the call that made it, and stored only as an HMAC (PartnerCredentials).
 * Persistence, locking and the audit trail: PartnerClientsRepository.
 */
@Injectable()
export class PartnerClientsService {
  constructor(
    private readonly clients: PartnerClientsRepository,
    private readonly credentials: PartnerCredentials,
    private readonly clock: Clock,
  ) {}

  async list(scope: Scope, query: PartnerClientListQuery): Promise<PartnerClientView[]> {
    const rows = await this.clients.list(scope, query);
    const now = this.clock.now();
    return rows.map((row) => clientView(row, now));
  }

  /** Missing and another tenant's client are the same answer: not found (invariant 5). */
  async get(scope: Scope, id: string): Promise<PartnerClientView> {
    const row = await this.clients.get(scope, id);
    if (!row) throw new PartnerError(PartnerErrorCode.ClientNotFound);
    return clientView(row, this.clock.now());
  }

  /**
   * `also` runs in the create's transaction (an Idempotency-Key's answer: apps/api/src/http/idempotency.ts);
   * it sees the client's view, never its secret.
   */
  async create(scope: Scope, input: NewPartnerClient, meta: RequestMeta, also?: InTransaction<PartnerClientView>): Promise<WithClientSecret> {
    const createdById = creatorOf(scope);
    authorize(scope, 'create', 'PartnerClient', { tenantId: scope.tenantId }, () => new PartnerError(PartnerErrorCode.Forbidden));
    const now = this.clock.now();
    const expiresAt = futureOrNull(input.expiresAt, now);
    const ipAllowlist = allowlist(input.ipAllowlist ?? []);
    const scopes = canonicalScopes(input.scopes);
    const tier: PartnerTier = input.tier ?? 'standard';
    const { secret, hash } = this.credentials.mintClientSecret();
    const row = await this.clients.create(scope, { name: input.name, environment: input.environment, scopes, tier, ipAllowlist, requireSignatures: input.requireSignatures ?? false, secretHash: hash, expiresAt, createdById, createdAt: now }, meta, also ? (tx, created) => also(tx, clientView(created, now)) : undefined);
    return { client: clientView(row, now), clientSecret: secret };
  }

  /**
   * Changes metadata. `expectedVersion` comes from If-Match (412 when stale). A patch that changes
   * nothing returns the client as it is, unversioned and unaudited.
   */
  async update(scope: Scope, id: string, patch: PartnerClientPatch, expectedVersion: number | undefined, meta: RequestMeta): Promise<PartnerClientView> {
    const now = this.clock.now();
    const wanted: ClientChanges = {};
    if (patch.name !== undefined) wanted.name = patch.name;
    if (patch.scopes !== undefined) wanted.scopes = canonicalScopes(patch.scopes);
    if (patch.tier !== undefined) wanted.tier = patch.tier;
    if (patch.ipAllowlist !== undefined) wanted.ipAllowlist = allowlist(patch.ipAllowlist);
    if (patch.requireSignatures !== undefined) wanted.requireSignatures = patch.requireSignatures;
    if (patch.expiresAt !== undefined) wanted.expiresAt = futureOrNull(patch.expiresAt, now);
    return clientView(await this.clients.update(scope, id, wanted, expectedVersion, now, meta), now);
  }

  /**
   * Revokes the client: every key and token of it is refused from the next request on (the partner
   * surface reads the client's revoked_at on each one). Revoking a revoked client changes nothing
   * and is not audited again.
   */
  async revoke(scope: Scope, id: string, meta: RequestMeta): Promise<PartnerClientView> {
    const now = this.clock.now();
    return clientView(await this.clients.revoke(scope, id, now, meta), now);
  }

  /** A new client secret; the old one stops working at once (no overlap: rotate keys for that). */
  async rotateSecret(scope: Scope, id: string, meta: RequestMeta): Promise<WithClientSecret> {
    const now = this.clock.now();
    const { secret, hash } = this.credentials.mintClientSecret();
    const row = await this.clients.rotateSecret(scope, id, hash, now, meta);
    return { client: clientView(row, now), clientSecret: secret };
  }
}

function clientView(row: ClientRow, now: Date): PartnerClientView {
  return { ...row, scopes: canonicalScopes(row.scopes), tier: row.tier, status: statusOf(row, now) };
}

function statusOf(client: { revokedAt: Date | null; expiresAt: Date | null }, now: Date): PartnerClientStatus {
  if (client.revokedAt) return 'revoked';
  if (client.expiresAt && client.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

function allowlist(entries: readonly string[]): string[] {
  const normalized = normalizeIpAllowlist(entries);
  if (!normalized) throw new PartnerError(PartnerErrorCode.InvalidIpAllowlist);
  return normalized;
}

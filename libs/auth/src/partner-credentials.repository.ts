import { Injectable } from '@nestjs/common';
import { accessibleWhere, type PartnerTier } from '@benteng/authz';
import { PrismaService, TenantDatabase, type TenantStatus } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { PartnerEnvironment } from './partner-credentials.js';

/** A partner client's current state, and its tenant's, as both lookup functions answer it. */
export interface PartnerClientState {
  tenant_id: string;
  tenant_status: TenantStatus;
  client_id: string;
  environment: PartnerEnvironment;
  expires_at: Date | null;
  revoked_at: Date | null;
  scopes: string[];
  tier: PartnerTier;
  ip_allowlist: string[];
}

/** An API key with its client's state (partner_key_lookup). */
export interface PartnerKeyRow extends PartnerClientState {
  key_id: string;
  key_hash: string;
  key_expires_at: Date | null;
  key_revoked_at: Date | null;
  last_used_at: Date | null;
  client_expires_at: Date | null;
  client_revoked_at: Date | null;
}

/** A client with its secret's hash (partner_client_lookup). */
export interface PartnerClientRow extends PartnerClientState {
  secret_hash: string;
}

/**
 * The partner credentials as authentication reads them: a presented key or client is found, before
 * any tenant is known, through the named SECURITY DEFINER functions partner_key_lookup and
 * partner_client_lookup (docs/architecture.md, invariant 4); a key's last use is written in its
 * tenant's transaction.
 */
@Injectable()
export class PartnerCredentialsRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
  ) {}

  /** The key whose lookup prefix is `prefix`, with its client's state (partner_key_lookup). */
  async partnerKeyLookup(prefix: string): Promise<PartnerKeyRow | undefined> {
    const [row] = await this.prisma.client.$queryRaw<PartnerKeyRow[]>`SELECT * FROM partner_key_lookup(${prefix})`;
    return row;
  }

  /** The client `clientId`, with its state (partner_client_lookup). */
  async partnerClientLookup(clientId: string): Promise<PartnerClientRow | undefined> {
    const [row] = await this.prisma.client.$queryRaw<PartnerClientRow[]>`SELECT * FROM partner_client_lookup(${clientId}::uuid)`;
    return row;
  }

  /** Records that the key `keyId` was used at `now`. */
  async touchKey(scope: Scope, keyId: string, now: Date): Promise<void> {
    await this.db.run(scope, (tx) =>
      tx.partnerApiKey.updateMany({ where: { AND: [accessibleWhere(scope.ability, 'update', 'PartnerApiKey'), { id: keyId }] }, data: { lastUsedAt: now } }),
    );
  }
}

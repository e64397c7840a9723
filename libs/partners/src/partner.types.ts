import type { PartnerScope, PartnerTier } from '@benteng/authz';
import type { Keyset, PartnerEnvironment } from '@benteng/database';

export type PartnerClientStatus = 'active' | 'revoked' | 'expired';

/** A partner client as the management API sees it: never its secret or the secret's hash. */
export interface PartnerClientView {
  id: string;
  name: string;
  environment: PartnerEnvironment;
  scopes: PartnerScope[];
  tier: PartnerTier;
  ipAllowlist: string[];
  /** Every /partner/v1 request must carry a valid RFC 9421 signature (docs/request-signing.md). */
  requireSignatures: boolean;
  expiresAt: Date | null;
  revokedAt: Date | null;
  status: PartnerClientStatus;
  createdAt: Date;
  updatedAt: Date;
  version: number;
}

/** An API key's metadata: the prefix is the non-secret lookup handle; the key itself is never kept. */
export interface PartnerKeyView {
  id: string;
  prefix: string;
  environment: PartnerEnvironment;
  createdAt: Date;
  expiresAt: Date | null;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
  replacedById: string | null;
}

/** A credential in clear, returned by the call that made it and never again. */
export interface WithClientSecret {
  client: PartnerClientView;
  clientSecret: string;
}
export interface WithApiKey {
  key: PartnerKeyView;
  apiKey: string;
}

export interface NewPartnerClient {
  name: string;
  environment: PartnerEnvironment;
  scopes: readonly PartnerScope[];
  tier?: PartnerTier;
  /** CIDR ranges; normalized before they are stored. */
  ipAllowlist?: readonly string[];
  requireSignatures?: boolean;
  expiresAt?: Date | null;
}

/** The metadata an admin may change; credentials change only through rotation and revocation. */
export interface PartnerClientPatch {
  name?: string;
  scopes?: readonly PartnerScope[];
  tier?: PartnerTier;
  ipAllowlist?: readonly string[];
  requireSignatures?: boolean;
  /** null: never expires. */
  expiresAt?: Date | null;
}

export interface PartnerClientListQuery {
  limit: number;
  /** createdAt and id of the last client of the previous page (newest first). */
  after?: Keyset;
}

export interface NewPartnerKey {
  expiresAt?: Date | null;
}

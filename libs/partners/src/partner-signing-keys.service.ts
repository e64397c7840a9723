import { Injectable } from '@nestjs/common';
import type { RequestMeta } from '@benteng/auth';
import { Clock } from '@benteng/common';
import type { Scope } from '@benteng/tenancy';
import { creatorOf } from './credential-rules.js';
import { PartnerSigningKeysRepository, type SigningKeyRow } from './partner-signing-keys.repository.js';
import { jwkOfPem, signingKeyMaterial, type Ed25519PublicJwk } from './signing-key-material.js';

/** A registered request-signing key as the management API shows it (a public key: nothing secret). */
export interface PartnerSigningKeyView {
  id: string;
  keyid: string;
  alg: string;
  jwk: Ed25519PublicJwk;
  label: string | null;
  status: 'active' | 'revoked';
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface NewSigningKey {
  jwk?: Record<string, unknown>;
  pem?: string;
  label?: string | null;
}

const view = (row: SigningKeyRow): PartnerSigningKeyView => ({
  id: row.id,
  keyid: row.keyid,
  alg: row.alg,
  jwk: jwkOfPem(row.publicKey),
  label: row.label,
  status: row.revokedAt ? 'revoked' : 'active',
  createdAt: row.createdAt,
  revokedAt: row.revokedAt,
  lastUsedAt: row.lastUsedAt,
});

/**
 * The Ed25519 public keys partner clients sign their /partner/v1 requests with (RFC 9421;
 * docs/request-signing.md), managed by tenant owners and admins on
 * /v1/partner-clients/:id/signing-keys. Rotation is register-then-revoke: a client may hold several
 * active keys, so the new one works before the old one is revoked. Persistence, locking and the
 * audit trail: PartnerSigningKeysRepository.
 */
@Injectable()
export class PartnerSigningKeysService {
  constructor(
    private readonly keys: PartnerSigningKeysRepository,
    private readonly clock: Clock,
  ) {}

  async list(scope: Scope, clientId: string): Promise<PartnerSigningKeyView[]> {
    return (await this.keys.list(scope, clientId)).map(view);
  }

  async register(scope: Scope, clientId: string, input: NewSigningKey, meta: RequestMeta): Promise<PartnerSigningKeyView> {
    const createdById = creatorOf(scope);
    const material = await signingKeyMaterial({ ...(input.jwk !== undefined ? { jwk: input.jwk } : {}), ...(input.pem !== undefined ? { pem: input.pem } : {}) });
    return view(await this.keys.register(scope, clientId, { material, label: input.label ?? null, createdById, now: this.clock.now() }, meta));
  }

  async revoke(scope: Scope, clientId: string, id: string, meta: RequestMeta): Promise<PartnerSigningKeyView> {
    return view(await this.keys.revoke(scope, clientId, id, this.clock.now(), meta));
  }
}

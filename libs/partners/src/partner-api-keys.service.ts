import { Injectable } from '@nestjs/common';
import type { RequestMeta } from '@benteng/auth';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import type { InTransaction } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { creatorOf, futureOrNull } from './credential-rules.js';
import { PartnerApiKeysRepository, type KeyRow, type MintedKey } from './partner-api-keys.repository.js';
import type { NewPartnerKey, PartnerKeyView, WithApiKey } from './partner.types.js';

const keyView = (k: KeyRow): PartnerKeyView => ({ ...k });
const withApiKey = ({ key, row }: MintedKey): WithApiKey => ({ key: keyView(row), apiKey: key });

/**
 * The API keys of partner clients, managed by tenant owners and admins on
 * /v1/partner-clients/:id/keys. A key is returned in clear once, by the call that made it, and
 * stored only as an HMAC (PartnerCredentials). Persistence, locking (client, then key) and the audit
 * trail: PartnerApiKeysRepository.
 */
@Injectable()
export class PartnerApiKeysService {
  constructor(
    private readonly keys: PartnerApiKeysRepository,
    private readonly clock: Clock,
    private readonly config: AppConfig,
  ) {}

  /** The client's keys, newest first (at most MAX_KEYS_LISTED). */
  async list(scope: Scope, clientId: string): Promise<PartnerKeyView[]> {
    return (await this.keys.list(scope, clientId)).map(keyView);
  }

  /** A new API key in the client's environment. `also` runs in its transaction with the key's view (never the key). */
  async create(scope: Scope, clientId: string, input: NewPartnerKey, meta: RequestMeta, also?: InTransaction<PartnerKeyView>): Promise<WithApiKey> {
    const createdById = creatorOf(scope);
    const now = this.clock.now();
    const expiresAt = futureOrNull(input.expiresAt, now);
    return withApiKey(await this.keys.create(scope, clientId, { expiresAt, createdById, now }, meta, also ? (tx, minted) => also(tx, keyView(minted.row)) : undefined));
  }

  /**
   * Replaces a key with a new one of the same client, environment and expiry. The old key keeps
   * working for PARTNER_KEY_ROTATION_OVERLAP_S (never longer than it would have anyway), so the
   * partner can deploy the new key without downtime; it records which key replaced it. A key that
   * was already replaced, is revoked or has expired cannot be rotated (409).
   */
  async rotate(scope: Scope, clientId: string, keyId: string, meta: RequestMeta): Promise<WithApiKey> {
    const createdById = creatorOf(scope);
    const now = this.clock.now();
    const overlapEnd = new Date(now.getTime() + this.config.PARTNER_KEY_ROTATION_OVERLAP_S * 1000);
    return withApiKey(await this.keys.rotate(scope, clientId, keyId, { createdById, now, overlapEnd }, meta));
  }

  /**
   * Revokes one key from the next request on (also a rotated key still in its overlap). Revoking a
   * revoked key changes nothing and is not audited again. Works on a revoked client too.
   */
  async revoke(scope: Scope, clientId: string, keyId: string, meta: RequestMeta): Promise<PartnerKeyView> {
    return keyView(await this.keys.revoke(scope, clientId, keyId, this.clock.now(), meta));
  }
}

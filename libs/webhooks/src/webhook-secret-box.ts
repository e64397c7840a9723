import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { AppConfig, dataEncryptionKeys, type Keyring } from '@benteng/config';
import { minted } from '@benteng/common';

/** Standard Webhooks secrets: `whsec_` and the base64 of 32 random bytes (256-bit HMAC key). */
export const WEBHOOK_SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;

export function mintWebhookSecret(): string {
  return minted('webhook secret', `whsec_${randomBytes(32).toString('base64')}`);
}

const IV_BYTES = 12;
const TAG_BYTES = 16;
const STORED = /^v1\.([A-Za-z0-9_-]{1,32})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]{22})$/;

/**
 * Webhook signing secrets at rest (docs/architecture.md, invariant 8): AES-256-GCM under the active
 * DATA_ENCRYPTION_KEYS key, stored as `v1.<kid>.<iv>.<ciphertext>.<tag>` (base64url). Every key of
 * the ring decrypts, so the key can rotate while old rows still read.
 *
 * The additional data binds a ciphertext to its tenant and endpoint: a ciphertext copied into
 * another row (another tenant's endpoint, by someone with write access to the table) fails to
 * decrypt instead of signing that endpoint's messages with a secret its owner knows. The current
 * and previous secret of one endpoint share the binding, so rotation moves a ciphertext as is.
 */
@Injectable()
export class WebhookSecretBox {
  private readonly keys: Keyring;

  constructor(config: AppConfig) {
    this.keys = dataEncryptionKeys(config);
  }

  seal(secret: string, tenantId: string, endpointId: string): string {
    const { kid, key } = this.keys.active;
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
    cipher.setAAD(binding(tenantId, endpointId));
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
    return ['v1', kid, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  /** The kid of the key that seals now (DATA_ENCRYPTION_KEYS' first). */
  get activeKid(): string {
    return this.keys.active.kid;
  }

  /** The kids of the other configured keys: what the re-encryption job moves from. */
  get olderKids(): string[] {
    return this.keys.kids.filter((kid) => kid !== this.keys.active.kid);
  }

  /** The kid a stored value names (not proof that it opens), or undefined for an unreadable value. */
  static kidOf(stored: string): string | undefined {
    return STORED.exec(stored)?.[1];
  }

  /**
   * The value sealed again under the active key, or null when the active key already sealed it.
   * Throws (like open) for a value this ring cannot open for this endpoint: it is left as it is.
   */
  reseal(stored: string, tenantId: string, endpointId: string): string | null {
    if (WebhookSecretBox.kidOf(stored) === this.keys.active.kid) return null;
    return this.seal(this.open(stored, tenantId, endpointId), tenantId, endpointId);
  }

  /** The secret in clear; throws (without quoting anything) for a value this ring did not seal for this endpoint. */
  open(stored: string, tenantId: string, endpointId: string): string {
    const match = STORED.exec(stored);
    if (!match) throw new Error('webhook secret: unreadable ciphertext');
    const [, kid, iv, ciphertext, tag] = match as unknown as [string, string, string, string, string];
    const key = this.keys.find(kid);
    if (!key) throw new Error('webhook secret: sealed with a key that is no longer configured');
    try {
      const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES });
      decipher.setAAD(binding(tenantId, endpointId));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      throw new Error('webhook secret: ciphertext does not authenticate for this endpoint');
    }
  }
}

const binding = (tenantId: string, endpointId: string): Buffer => Buffer.from(`benteng:webhook-secret:${tenantId.toLowerCase()}:${endpointId.toLowerCase()}`, 'utf8');

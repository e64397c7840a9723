import { createCipheriv, randomBytes, randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { observeMintedCredentials } from '@benteng/common';
import { loadConfig } from '@benteng/config';
import { mintWebhookSecret, WebhookSecretBox } from './webhook-secret-box.js';
import { tag } from '../../../test/security/support/controls.js';

const key = Buffer.alloc(32, 5);
const sut = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: `k5:${key.toString('base64')}` }));

/**
 * The stored format written out by hand from its documentation (webhook-secret-box.ts): AES-256-GCM,
 * 12-byte IV, 16-byte tag, additional data `benteng:webhook-secret:<tenant>:<endpoint>` in lower
 * case, `v1.<kid>.<iv>.<ciphertext>.<tag>` in base64url. Rows sealed by an earlier release must keep
 * opening, so the format is pinned independently of the code that writes it.
 */
function sealByHand(secret: string, tenantId: string, endpointId: string, aadPrefix = 'benteng:webhook-secret:'): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`${aadPrefix}${tenantId}:${endpointId}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()]);
  return ['v1', 'k5', iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}

describe(tag('WEBHOOK-SIGNING', 'webhook secrets at rest: the stored format'), () => {
  const tenantId = randomUUID();
  const endpointId = randomUUID();

  it('opens a value sealed by hand in the documented format, and binds tenant and endpoint case-insensitively', () => {
    const secret = mintWebhookSecret();
    expect(sut.open(sealByHand(secret, tenantId, endpointId), tenantId, endpointId)).toBe(secret);
    expect(sut.open(sealByHand(secret, tenantId, endpointId), tenantId.toUpperCase(), endpointId.toUpperCase())).toBe(secret);
    expect(sut.open(sut.seal(secret, tenantId.toUpperCase(), endpointId.toUpperCase()), tenantId, endpointId)).toBe(secret);
  });

  it('refuses a value bound with any other additional data', () => {
    for (const prefix of ['', 'benteng:webhook-secret', 'other:webhook-secret:']) {
      expect(() => sut.open(sealByHand('whsec_x', tenantId, endpointId, prefix), tenantId, endpointId)).toThrow('does not authenticate');
    }
  });

  it('reads only the whole stored format: anything before or after it is unreadable', () => {
    const sealed = sut.seal(mintWebhookSecret(), tenantId, endpointId);
    for (const bad of [`x${sealed}`, `${sealed}x`, `${sealed}.`, sealed.replace(/^v1\./, 'v2.'), sealed.replace(/\.[^.]+$/, '.short')]) {
      expect(() => sut.open(bad, tenantId, endpointId)).toThrow('webhook secret: unreadable ciphertext');
    }
    expect(() => sut.open(sealed.replace(/^v1\.k5\./, 'v1.k6.'), tenantId, endpointId)).toThrow('webhook secret: sealed with a key that is no longer configured');
  });

  it('announces every minted secret as a "webhook secret" credential (the leak check follows it)', () => {
    const seen: [string, string][] = [];
    const stop = observeMintedCredentials((kind, value) => seen.push([kind, value]));
    try {
      const secret = mintWebhookSecret();
      expect(seen).toEqual([['webhook secret', secret]]);
    } finally {
      stop();
    }
  });
});

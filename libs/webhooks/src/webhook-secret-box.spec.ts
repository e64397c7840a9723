import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '@benteng/config';
import { mintWebhookSecret, WEBHOOK_SECRET, WebhookSecretBox } from './webhook-secret-box.js';
import { tag } from '../../../test/security/support/controls.js';

const keyOf = (byte: number) => Buffer.alloc(32, byte).toString('base64');

describe(tag('WEBHOOK-SIGNING', 'webhook secrets'), () => {
  const tenantId = randomUUID();
  const endpointId = randomUUID();

  it('mints Standard Webhooks secrets: whsec_ and 32 random bytes in base64', () => {
    const a = mintWebhookSecret();
    const b = mintWebhookSecret();
    expect(a).toMatch(WEBHOOK_SECRET);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(a).not.toBe(b);
  });

  it('seals with AES-256-GCM under the active key, in the stored format, never containing the secret', () => {
    const sut = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: `k2:${keyOf(2)},k1:${keyOf(1)}` }));
    const secret = mintWebhookSecret();
    const sealed = sut.seal(secret, tenantId, endpointId);
    expect(sealed).toMatch(/^v1\.k2\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    expect(sealed).not.toContain(secret.slice(6));
    expect(sut.seal(secret, tenantId, endpointId)).not.toBe(sealed);
    expect(sut.open(sealed, tenantId, endpointId)).toBe(secret);
  });

  it('opens values sealed under a retired key that is still on the ring (key rotation)', () => {
    const before = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: `k1:${keyOf(1)}` }));
    const after = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: `k2:${keyOf(2)},k1:${keyOf(1)}` }));
    const secret = mintWebhookSecret();
    expect(after.open(before.seal(secret, tenantId, endpointId), tenantId, endpointId)).toBe(secret);
    const removed = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: `k2:${keyOf(2)}` }));
    expect(() => removed.open(before.seal(secret, tenantId, endpointId), tenantId, endpointId)).toThrow('no longer configured');
  });

  it('refuses a value whose GCM tag was cut short (GCM itself accepts 4 to 16 bytes): only a full 16-byte tag reaches the decipher', () => {
    const sut = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: `k1:${keyOf(1)}` }));
    const sealed = sut.seal(mintWebhookSecret(), tenantId, endpointId);
    const parts = sealed.split('.');
    expect(Buffer.from(parts[4]!, 'base64url')).toHaveLength(16);
    for (const bytes of [4, 8, 12, 15]) {
      const cut = [...parts.slice(0, 4), Buffer.from(parts[4]!, 'base64url').subarray(0, bytes).toString('base64url')].join('.');
      expect(() => sut.open(cut, tenantId, endpointId)).toThrow('webhook secret: unreadable ciphertext');
    }
  });

  it('refuses a ciphertext moved to another endpoint or tenant, or altered, without quoting it', () => {
    const sut = new WebhookSecretBox(loadConfig({ ...process.env, DATA_ENCRYPTION_KEYS: `k1:${keyOf(1)}` }));
    const sealed = sut.seal(mintWebhookSecret(), tenantId, endpointId);
    expect(() => sut.open(sealed, tenantId, randomUUID())).toThrow('does not authenticate');
    expect(() => sut.open(sealed, randomUUID(), endpointId)).toThrow('does not authenticate');
    const parts = sealed.split('.');
    parts[3] = `${parts[3]!.startsWith('A') ? 'B' : 'A'}${parts[3]!.slice(1)}`;
    expect(() => sut.open(parts.join('.'), tenantId, endpointId)).toThrow('does not authenticate');
    expect(() => sut.open('whsec_clear', tenantId, endpointId)).toThrow('unreadable ciphertext');
  });
});

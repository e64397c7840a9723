import { createHmac, timingSafeEqual } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { mintWebhookSecret } from './webhook-secret-box.js';
import { signatureHeaders } from './webhook-signer.js';
import { tag } from '../../../test/security/support/controls.js';

/** Standard Webhooks verification written out, independent of the package that signs. */
function verifies(secret: string, headers: Record<string, string>, body: string): boolean {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const expected = createHmac('sha256', key).update(`${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`).digest();
  return headers['webhook-signature']!.split(' ').some((part) => {
    const [version, signature] = part.split(',');
    const given = Buffer.from(signature ?? '', 'base64');
    return version === 'v1' && given.length === expected.length && timingSafeEqual(given, expected);
  });
}

describe(tag('WEBHOOK-SIGNING', 'signatureHeaders'), () => {
  const body = JSON.stringify({ type: 'invoice.paid', timestamp: '2026-11-29T00:00:00.000Z', data: { id: 'x', note: 'ümlaut ✓' } });

  it('signs id.timestamp.body with one secret, in whole seconds, verifiable by the package and by hand', () => {
    const secret = mintWebhookSecret();
    const at = new Date();
    const sut = signatureHeaders('msg_1', at, body, [secret]);
    expect(sut['webhook-id']).toBe('msg_1');
    expect(sut['webhook-timestamp']).toBe(String(Math.floor(at.getTime() / 1000)));
    expect(sut['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(verifies(secret, { ...sut }, body)).toBe(true);
    expect(new Webhook(secret).verify(body, { ...sut })).toEqual(JSON.parse(body));
    expect(verifies(secret, { ...sut }, `${body} `)).toBe(false);
    expect(verifies(mintWebhookSecret(), { ...sut }, body)).toBe(false);
  });

  it('during a rotation window carries both signatures, new first, each verifying with its own secret', () => {
    const current = mintWebhookSecret();
    const previous = mintWebhookSecret();
    const sut = signatureHeaders('msg_2', new Date(), body, [current, previous]);
    const parts = sut['webhook-signature'].split(' ');
    expect(parts).toHaveLength(2);
    expect(verifies(current, { ...sut, 'webhook-signature': parts[0]! }, body)).toBe(true);
    expect(verifies(previous, { ...sut, 'webhook-signature': parts[1]! }, body)).toBe(true);
    expect(() => new Webhook(previous).verify(body, { ...sut })).not.toThrow();
    expect(() => new Webhook(current).verify(body, { ...sut })).not.toThrow();
  });

  it('refuses to sign without a secret', () => {
    expect(() => signatureHeaders('msg_3', new Date(), body, [])).toThrow('at least one secret');
  });
});

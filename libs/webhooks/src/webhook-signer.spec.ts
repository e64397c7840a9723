import { describe, expect, it } from 'vitest';
import { mintWebhookSecret } from './webhook-secret-box.js';
import { signatureHeaders, WebhookSigner } from './webhook-signer.js';
import { tag } from '../../../test/security/support/controls.js';

describe(tag('WEBHOOK-SIGNING', 'WebhookSigner'), () => {
  const sut = new WebhookSigner();

  it('signs exactly as signatureHeaders does (the injectable seam adds nothing and drops nothing)', () => {
    const secrets = [mintWebhookSecret(), mintWebhookSecret()];
    const at = new Date('2026-12-07T09:00:00.999Z');
    expect(sut.sign('msg_1', at, '{"a":1}', secrets)).toEqual(signatureHeaders('msg_1', at, '{"a":1}', secrets));
  });

  it('carries whole seconds, rounded down, in the header and in the signed content', () => {
    const secret = mintWebhookSecret();
    const late = sut.sign('msg_2', new Date('2026-12-07T09:00:00.999Z'), 'body', [secret]);
    const early = sut.sign('msg_2', new Date('2026-12-07T09:00:00.000Z'), 'body', [secret]);
    expect(late['webhook-timestamp']).toBe(String(Date.parse('2026-12-07T09:00:00Z') / 1000));
    expect(late).toEqual(early);
  });
});

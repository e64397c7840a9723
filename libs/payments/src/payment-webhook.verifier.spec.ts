import { createHmac, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import type { AppConfig } from '@benteng/config';
import { PaymentsError, PaymentsErrorCode } from './payment.errors.js';
import { PaymentWebhookVerifier, SIGNATURE_TOLERANCE_S } from './payment-webhook.verifier.js';
import { tag } from '../../../test/security/support/controls.js';

class StillClock extends Clock {
  constructor(public at: Date) {
    super();
  }
  now(): Date {
    return this.at;
  }
}

const secret = `whsec_${randomBytes(32).toString('base64')}`;
const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
const NOW_S = 1_800_000_000;
const meta = { ip: '192.0.2.1', requestId: 'req-1' };
const logged: { level: string; line: Record<string, unknown> }[] = [];
/** The message (second argument) of each logged line, in order. */
const messages: unknown[] = [];
const logger = {
  setContext: () => undefined,
  info: (line: Record<string, unknown>, message?: unknown) => (messages.push(message), logged.push({ level: 'info', line })),
  warn: (line: Record<string, unknown>, message?: unknown) => (messages.push(message), logged.push({ level: 'warn', line })),
};
const make = (configured = true) =>
  new PaymentWebhookVerifier({ PAYMENTS_WEBHOOK_SECRET: configured ? secret : undefined } as AppConfig, new StillClock(new Date(NOW_S * 1000)), logger as never);

/** An independent Standard Webhooks signature (not the package's). */
const sign = (id: string, timestamp: number, body: string, withKey = key) => `v1,${createHmac('sha256', withKey).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
const headers = (id: string, timestamp: number, signature: string) => ({ 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signature });

/** The code and logged reason of the PaymentsError `run` throws (a TypeError when it does not throw one). */
function refusal(run: () => unknown): { code: string; reason: unknown } {
  logged.length = 0;
  let thrown: unknown;
  try {
    run();
  } catch (error) {
    thrown = error;
  }
  if (!(thrown instanceof PaymentsError)) throw new TypeError(`expected a PaymentsError, got ${String(thrown)}`);
  return { code: thrown.code, reason: logged.at(-1)?.line['reason'] };
}

describe(tag('WEBHOOK-INBOUND', 'PaymentWebhookVerifier'), () => {
  const sut = make();
  const body = '{"type":"payment.succeeded"}';
  const verify = (h: Record<string, string>, raw = body) => sut.verify(sut.headersOf(h, meta), Buffer.from(raw), meta);

  it('accepts a signature made by an independent HMAC-SHA256, and returns the message id and signed time', () => {
    expect(verify(headers('msg_1', NOW_S, sign('msg_1', NOW_S, body)))).toEqual({ id: 'msg_1', timestamp: new Date(NOW_S * 1000) });
  });

  it('accepts timestamps exactly at the tolerance either way, and refuses one second beyond', () => {
    for (const t of [NOW_S - SIGNATURE_TOLERANCE_S, NOW_S + SIGNATURE_TOLERANCE_S]) expect(verify(headers('m', t, sign('m', t, body))).id).toBe('m');
    const late = NOW_S - SIGNATURE_TOLERANCE_S - 1;
    const early = NOW_S + SIGNATURE_TOLERANCE_S + 1;
    expect(refusal(() => verify(headers('m', late, sign('m', late, body))))).toEqual({ code: PaymentsErrorCode.Unverified, reason: 'stale_timestamp' });
    expect(refusal(() => verify(headers('m', early, sign('m', early, body))))).toEqual({ code: PaymentsErrorCode.Unverified, reason: 'future_timestamp' });
  });

  it('refuses a changed body, id or timestamp, another key, and a signature of another version', () => {
    const good = sign('m', NOW_S, body);
    const cases: [Record<string, string>, string, string][] = [
      [headers('m', NOW_S, good), `${body} `, 'signature_mismatch'],
      [headers('n', NOW_S, good), body, 'signature_mismatch'],
      [headers('m', NOW_S - 1, good), body, 'signature_mismatch'],
      [headers('m', NOW_S, sign('m', NOW_S, body, randomBytes(32))), body, 'signature_mismatch'],
      [headers('m', NOW_S, good.replace('v1,', 'v2,')), body, 'no_v1_signature'],
      [headers('m', NOW_S, 'v1'), body, 'no_v1_signature'],
      [headers('m', NOW_S, 'v1,'), body, 'signature_mismatch'],
      [headers('m', NaN, good), body, 'malformed_timestamp'],
      [{ ...headers('m', NOW_S, good), 'webhook-timestamp': '1.8e9' }, body, 'malformed_timestamp'],
      [{ ...headers('m', NOW_S, good), 'webhook-timestamp': `${NOW_S}abc` }, body, 'malformed_timestamp'],
    ];
    for (const [h, raw, reason] of cases) expect(refusal(() => verify(h, raw)), `${JSON.stringify(h)} ${raw}`).toEqual({ code: PaymentsErrorCode.Unverified, reason });
  });

  it('accepts when any one of several space-separated signatures matches (rotation)', () => {
    const other = sign('m', NOW_S, body, randomBytes(32));
    expect(verify(headers('m', NOW_S, `${other} v1a,x ${sign('m', NOW_S, body)}`)).id).toBe('m');
  });

  it('refuses a body that is not valid UTF-8 even with a correct HMAC over its bytes', () => {
    const raw = Buffer.from([0x7b, 0xff, 0x7d]);
    const mac = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`m.${NOW_S}.`), raw])).digest('base64');
    expect(refusal(() => sut.verify(sut.headersOf(headers('m', NOW_S, `v1,${mac}`), meta), raw, meta))).toEqual({ code: PaymentsErrorCode.Unverified, reason: 'body_not_utf8' });
  });

  it('answers a missing, empty or oversized header as a malformed delivery (400), before any verification', () => {
    const good = headers('m', NOW_S, sign('m', NOW_S, body));
    for (const name of Object.keys(good)) {
      expect(refusal(() => sut.headersOf({ ...good, [name]: undefined }, meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
      expect(refusal(() => sut.headersOf({ ...good, [name]: '' }, meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
    }
    expect(refusal(() => sut.headersOf({ ...good, 'webhook-id': 'm'.repeat(256) }, meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
    expect(refusal(() => sut.headersOf({ ...good, 'webhook-signature': 'v1,x '.repeat(300) }, meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
    expect(refusal(() => sut.headersOf({ ...good, 'webhook-timestamp': '1'.repeat(21) }, meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
  });

  it('takes a timestamp header of exactly 20 characters and a signature header of exactly 1024 (the bounds are inclusive), and refuses one more', () => {
    const timestamp = '1'.repeat(20);
    const signature = `v1,${'A'.repeat(1021)}`;
    expect(signature).toHaveLength(1024);
    const good = { 'webhook-id': 'm', 'webhook-timestamp': timestamp, 'webhook-signature': signature };
    expect(sut.headersOf(good, meta)).toEqual({ id: 'm', timestamp, signature });
    expect(refusal(() => sut.headersOf({ ...good, 'webhook-timestamp': `${timestamp}1` }, meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
    expect(refusal(() => sut.headersOf({ ...good, 'webhook-signature': `${signature}A` }, meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
  });

  it('without a secret: says it is not configured, and refuses to verify rather than accept', () => {
    const unconfigured = make(false);
    expect(unconfigured.configured).toBe(false);
    expect(sut.configured).toBe(true);
    const h = unconfigured.headersOf(headers('m', NOW_S, sign('m', NOW_S, body)), meta);
    expect(() => unconfigured.verify(h, Buffer.from(body), meta)).toThrow(/not set/);
  });

  it('built with a secret, verifies from its first delivery, and logs under its own name', () => {
    const contexts: string[] = [];
    const fresh = new PaymentWebhookVerifier({ PAYMENTS_WEBHOOK_SECRET: secret } as AppConfig, new StillClock(new Date(NOW_S * 1000)), { ...logger, setContext: (name: string) => contexts.push(name) } as never);
    expect(fresh.configured).toBe(true);
    expect(fresh.verify(fresh.headersOf(headers('m', NOW_S, sign('m', NOW_S, body)), meta), Buffer.from(body), meta).id).toBe('m');
    expect(contexts).toEqual(['PaymentWebhookVerifier']);
  });

  it('logs a malformed delivery as such, with the address and request id', () => {
    expect(refusal(() => sut.headersOf({ 'webhook-id': 'm' }, meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
    expect(logged.at(-1)).toEqual({ level: 'info', line: { event: 'payments.delivery_refused', reason: 'malformed_headers', ip: meta.ip, requestId: meta.requestId } });
    expect(messages.at(-1)).toBe('payment webhook refused');
  });

  it('accepts a message id of 255 visible characters and refuses a space or a control character in it', () => {
    const id = '!'.repeat(254) + '~';
    expect(sut.headersOf(headers(id, NOW_S, 'v1,x'), meta).id).toBe(id);
    for (const bad of ['a b', 'a\u0000b', 'é', ' m', 'm ']) {
      expect(refusal(() => sut.headersOf(headers(bad, NOW_S, 'v1,x'), meta)).code).toBe(PaymentsErrorCode.MalformedDelivery);
    }
  });

  it('logs why a delivery was refused, without the signature', () => {
    const signature = sign('m', NOW_S, body);
    refusal(() => verify(headers('m', NOW_S, signature), `${body}x`));
    expect(logged.at(-1)).toEqual({ level: 'warn', line: { event: 'payments.delivery_refused', reason: 'signature_mismatch', messageId: 'm', ip: meta.ip, requestId: meta.requestId } });
    expect(messages.at(-1)).toBe('payment webhook refused');
    expect(JSON.stringify(logged)).not.toContain(signature.slice(3));
  });
});

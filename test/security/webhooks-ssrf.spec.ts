import { randomBytes, randomUUID } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import type { LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { loadConfig } from '@benteng/config';
import { EgressError, SafeHttpClient } from '@benteng/security';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPaymentAccount, newWebhookSecret, payableInvoice, post, SimulatedPaymentProvider } from '../support/payment-provider.js';
import { problemOf, PublicClient, setPasswords, testPassword, type ApiResponse } from '../support/public-api.js';
import { buildWorker, deliverNow, eventually, firstAttempt, insertEndpointWithDelivery, Listener, type Heard, type InProcessWorker } from './kill-switches/async.js';
import { tag } from './support/controls.js';

/**
 * Webhooks and server-side request forgery, as a release gate (issue 8):
 *
 * - WEBHOOK-SIGNING: what the worker sends verifies with the `standardwebhooks` package, as a
 *   customer's receiver checks it, and stops verifying with a wrong secret, a changed body or
 *   timestamp, or once it is older than the package's 5-minute tolerance;
 * - WEBHOOK-INBOUND: tampered, foreign-signed, replayed, stale or unsigned payment events are
 *   refused and leave the invoice unpaid;
 * - SSRF-EGRESS: the product checks webhook URLs in two layers. When an endpoint is saved,
 *   SafeHttpClient.assertDeliverableUrl refuses non-http(s) schemes, credentials in the URL, bad
 *   ports and literal addresses that are not public unicast; a host name passes there (its DNS can
 *   change). When the worker delivers, SafeHttpClient checks the URL again and the address the
 *   socket connects to (our lookup guard and request-filtering-agent), and never follows a
 *   redirect. Every vector is tried at both layers: saved through the API, and stored directly
 *   (a row saved before a rule existed, or a name whose DNS changed) and then delivered.
 *
 * The workers run in-process (the real WorkerModule), one with EGRESS_ALLOW_PRIVATE=127.0.0.1/32
 * for the local receiver, one without any allowance, as production runs.
 */
const owner = ownerPool();
const paymentsSecret = newWebhookSecret();
let api: TestApi;
let devWorker: InProcessWorker;
let strictWorker: InProcessWorker;
let listener: Listener;

beforeAll(async () => {
  [api, devWorker, strictWorker, listener] = await Promise.all([
    buildApi({ env: { PAYMENTS_WEBHOOK_SECRET: paymentsSecret, EGRESS_ALLOW_PRIVATE: '' } }),
    buildWorker({ env: { EGRESS_ALLOW_PRIVATE: '127.0.0.1/32', WEBHOOK_RETRY_SCHEDULE_S: '0', WEBHOOK_TIMEOUT_MS: '2000' } }),
    buildWorker({ env: { EGRESS_ALLOW_PRIVATE: '', WEBHOOK_RETRY_SCHEDULE_S: '0', WEBHOOK_TIMEOUT_MS: '2000' } }),
    Listener.start(),
  ]);
});

afterAll(async () => {
  await Promise.all([api?.close(), devWorker?.close(), strictWorker?.close(), listener?.close()]);
});

const headersOf = (heard: Heard): Record<string, string> => ({
  'webhook-id': String(heard.headers['webhook-id']),
  'webhook-timestamp': String(heard.headers['webhook-timestamp']),
  'webhook-signature': String(heard.headers['webhook-signature']),
});

/** The package's verdict: the payload, or the message of its WebhookVerificationError. */
function verdict(secret: string, body: string, headers: Record<string, string>): { payload: unknown } | { refused: string } {
  try {
    return { payload: new Webhook(secret).verify(body, headers) };
  } catch (error) {
    return { refused: (error as Error).message };
  }
}

describe(tag('WEBHOOK-SIGNING', 'outbound deliveries, verified independently with the standardwebhooks package'), () => {
  let heard: Heard;
  let secret: string;
  let messageId: string;
  const payload = { type: 'invoice.paid', timestamp: new Date().toISOString(), data: { id: randomUUID(), number: 'INV-SEC-1', status: 'paid', totalMinor: '150000' } };

  beforeAll(async () => {
    const tenant = await createTenant(owner, 'sec-wh-sign');
    const path = `/erp/${randomBytes(4).toString('hex')}`;
    const created = await insertEndpointWithDelivery(owner, tenant, listener.url(path), payload);
    ({ secret, messageId } = created);
    listener.verifyWith(path, secret);
    await deliverNow(devWorker, tenant.id, created.deliveryId);
    heard = await eventually(async () => listener.on(path)[0], 'the delivery');
  });

  it('a delivery verifies with the endpoint secret: the receiver gets exactly the payload, under the message id', () => {
    expect(heard.status, 'the receiver verified it').toBe(204);
    expect(headersOf(heard)['webhook-id']).toBe(messageId);
    expect(headersOf(heard)['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]{43}=$/);
    expect(verdict(secret, heard.body, headersOf(heard))).toEqual({ payload });
  });

  it('is refused with a wrong secret (another endpoint\'s, or a made-up one)', () => {
    expect(verdict(newWebhookSecret(), heard.body, headersOf(heard))).toEqual({ refused: 'No matching signature found' });
  });

  it('is refused when one byte of the body changes', () => {
    const altered = heard.body.replace('"totalMinor":"150000"', '"totalMinor":"150001"');
    expect(altered).not.toBe(heard.body);
    expect(verdict(secret, altered, headersOf(heard))).toEqual({ refused: 'No matching signature found' });
    expect(verdict(secret, `${heard.body} `, headersOf(heard))).toEqual({ refused: 'No matching signature found' });
  });

  it('is refused when the message id or the timestamp header is changed', () => {
    expect(verdict(secret, heard.body, { ...headersOf(heard), 'webhook-id': 'msg_other' })).toEqual({ refused: 'No matching signature found' });
    const earlier = String(Number(headersOf(heard)['webhook-timestamp']) - 1);
    expect(verdict(secret, heard.body, { ...headersOf(heard), 'webhook-timestamp': earlier })).toEqual({ refused: 'No matching signature found' });
  });

  it('is refused when replayed later than the 5-minute tolerance (an old timestamp)', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      vi.setSystemTime(Date.now() + 6 * 60_000);
      expect(verdict(secret, heard.body, headersOf(heard))).toEqual({ refused: 'Message timestamp too old' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('is refused without its signature, or with its signature under another version tag', () => {
    expect(verdict(secret, heard.body, { ...headersOf(heard), 'webhook-signature': '' })).toHaveProperty('refused');
    expect(verdict(secret, heard.body, { ...headersOf(heard), 'webhook-signature': headersOf(heard)['webhook-signature']!.replace(/^v1,/, 'v1a,') })).toHaveProperty('refused');
  });
});

describe(tag('WEBHOOK-INBOUND', 'inbound payment events: tampered, foreign-signed, replayed, stale or unsigned deliveries are refused and the invoice stays unpaid'), () => {
  const provider = new SimulatedPaymentProvider(paymentsSecret);
  let tenant: TestTenant;
  let accountId: string;

  beforeAll(async () => {
    tenant = await createTenant(owner, 'sec-inbound');
    accountId = await createPaymentAccount(owner, tenant.id);
  });

  /** Status of the invoice, its invoice.paid events and its payment records. */
  async function invoiceState(invoiceId: string) {
    const [invoice, events, payments] = await Promise.all([
      owner.query<{ status: string; version: number }>('SELECT status, version FROM invoices WHERE tenant_id = $1 AND id = $2', [tenant.id, invoiceId]),
      owner.query("SELECT id FROM domain_events WHERE tenant_id = $1 AND type = 'invoice.paid' AND subject_id = $2", [tenant.id, invoiceId]),
      owner.query('SELECT message_id FROM payment_events WHERE tenant_id = $1 AND invoice_id = $2', [tenant.id, invoiceId]),
    ]);
    return { status: invoice.rows[0]?.status, version: invoice.rows[0]?.version, paidEvents: events.rowCount, payments: payments.rowCount };
  }

  /** Sends a delivery for a fresh payable invoice: what came back, and whether anything changed. */
  async function attempt(send: (event: object, text: string) => Promise<ApiResponse>) {
    const { invoiceId, event } = await payableInvoice(owner, tenant, accountId);
    const before = await invoiceState(invoiceId);
    const res = await send(event, JSON.stringify(event));
    return { problem: problemOf(res), unchanged: JSON.stringify(await invoiceState(invoiceId)) === JSON.stringify(before), before };
  }

  /** Refused with this status, and the invoice still issued, with no paid event and no payment record. */
  const refused = (status: 400 | 401) => ({
    problem: { status, problemJson: true, code: status === 401 ? 'payments.unverified' : 'payments.malformed_delivery' },
    unchanged: true,
    before: { status: 'issued', version: expect.any(Number), paidEvents: 0, payments: 0 },
  });

  it('a body changed by one byte after signing (same JSON meaning): 401', async () => {
    expect(await attempt((event, text) => provider.deliver(api, event, { sendInstead: text.replace('{"type":', '{ "type":') }))).toEqual(refused(401));
  });

  it('a body whose amount or invoice was changed after signing: 401', async () => {
    expect(await attempt((event, text) => provider.deliver(api, event, { sendInstead: text.replace(/"amount_minor":"(\d+)"/, '"amount_minor":"1"') }))).toEqual(refused(401));
    expect(await attempt((event, text) => provider.deliver(api, event, { sendInstead: text.replace(/"invoice_id":"[^"]+"/, `"invoice_id":"${randomUUID()}"`) }))).toEqual(refused(401));
  });

  it("a signature made with another secret (an attacker's own): 401", async () => {
    expect(await attempt((event) => new SimulatedPaymentProvider(newWebhookSecret()).deliver(api, event))).toEqual(refused(401));
  });

  it('a timestamp outside the 5-minute window, either way, or changed after signing: 401', async () => {
    const now = Date.now();
    expect(await attempt((event) => provider.deliver(api, event, { signedAt: new Date(now - 6 * 60_000) }))).toEqual(refused(401));
    expect(await attempt((event) => provider.deliver(api, event, { signedAt: new Date(now + 6 * 60_000) }))).toEqual(refused(401));
    expect(await attempt((event) => provider.deliver(api, event, { headers: { 'webhook-timestamp': String(Math.floor(now / 1000) - 1) } }))).toEqual(refused(401));
  });

  it('no v1 signature, a made-up one, or an empty one: refused', async () => {
    expect(await attempt((event) => provider.deliver(api, event, { headers: { 'webhook-signature': 'v2,abc' } }))).toEqual(refused(401));
    expect(await attempt((event) => provider.deliver(api, event, { headers: { 'webhook-signature': `v1,${'A'.repeat(43)}=` } }))).toEqual(refused(401));
    expect(await attempt((event) => provider.deliver(api, event, { headers: { 'webhook-signature': '' } }))).toEqual(refused(400));
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('a delivery without the %s header: 400', async (header) => {
    expect(await attempt((event) => provider.deliver(api, event, { headers: { [header]: undefined } }))).toEqual(refused(400));
  });

  it('a replay of a delivered webhook-id, as it was or re-signed over another invoice, changes nothing', async () => {
    const first = await payableInvoice(owner, tenant, accountId);
    const delivered = await provider.deliver(api, first.event);
    expect(delivered.body).toEqual({ status: 'paid' });
    const paidOnce = await invoiceState(first.invoiceId);
    expect(paidOnce).toMatchObject({ status: 'paid', paidEvents: 1, payments: 1 });

    const replay = await post(api, JSON.stringify(first.event), delivered.sent);
    expect(replay.body).toEqual({ status: 'duplicate' });
    expect(await invoiceState(first.invoiceId)).toEqual(paidOnce);

    // The same message id, validly signed, now naming another invoice: still the message already seen.
    const second = await payableInvoice(owner, tenant, accountId);
    const reused = await provider.deliver(api, second.event, { id: delivered.id });
    expect(reused.status).toBe(200);
    expect(reused.body).toEqual({ status: 'duplicate' });
    expect(await invoiceState(second.invoiceId)).toMatchObject({ status: 'issued', paidEvents: 0, payments: 0 });
  });
});

describe(tag('SSRF-EGRESS', 'webhook URLs that reach internal destinations are refused when saved and when delivered'), () => {
  /**
   * Every vector as [name, url, reason at delivery]. `PORT` is replaced by the local listener's
   * port, so a vector that slipped through would reach a real server on this machine.
   */
  const VECTORS: [string, string, 'blocked_address' | 'invalid_url'][] = [
    ['loopback 127.0.0.1', 'http://127.0.0.1:PORT/v', 'blocked_address'],
    ['loopback IPv6 [::1]', 'http://[::1]:PORT/v', 'blocked_address'],
    ['loopback shorthand 127.1', 'http://127.1:PORT/v', 'blocked_address'],
    ['loopback as a decimal integer 2130706433', 'http://2130706433:PORT/v', 'blocked_address'],
    ['loopback in hex 0x7f.1', 'http://0x7f.1:PORT/v', 'blocked_address'],
    ['loopback in octal 0177.0.0.1', 'http://0177.0.0.1:PORT/v', 'blocked_address'],
    ['the unspecified address 0.0.0.0 (reaches the local machine)', 'http://0.0.0.0:PORT/v', 'blocked_address'],
    ['the unspecified IPv6 address [::]', 'http://[::]:PORT/v', 'blocked_address'],
    ['private 10.0.0.7', 'http://10.0.0.7/v', 'blocked_address'],
    ['private 172.16.0.1', 'http://172.16.0.1/v', 'blocked_address'],
    ['private 192.168.1.1', 'http://192.168.1.1/v', 'blocked_address'],
    ['IPv6 unique local [fd00::1]', 'http://[fd00::1]/v', 'blocked_address'],
    ['link-local metadata service 169.254.169.254', 'http://169.254.169.254/latest/meta-data/', 'blocked_address'],
    ['IPv6 link-local [fe80::1]', 'http://[fe80::1]/v', 'blocked_address'],
    ['IPv4-mapped IPv6 loopback [::ffff:127.0.0.1]', 'http://[::ffff:127.0.0.1]:PORT/v', 'blocked_address'],
    ['IPv4-mapped IPv6 metadata [::ffff:a9fe:a9fe]', 'http://[::ffff:a9fe:a9fe]/latest/meta-data/', 'blocked_address'],
    ['NAT64 of loopback [64:ff9b::7f00:1]', 'http://[64:ff9b::7f00:1]/v', 'blocked_address'],
    ['CGNAT 100.64.0.1', 'http://100.64.0.1/v', 'blocked_address'],
    ['multicast 224.0.0.1', 'http://224.0.0.1/v', 'blocked_address'],
    ['IPv6 multicast [ff02::1]', 'http://[ff02::1]/v', 'blocked_address'],
    ['broadcast 255.255.255.255', 'http://255.255.255.255/v', 'blocked_address'],
    ['userinfo trick http://example.com@127.0.0.1', 'http://example.com@127.0.0.1:PORT/v', 'invalid_url'],
    ['credentials for a public host', 'https://user:pass@example.com/v', 'invalid_url'],
    ['a fragment trick http://127.0.0.1#@example.com', 'http://127.0.0.1:PORT/v#@example.com', 'blocked_address'],
    ['SMTP port of a public host (cross-protocol)', 'http://example.com:25/v', 'blocked_address'],
    ['scheme file:', 'file:///etc/passwd', 'invalid_url'],
    ['scheme ftp:', 'ftp://127.0.0.1:PORT/v', 'invalid_url'],
    ['scheme gopher: (Redis smuggling)', 'gopher://127.0.0.1:6379/_FLUSHALL', 'invalid_url'],
    ['scheme javascript:', 'javascript:alert(1)//x', 'invalid_url'],
    ['scheme data:', 'data:text/plain,hello', 'invalid_url'],
  ];
  const at = (url: string) => url.replaceAll('PORT', String(listener.port));

  describe('layer 1: when an endpoint is saved (POST and PATCH /v1/webhook-endpoints, no private address allowed)', () => {
    let tenant: TestTenant;
    let token: string;
    const client = () => new PublicClient(api);

    beforeAll(async () => {
      tenant = await createTenant(owner, 'sec-ssrf-save');
      const password = testPassword();
      await setPasswords(owner, [tenant.users.owner.id], password);
      token = (await client().login(tenant.users.owner.email, password)).accessToken;
    });

    const endpointCount = async () => (await owner.query('SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant_id = $1', [tenant.id])).rows[0].n as number;

    it.each(VECTORS)('refuses %s with 400 and stores nothing', async (_name, url) => {
      const before = await endpointCount();
      const res = await client().call('POST', '/v1/webhook-endpoints', { token, body: { url: at(url), events: ['invoice.paid'] } });
      expect(res.status).toBe(400);
      expect(await endpointCount()).toBe(before);
    });

    it('answers the address refusals as webhook.url_not_allowed, without naming the address', async () => {
      const res = await client().call('POST', '/v1/webhook-endpoints', { token, body: { url: 'http://169.254.169.254/latest/meta-data/', events: ['invoice.paid'] } });
      expect(problemOf(res)).toEqual({ status: 400, problemJson: true, code: 'webhook.url_not_allowed' });
      expect(res.text).not.toContain('169.254');
    });

    it('refuses a PATCH that points a saved endpoint at an internal address', async () => {
      const created = await client().call('POST', '/v1/webhook-endpoints', { token, body: { url: 'https://hooks.example.com/benteng', events: ['invoice.paid'] } });
      expect(created.status).toBe(201);
      const { id, version } = created.body as { id: string; version: number };
      for (const url of ['http://169.254.169.254/', 'http://[::ffff:127.0.0.1]/x', 'http://2130706433/x']) {
        const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'PATCH', url: `/v1/webhook-endpoints/${id}`, headers: { authorization: `Bearer ${token}`, 'if-match': `"${version}"` }, payload: { url } });
        expect(res.statusCode, `${url} ${res.body}`).toBe(400);
      }
      const { rows } = await owner.query('SELECT url FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2', [tenant.id, id]);
      expect(rows[0].url).toBe('https://hooks.example.com/benteng');
    });

    it('lets a host name through when saved (its DNS can change): the delivery-time check is the one that holds', async () => {
      const res = await client().call('POST', '/v1/webhook-endpoints', { token, body: { url: at('http://localhost:PORT/saved-by-name'), events: ['invoice.paid'] } });
      expect(res.status).toBe(201);
    });
  });

  describe('layer 2: when the worker delivers (SafeHttpClient, EGRESS_ALLOW_PRIVATE empty), for rows that skipped the save-time check', () => {
    let tenant: TestTenant;
    const outcomes = new Map<string, { status_code: number | null; error: string | null }>();

    beforeAll(async () => {
      tenant = await createTenant(owner, 'sec-ssrf-deliver');
      const rows = await Promise.all(VECTORS.map(async ([name, url]) => ({ name, ...(await insertEndpointWithDelivery(owner, tenant, at(url))) })));
      await Promise.all(rows.map((row) => deliverNow(strictWorker, tenant.id, row.deliveryId)));
      for (const row of rows) outcomes.set(row.name, await firstAttempt(owner, tenant.id, row.deliveryId));
    });

    it.each(VECTORS)('refuses %s before any request is made', (name, _url, reason) => {
      expect(outcomes.get(name)).toEqual({ status_code: null, error: reason });
      expect(listener.on('/v')).toEqual([]);
    });

    it('refuses, at connect time, a host name that resolves to 127.0.0.1 (localhost), and the listener hears nothing', async () => {
      const { deliveryId } = await insertEndpointWithDelivery(owner, tenant, listener.url('/dns-loopback', 'localhost'));
      await deliverNow(strictWorker, tenant.id, deliveryId);
      expect(await firstAttempt(owner, tenant.id, deliveryId)).toEqual({ status_code: null, error: 'blocked_address' });
      expect(listener.on('/dns-loopback')).toEqual([]);
    });

    it('does not follow a redirect to the metadata service or to an internal address (the 3xx is a failed attempt)', async () => {
      // The dev worker may reach the local listener (127.0.0.1/32 allowed), which answers 302.
      const toMetadata = `/redirect/${randomBytes(3).toString('hex')}`;
      const toInternal = `/redirect/${randomBytes(3).toString('hex')}`;
      const internal = `/internal/${randomBytes(3).toString('hex')}`;
      listener.redirect(toMetadata, 'http://169.254.169.254/latest/meta-data/iam/security-credentials/');
      listener.redirect(toInternal, listener.url(internal));
      for (const path of [toMetadata, toInternal]) {
        const { deliveryId } = await insertEndpointWithDelivery(owner, tenant, listener.url(path));
        await deliverNow(devWorker, tenant.id, deliveryId);
        expect(await firstAttempt(owner, tenant.id, deliveryId)).toEqual({ status_code: 302, error: null });
        const { rows } = await owner.query('SELECT status FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2', [tenant.id, deliveryId]);
        expect(rows[0].status, 'a 3xx is not a successful delivery').toBe('failed');
        expect(listener.on(path)).toHaveLength(1);
      }
      expect(listener.on(internal)).toEqual([]);
    });
  });

  describe('the connect-time check on its own (SafeHttpClient with a scripted DNS answer)', () => {
    /** A DNS lookup that answers `customer.example` with the given addresses. */
    function lookupAnswering(addresses: string[]): LookupFunction {
      return (hostname, options, callback) => {
        if (hostname !== 'customer.example') return callback(Object.assign(new Error('not found'), { code: 'ENOTFOUND' }), '');
        const answer: LookupAddress[] = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
        return options.all ? callback(null, answer) : callback(null, answer[0]!.address, answer[0]!.family);
      };
    }

    it.each([
      ['127.0.0.1', ['127.0.0.1']],
      ['the metadata service', ['169.254.169.254']],
      ['a private address', ['10.1.2.3']],
      ['an IPv4-mapped loopback', ['::ffff:127.0.0.1']],
      ['a public and a loopback address (no happy-eyeballs fallback)', ['93.184.215.14', '127.0.0.1']],
    ])('refuses a name resolving to %s as blocked_address, and the listener hears nothing', async (_name, addresses) => {
      const client = new SafeHttpClient(loadConfig({ ...process.env, EGRESS_ALLOW_PRIVATE: '' }), lookupAnswering(addresses));
      const path = `/rebind/${randomBytes(3).toString('hex')}`;
      const error = await client.post(`http://customer.example:${listener.port}${path}`, '{}', { 'content-type': 'application/json' }, { timeoutMs: 2000 }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(EgressError);
      expect((error as EgressError).reason).toBe('blocked_address');
      expect((error as EgressError).message).not.toMatch(/127\.0\.0\.1|169\.254|10\.1\.2\.3/);
      expect(listener.on(path)).toEqual([]);
    });
  });
});

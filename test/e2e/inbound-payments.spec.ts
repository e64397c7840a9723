import { createHmac, randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import { dedupeKeyOf } from '@benteng/payments';
import { REDIS } from '@benteng/redis';
import { buildApi, type TestApi } from '../support/api.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { createPaymentAccount, newWebhookSecret, payableInvoice, paymentSucceeded, post, PROVIDER, SimulatedPaymentProvider, type PaymentEventBody } from '../support/payment-provider.js';
import { problemOf, type ApiResponse } from '../support/public-api.js';
import { tag } from '../security/support/controls.js';

/**
 * POST /webhooks/inbound/payments: payment events from the simulated provider "simpay", signed
 * with Standard Webhooks. Two tenants, A and B, each with its own provider account and issued
 * invoices; every refused or replayed delivery is checked to change nothing in either tenant.
 */
const secret = newWebhookSecret();
const clock = new FakeClock();
const api = await buildApi({ env: { PAYMENTS_WEBHOOK_SECRET: secret }, overrides: [{ token: Clock, value: clock }] });
afterAll(() => api.close());
const provider = new SimulatedPaymentProvider(secret, () => clock.now());
const redis = api.app.get<Redis>(REDIS);

const owner = ownerPool();
let a: TestTenant;
let b: TestTenant;
let accountA: string;
let accountB: string;

/** Everything a payment event could change in a tenant. */
async function stateOf(tenantId: string) {
  const query = async (sql: string) => (await owner.query(sql, [tenantId])).rows;
  return {
    invoices: await query(`SELECT id, status, version, updated_at FROM invoices WHERE tenant_id = $1 ORDER BY id`),
    domainEvents: await query(`SELECT id, type, subject_id FROM domain_events WHERE tenant_id = $1 ORDER BY id`),
    paymentEvents: await query(`SELECT provider, message_id, event_type, invoice_id, outcome FROM payment_events WHERE tenant_id = $1 ORDER BY message_id`),
    auditEvents: await query(`SELECT id, type FROM audit_events WHERE tenant_id = $1 ORDER BY seq`),
  };
}
const stateOfBoth = async () => ({ a: await stateOf(a.id), b: await stateOf(b.id) });

async function invoiceRow(tenantId: string, id: string) {
  const { rows } = await owner.query(`SELECT status, version FROM invoices WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
  return rows[0] as { status: string; version: number };
}

async function paymentEventsOf(messageId: string) {
  const { rows } = await owner.query(`SELECT tenant_id, invoice_id, outcome FROM payment_events WHERE message_id = $1`, [messageId]);
  return rows;
}

async function auditOf(tenantId: string, requestId: string) {
  const { rows } = await owner.query(`SELECT type, outcome, actor, subject, data FROM audit_events WHERE tenant_id = $1 AND request_id = $2`, [tenantId, requestId]);
  return rows;
}

const requestIdOf = (res: ApiResponse) => String(res.headers['x-request-id']);
const refusalsIn = (requestId: string) =>
  api.logs.lines.filter((l) => l['event'] === 'payments.delivery_refused' && l['requestId'] === requestId).map((l) => l['reason']);

beforeAll(async () => {
  [a, b] = await Promise.all([createTenant(owner, 'pay-a'), createTenant(owner, 'pay-b')]);
  [accountA, accountB] = await Promise.all([createPaymentAccount(owner, a.id), createPaymentAccount(owner, b.id)]);
});

describe('a valid payment event', () => {
  it("marks the named invoice of the account's tenant paid, with its outbox event, payment record and audit event, and changes nothing else", async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const other = await payableInvoice(owner, a, accountA);
    const before = await stateOfBoth();
    const invoiceBefore = await invoiceRow(a.id, invoiceId);

    const res = await provider.deliver(api, event);
    expect(res.status, `${res.text}`).toBe(200);
    expect(res.body).toEqual({ status: 'paid' });

    expect(await invoiceRow(a.id, invoiceId)).toEqual({ status: 'paid', version: invoiceBefore.version + 1 });
    const after = await stateOfBoth();
    // Tenant B: untouched.
    expect(after.b).toEqual(before.b);
    // Tenant A: the one invoice, one invoice.paid event, one payment record, one audit event.
    expect(after.a.invoices.filter((i) => i.id !== invoiceId)).toEqual(before.a.invoices.filter((i) => i.id !== invoiceId));
    expect((await invoiceRow(a.id, other.invoiceId)).status).toBe('issued');
    const newEvents = after.a.domainEvents.filter((e) => !before.a.domainEvents.some((o) => o.id === e.id));
    expect(newEvents.map(({ type, subject_id }) => ({ type, subject_id }))).toEqual([{ type: 'invoice.paid', subject_id: invoiceId }]);
    const { rows: payload } = await owner.query(`SELECT payload FROM domain_events WHERE tenant_id = $1 AND id = $2`, [a.id, newEvents[0]!.id]);
    expect(payload[0].payload).toMatchObject({ id: invoiceId, status: 'paid', totalMinor: event.data.amount_minor, currency: 'IDR' });
    expect(after.a.paymentEvents.filter((p) => !before.a.paymentEvents.some((o) => o.message_id === p.message_id))).toEqual([
      { provider: PROVIDER, message_id: res.id, event_type: 'payment.succeeded', invoice_id: invoiceId, outcome: 'paid' },
    ]);
    expect(after.a.auditEvents.length).toBe(before.a.auditEvents.length + 1);
    expect(await auditOf(a.id, requestIdOf(res))).toEqual([
      {
        type: 'payments.event_received',
        outcome: 'success',
        actor: 'system:payments',
        subject: `invoice:${invoiceId}`,
        data: {
          provider: PROVIDER,
          accountId: accountA,
          messageId: res.id,
          eventType: 'payment.succeeded',
          amountMinor: event.data.amount_minor,
          currency: 'IDR',
          result: 'paid',
          tenantResolvedBy: 'payments_tenant_for_account',
        },
      },
    ]);
  });

  it(tag('WEBHOOK-INBOUND', 'is answered as a duplicate when replayed (the same bytes and headers), and the replay changes nothing'), async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const first = await provider.deliver(api, event);
    expect(first.body).toEqual({ status: 'paid' });
    const before = await stateOfBoth();

    for (let i = 0; i < 3; i++) {
      const replay = await post(api, JSON.stringify(event), first.sent);
      expect(replay.status, `${replay.text}`).toBe(200);
      expect(replay.body).toEqual({ status: 'duplicate' });
    }
    expect(await stateOfBoth()).toEqual(before);
    expect((await invoiceRow(a.id, invoiceId)).status).toBe('paid');
  });

  it(tag('WEBHOOK-INBOUND', "is a duplicate from payment_events when Redis has forgotten the message (the provider's retry, re-signed later)"), async () => {
    const { event } = await payableInvoice(owner, a, accountA);
    const first = await provider.deliver(api, event);
    expect(first.body).toEqual({ status: 'paid' });
    await redis.del(dedupeKeyOf(first.id));
    const before = await stateOfBoth();

    clock.advance(30);
    const retry = await provider.deliver(api, event, { id: first.id });
    expect(retry.status, `${retry.text}`).toBe(200);
    expect(retry.body).toEqual({ status: 'duplicate' });
    const after = await stateOfBoth();
    expect(after.b).toEqual(before.b);
    expect({ ...after.a, auditEvents: undefined }).toEqual({ ...before.a, auditEvents: undefined });
    // The account lookup crossed tenants to get here, so the duplicate is audited (and only that).
    expect(await auditOf(a.id, requestIdOf(retry))).toEqual([expect.objectContaining({ type: 'payments.event_received', outcome: 'failure', data: expect.objectContaining({ result: 'duplicate', messageId: first.id }) })]);
  });

  it('answers 409 while the same message is in flight elsewhere, so the provider retries instead of believing it applied', async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const id = SimulatedPaymentProvider.messageId();
    await redis.set(dedupeKeyOf(id), 'pending', 'EX', 60);
    const before = await stateOfBoth();

    const res = await provider.deliver(api, event, { id });
    expect(problemOf(res)).toEqual({ status: 409, problemJson: true, code: 'payments.in_flight' });
    expect(await stateOfBoth()).toEqual(before);

    await redis.del(dedupeKeyOf(id));
    const retry = await provider.deliver(api, event, { id });
    expect(retry.body).toEqual({ status: 'paid' });
    expect((await invoiceRow(a.id, invoiceId)).status).toBe('paid');
  });
});

describe(tag('WEBHOOK-INBOUND', 'concurrent deliveries'), () => {
  it('of one message apply it once: one paid, the others duplicate or 409 (retry), one invoice.paid event, one record', async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const body = JSON.stringify(event);
    const signed = provider.sign(body);
    const answers = await Promise.all(Array.from({ length: 6 }, () => post(api, body, { 'content-type': 'application/json', ...signed })));
    const statuses = answers.map((r) => (r.status === 200 ? (r.body as { status: string }).status : String(r.status)));
    expect(statuses.filter((s) => s === 'paid')).toEqual(['paid']);
    expect(statuses.filter((s) => s !== 'paid' && s !== 'duplicate' && s !== '409')).toEqual([]);
    const { rows } = await owner.query(`SELECT count(*)::int AS n FROM domain_events WHERE tenant_id = $1 AND subject_id = $2 AND type = 'invoice.paid'`, [a.id, invoiceId]);
    expect(rows[0].n).toBe(1);
    expect(await paymentEventsOf(signed['webhook-id']!)).toEqual([{ tenant_id: a.id, invoice_id: invoiceId, outcome: 'paid' }]);
  });

  it('of different messages for one invoice pay it once: the others are already_paid, or 409 to retry', async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const answers = await Promise.all(Array.from({ length: 4 }, () => provider.deliver(api, event)));
    const outcomes = answers.map((r) => (r.status === 200 ? ((r.body as { reason?: string; status: string }).reason ?? (r.body as { status: string }).status) : String(r.status)));
    expect(outcomes.filter((o) => o === 'paid')).toEqual(['paid']);
    expect(outcomes.filter((o) => o !== 'paid' && o !== 'already_paid' && o !== '409')).toEqual([]);
    const { rows } = await owner.query(`SELECT count(*)::int AS n FROM domain_events WHERE tenant_id = $1 AND subject_id = $2 AND type = 'invoice.paid'`, [a.id, invoiceId]);
    expect(rows[0].n).toBe(1);
    const { rows: paid } = await owner.query(`SELECT count(*)::int AS n FROM payment_events WHERE tenant_id = $1 AND invoice_id = $2 AND outcome = 'paid'`, [a.id, invoiceId]);
    expect(paid[0].n).toBe(1);
  });
});

describe(tag('WEBHOOK-INBOUND', 'signature verification'), () => {
  /** Sends a delivery expected to be refused; returns it after checking that nothing changed. */
  async function refused(send: () => Promise<ApiResponse>, status: 400 | 401): Promise<ApiResponse> {
    const before = await stateOfBoth();
    const res = await send();
    expect(problemOf(res), `${res.text}`).toEqual({ status, problemJson: true, code: status === 401 ? 'payments.unverified' : 'payments.malformed_delivery' });
    expect(await stateOfBoth()).toEqual(before);
    return res;
  }
  const withoutRequestId = (res: ApiResponse) => ({ ...(res.body as object), requestId: undefined });

  it('refuses a tampered body, a wrong secret, and timestamps more than 5 minutes off (either way) with one fixed 401, the reason logged', async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const text = JSON.stringify(event);
    const now = clock.now().getTime();
    const cases: [string, () => Promise<ApiResponse>, string][] = [
      ['tampered body', () => provider.deliver(api, event, { sendInstead: text.replace(event.data.amount_minor, '1') }), 'signature_mismatch'],
      ['tampered invoice id', () => provider.deliver(api, event, { sendInstead: text.replace(invoiceId, randomUUID()) }), 'signature_mismatch'],
      ['wrong secret', () => new SimulatedPaymentProvider(newWebhookSecret(), () => clock.now()).deliver(api, event), 'signature_mismatch'],
      ['signed 301 s ago', () => provider.deliver(api, event, { signedAt: new Date(now - 301_000) }), 'stale_timestamp'],
      ['signed 301 s ahead', () => provider.deliver(api, event, { signedAt: new Date(now + 301_000) }), 'future_timestamp'],
      ['signed long ago', () => provider.deliver(api, event, { signedAt: new Date(now - 86_400_000) }), 'stale_timestamp'],
      ['timestamp not a number', () => provider.deliver(api, event, { headers: { 'webhook-timestamp': 'yesterday' } }), 'malformed_timestamp'],
      ['timestamp changed after signing', () => provider.deliver(api, event, { headers: { 'webhook-timestamp': String(Math.floor(now / 1000) - 1) } }), 'signature_mismatch'],
      ['message id changed after signing', () => provider.deliver(api, event, { headers: { 'webhook-id': 'msg_other' } }), 'signature_mismatch'],
      ['no v1 signature', () => provider.deliver(api, event, { headers: { 'webhook-signature': 'v2,abc v1a,def' } }), 'no_v1_signature'],
      ['a well-formed but wrong v1 signature', () => provider.deliver(api, event, { headers: { 'webhook-signature': `v1,${'A'.repeat(43)}=` } }), 'signature_mismatch'],
    ];
    const bodies: unknown[] = [];
    for (const [name, send, reason] of cases) {
      const res = await refused(send, 401);
      expect(refusalsIn(requestIdOf(res)), `${name}`).toEqual([reason]);
      bodies.push(withoutRequestId(res));
    }
    // One body for every reason: nothing tells the caller which check failed.
    expect(new Set(bodies.map((body) => JSON.stringify(body))).size).toBe(1);
    expect((await invoiceRow(a.id, invoiceId)).status).toBe('issued');
  });

  it('decides the window with the injected clock: a delivery that waited more than 5 minutes is refused, one within is accepted', async () => {
    const { event } = await payableInvoice(owner, a, accountA);
    const signedAt = clock.now();
    const late = provider.sign(JSON.stringify(event), { signedAt });
    clock.advance(301);
    const res = await refused(() => post(api, JSON.stringify(event), { 'content-type': 'application/json', ...late }), 401);
    expect(refusalsIn(requestIdOf(res))).toEqual(['stale_timestamp']);

    const onTime = provider.sign(JSON.stringify(event), { signedAt: clock.now() });
    clock.advance(299);
    const accepted = await post(api, JSON.stringify(event), { 'content-type': 'application/json', ...onTime });
    expect(accepted.body).toEqual({ status: 'paid' });
  });

  it.each(['webhook-id', 'webhook-timestamp', 'webhook-signature'])('answers 400 without the %s header, and changes nothing', async (header) => {
    const { event } = await payableInvoice(owner, a, accountA);
    const missing = await refused(() => provider.deliver(api, event, { headers: { [header]: undefined } }), 400);
    const empty = await refused(() => provider.deliver(api, event, { headers: { [header]: '' } }), 400);
    // Nothing verified, so nothing was logged as a signature failure.
    expect([...refusalsIn(requestIdOf(missing)), ...refusalsIn(requestIdOf(empty))]).toEqual(['malformed_headers', 'malformed_headers']);
  });

  it('answers 400 to a webhook-id that is not a bounded visible-ASCII id', async () => {
    const { event } = await payableInvoice(owner, a, accountA);
    for (const id of ['msg with spaces', 'x'.repeat(256), 'msg_ü']) {
      const body = JSON.stringify(event);
      const headers = { ...provider.sign(body), 'webhook-id': id };
      const res = await refused(() => post(api, body, { 'content-type': 'application/json', ...headers }), 400);
      expect(refusalsIn(requestIdOf(res))).toEqual(['malformed_headers']);
    }
  });

  it('accepts a signature computed independently (HMAC-SHA256 over "id.timestamp.body" with the base64-decoded secret), so the package does not only agree with itself', async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const body = JSON.stringify(event);
    const id = `msg_independent_${randomUUID()}`;
    const timestamp = String(clock.nowSeconds());
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
    // Both implementations sign alike...
    expect(provider.sign(body, { id, signedAt: new Date(Number(timestamp) * 1000) })['webhook-signature']).toBe(`v1,${signature}`);
    // ...and the route accepts the independent one.
    const res = await post(api, body, { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` });
    expect(res.body).toEqual({ status: 'paid' });
    expect((await invoiceRow(a.id, invoiceId)).status).toBe('paid');

    // The same independent computation with one bit flipped is refused.
    const other = await payableInvoice(owner, a, accountA);
    const otherBody = JSON.stringify(other.event);
    const flipped = createHmac('sha256', key).update(`${id}-2.${timestamp}.${otherBody}`).digest();
    flipped[0] = flipped[0]! ^ 1;
    await refused(
      () => post(api, otherBody, { 'content-type': 'application/json', 'webhook-id': `${id}-2`, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${flipped.toString('base64')}` }),
      401,
    );
  });

  it('accepts a delivery carrying several signatures when one of them is valid (secret rotation)', async () => {
    const { event } = await payableInvoice(owner, a, accountA);
    const body = JSON.stringify(event);
    const headers = provider.sign(body);
    const stale = new SimulatedPaymentProvider(newWebhookSecret()).sign(body, { id: headers['webhook-id'] })['webhook-signature'];
    const res = await post(api, body, { 'content-type': 'application/json', ...headers, 'webhook-signature': `${stale} v2,whatever ${headers['webhook-signature']}` });
    expect(res.body).toEqual({ status: 'paid' });
  });

  it('refuses a body that is not valid UTF-8 even when its bytes carry a correct HMAC', async () => {
    const { event } = await payableInvoice(owner, a, accountA);
    const text = JSON.stringify({ ...event, note: '__' });
    const bytes = Buffer.from(text);
    bytes.set([0xff, 0xfe], bytes.indexOf('__'));
    const id = SimulatedPaymentProvider.messageId();
    const timestamp = String(clock.nowSeconds());
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const signature = createHmac('sha256', key).update(Buffer.concat([Buffer.from(`${id}.${timestamp}.`), bytes])).digest('base64');
    const res = await refused(() => post(api, bytes, { 'content-type': 'application/json', 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': `v1,${signature}` }), 401);
    expect(refusalsIn(requestIdOf(res))).toEqual(['body_not_utf8']);
  });

  it('never writes a signature or the secret to the logs', () => {
    expect(api.logs.raw).not.toContain(secret.slice('whsec_'.length));
    expect(api.logs.raw).not.toMatch(/v1,[A-Za-z0-9+/]{43}=/);
  });
});

describe('tenant mapping and settlement', () => {
  it("changes nothing in tenant B when an event names B's invoice with A's account: B's invoice is not found in A", async () => {
    const { invoiceId: invoiceOfB, event } = await payableInvoice(owner, b, accountB);
    const before = await stateOfBoth();
    const res = await provider.deliver(api, { ...event, data: { ...event.data, account_id: accountA } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'rejected', reason: 'invoice_not_found' });
    const after = await stateOfBoth();
    expect(after.b).toEqual(before.b);
    expect((await invoiceRow(b.id, invoiceOfB)).status).toBe('issued');
    expect(await paymentEventsOf(res.id)).toEqual([{ tenant_id: a.id, invoice_id: invoiceOfB, outcome: 'invoice_not_found' }]);
    expect(await auditOf(a.id, requestIdOf(res))).toEqual([expect.objectContaining({ type: 'payments.event_received', outcome: 'failure', data: expect.objectContaining({ result: 'invoice_not_found' }) })]);

    // Exactly the answer for an invoice id that exists nowhere (invariant 5).
    const missing = await provider.deliver(api, { ...event, data: { ...event.data, account_id: accountA, invoice_id: randomUUID() } });
    expect(missing.body).toEqual(res.body);
  });

  it("pays B's invoice with B's account (the mapping decides the tenant, not the invoice id)", async () => {
    const { invoiceId, event } = await payableInvoice(owner, b, accountB);
    const before = await stateOf(a.id);
    const res = await provider.deliver(api, event);
    expect(res.body).toEqual({ status: 'paid' });
    expect((await invoiceRow(b.id, invoiceId)).status).toBe('paid');
    expect(await stateOf(a.id)).toEqual(before);
  });

  it('ignores an event for an account no tenant has (200, logged), and writes nothing anywhere', async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const before = await stateOfBoth();
    const res = await provider.deliver(api, { ...event, data: { ...event.data, account_id: 'acct_nobody_has_this' } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ignored' });
    expect(await stateOfBoth()).toEqual(before);
    expect(await paymentEventsOf(res.id)).toEqual([]);
    expect((await invoiceRow(a.id, invoiceId)).status).toBe('issued');
    expect(api.logs.lines.some((l) => l['event'] === 'payments.account_unknown' && l['messageId'] === res.id)).toBe(true);
  });

  it('ignores an event for the account of a suspended tenant', async () => {
    const c = await createTenant(owner, 'pay-c');
    const accountC = await createPaymentAccount(owner, c.id);
    const { invoiceId, event } = await payableInvoice(owner, c, accountC);
    await owner.query(`UPDATE tenants SET status = 'suspended' WHERE id = $1`, [c.id]);
    const res = await provider.deliver(api, event);
    expect(res.body).toEqual({ status: 'ignored' });
    expect((await invoiceRow(c.id, invoiceId)).status).toBe('issued');
    expect(await paymentEventsOf(res.id)).toEqual([]);
  });

  it.each([
    ['an amount below the total', (amount: string) => ({ amount_minor: String(BigInt(amount) - 1n) })],
    ['an amount above the total', (amount: string) => ({ amount_minor: String(BigInt(amount) + 1n) })],
    ['another currency', () => ({ currency: 'USD' })],
  ])('rejects %s as amount_mismatch: the invoice stays issued, the outcome is recorded', async (_, change) => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const before = await stateOf(b.id);
    const res = await provider.deliver(api, { ...event, data: { ...event.data, ...change(event.data.amount_minor) } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'rejected', reason: 'amount_mismatch' });
    expect((await invoiceRow(a.id, invoiceId)).status).toBe('issued');
    expect(await paymentEventsOf(res.id)).toEqual([{ tenant_id: a.id, invoice_id: invoiceId, outcome: 'amount_mismatch' }]);
    expect(await stateOf(b.id)).toEqual(before);
    const { rows } = await owner.query(`SELECT count(*)::int AS n FROM domain_events WHERE tenant_id = $1 AND subject_id = $2 AND type = 'invoice.paid'`, [a.id, invoiceId]);
    expect(rows[0].n).toBe(0);
  });

  it('rejects paying a draft or void invoice (not_payable) and paying a paid one again (already_paid)', async () => {
    for (const [status, reason] of [
      ['draft', 'not_payable'],
      ['void', 'not_payable'],
      ['paid', 'already_paid'],
    ] as const) {
      const invoiceId = await insertInvoice(owner, a.id, { createdById: a.users.owner.id, status });
      const before = await invoiceRow(a.id, invoiceId);
      const res = await provider.deliver(api, paymentSucceeded(accountA, invoiceId, '1000'));
      expect(res.body, `${status}`).toEqual({ status: 'rejected', reason });
      expect(await invoiceRow(a.id, invoiceId), `${status}`).toEqual(before);
      expect(await paymentEventsOf(res.id)).toEqual([{ tenant_id: a.id, invoice_id: invoiceId, outcome: reason }]);
    }
  });
});

describe('body validation (after the signature verified)', () => {
  it('refuses unknown fields, at the top and inside data, with 400 whitelistValidation, and changes nothing; the message id stays unused', async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const before = await stateOfBoth();
    const id = SimulatedPaymentProvider.messageId();
    const res = await provider.deliver(api, { ...event, tenantId: b.id, data: { ...event.data, status: 'paid', tenant_id: b.id } }, { id });
    expect(problemOf(res)).toEqual({ status: 400, problemJson: true, code: 'validation' });
    const errors = (res.body as { errors: { pointer: string; rules: string[] }[] }).errors;
    expect(errors.filter((e) => e.rules.includes('whitelistValidation')).map((e) => e.pointer).sort()).toEqual(['/data/status', '/data/tenant_id', '/tenantId']);
    expect(await stateOfBoth()).toEqual(before);

    const valid = await provider.deliver(api, event, { id });
    expect(valid.body).toEqual({ status: 'paid' });
    expect((await invoiceRow(a.id, invoiceId)).status).toBe('paid');
  });

  it.each<[string, (event: PaymentEventBody) => object]>([
    ['an event type it does not handle', (e) => ({ ...e, type: 'payment.refunded' })],
    ['an amount with a fraction', (e) => ({ ...e, data: { ...e.data, amount_minor: '10.5' } })],
    ['an amount as a number', (e) => ({ ...e, data: { ...e.data, amount_minor: Number(e.data.amount_minor) } })],
    ['a negative amount', (e) => ({ ...e, data: { ...e.data, amount_minor: `-${e.data.amount_minor}` } })],
    ['an invoice id that is not a UUID', (e) => ({ ...e, data: { ...e.data, invoice_id: '1 OR 1=1' } })],
    ['an account id of another shape', (e) => ({ ...e, data: { ...e.data, account_id: "acct_' OR ''='" } })],
    ['no data', (e) => ({ type: e.type })],
    ['data that is not an object', (e) => ({ type: e.type, data: 'acct_x' })],
    ['an array', (e) => [e]],
  ])('refuses %s with 400', async (_, change) => {
    const { event } = await payableInvoice(owner, a, accountA);
    const body = change(event);
    const before = await stateOfBoth();
    const res = await provider.deliver(api, body);
    expect(problemOf(res), `${res.text}`).toEqual({ status: 400, problemJson: true, code: 'validation' });
    expect(await stateOfBoth()).toEqual(before);
  });
});

describe(tag('WEBHOOK-INBOUND', 'without PAYMENTS_WEBHOOK_SECRET'), () => {
  let unconfigured: TestApi;
  beforeAll(async () => {
    unconfigured = await buildApi({ env: { PAYMENTS_WEBHOOK_SECRET: '' } });
  });
  afterAll(() => unconfigured.close());

  it('answers 503 problem+json to a signed delivery, and changes nothing', async () => {
    const { invoiceId, event } = await payableInvoice(owner, a, accountA);
    const before = await stateOfBoth();
    const res = await provider.deliver(unconfigured, event);
    expect(problemOf(res)).toEqual({ status: 503, problemJson: true, code: 'payments.not_configured' });
    expect(await stateOfBoth()).toEqual(before);
    expect((await invoiceRow(a.id, invoiceId)).status).toBe('issued');
  });

  it('still answers 400 to a request without the webhook headers (malformed either way)', async () => {
    const res = await post(unconfigured, '{}', { 'content-type': 'application/json' });
    expect(problemOf(res)).toEqual({ status: 400, problemJson: true, code: 'payments.malformed_delivery' });
  });
});

import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type request from 'supertest';
import { Webhook } from 'standardwebhooks';
import type { TestApi } from '../support/api.js';
import { buildAuthApi, Caller, SecretLedger, withoutRequestId } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createLoggedInTenant } from '../support/tenants.js';
import { problemOf } from '../support/public-api.js';
import { WebhookReceiver, type ReceivedRequest } from '../support/webhook-receiver.js';
import { obliterateQueues, startReadyWorker, uniqueQueuePrefix, type WorkerProcess } from '../support/worker.js';
import { tag } from '../security/support/controls.js';

/**
 * Outbound webhooks end to end (libs/webhooks): the real API and a real worker process on their own
 * queue prefix, real PostgreSQL and Redis, and a local receiver (test/support/webhook-receiver.ts).
 *
 * - Endpoint management on /v1/webhook-endpoints: the signing secret is shown once, stored only
 *   encrypted, never in reads, audit rows, stored idempotent responses or logs (invariant 8).
 * - The outbox relay turns domain events into one delivery per subscribed endpoint of the event's
 *   own tenant; the worker signs each attempt (Standard Webhooks, checked here by a verifier
 *   written independently of the package, and by the package) and retries on the schedule
 *   (`0,1,1,1` s here) with the same webhook-id, never after a 2xx.
 * - 410 Gone disables an endpoint and announces it (webhook_endpoint.disabled); a secret rotation
 *   signs with both secrets for the overlap (invariant 9).
 * - SSRF: private, link-local and IPv4-mapped addresses are refused when an endpoint is saved, and a
 *   host name that resolves to a private address is refused by the worker at connect time.
 * - Another tenant's endpoints and deliveries are 404 everywhere; an event never crosses tenants.
 *
 * The receiver listens on 127.0.0.1, which EGRESS_ALLOW_PRIVATE lets through in the main API and
 * worker; a second "strict" API and worker run without that allowance.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const SECRET = /^whsec_[A-Za-z0-9+/]{43}=$/;
const ENDPOINT_KEYS = ['createdAt', 'description', 'disabledAt', 'disabledReason', 'enabled', 'events', 'failingSince', 'id', 'previousSecretExpiresAt', 'updatedAt', 'url', 'version'];
const DELIVERY_KEYS = ['attempts', 'createdAt', 'deliveredAt', 'eventId', 'eventType', 'id', 'lastStatusCode', 'messageId', 'nextAttemptAt', 'status', 'updatedAt'];
const ATTEMPT_KEYS = ['attempt', 'attemptedAt', 'error', 'id', 'latencyMs', 'responseExcerpt', 'statusCode'];

interface EndpointBody {
  id: string;
  url: string;
  description: string | null;
  events: string[];
  enabled: boolean;
  failingSince: string | null;
  disabledAt: string | null;
  disabledReason: string | null;
  previousSecretExpiresAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
}
interface CreatedEndpoint extends EndpointBody {
  secret: string | null;
}
interface DeliveryBody {
  id: string;
  messageId: string;
  eventType: string;
  eventId: string | null;
  status: 'pending' | 'succeeded' | 'failed';
  attempts: number;
  nextAttemptAt: string | null;
  lastStatusCode: number | null;
  deliveredAt: string | null;
  createdAt: string;
  updatedAt: string;
}
interface AttemptBody {
  id: string;
  attempt: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  responseExcerpt: string | null;
  attemptedAt: string;
}
interface DeliveryDetail extends DeliveryBody {
  payload: { type: string; timestamp: string; data: Record<string, unknown> };
  attemptLog: AttemptBody[];
}

/**
 * Standard Webhooks verification written out from the specification, independent of the package
 * the worker signs with: HMAC-SHA256 over `${webhook-id}.${webhook-timestamp}.${body}` keyed with
 * the base64-decoded secret, compared in constant time with each `v1,` signature of the header.
 * Answers, per signature in the header, whether it verifies.
 */
function signatureChecks(secret: string, req: ReceivedRequest): boolean[] {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const id = String(req.headers['webhook-id']);
  const timestamp = String(req.headers['webhook-timestamp']);
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.${req.body}`, 'utf8').digest();
  return String(req.headers['webhook-signature'])
    .split(' ')
    .map((part) => {
      const comma = part.indexOf(',');
      if (part.slice(0, comma) !== 'v1') return false;
      const given = Buffer.from(part.slice(comma + 1), 'base64');
      return given.length === expected.length && timingSafeEqual(given, expected);
    });
}

/** The package's own verification (which also checks the timestamp tolerance); throws when nothing verifies. */
function packageVerifies(secret: string, req: ReceivedRequest): unknown {
  return new Webhook(secret).verify(req.body, {
    'webhook-id': String(req.headers['webhook-id']),
    'webhook-timestamp': String(req.headers['webhook-timestamp']),
    'webhook-signature': String(req.headers['webhook-signature']),
  });
}

async function eventually<T>(probe: () => Promise<T | undefined>, what: string, ms = 15_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('outbound webhooks', () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  const prefix = uniqueQueuePrefix('webhooks');
  const strictPrefix = uniqueQueuePrefix('webhooks-strict');
  // This file's main worker is the only one in the suite that relays the outbox (setup-env turns it off
  // elsewhere); the strict worker only serves pings its own API queues.
  const env = { QUEUE_PREFIX: prefix, EGRESS_ALLOW_PRIVATE: '127.0.0.1/32', WEBHOOK_RETRY_SCHEDULE_S: '0,1,1,1', OUTBOX_POLL_INTERVAL_MS: '100', WEBHOOK_TIMEOUT_MS: '1500', OUTBOX_RELAY_ENABLED: 'true' };
  const strictEnv = { ...env, QUEUE_PREFIX: strictPrefix, EGRESS_ALLOW_PRIVATE: '', OUTBOX_RELAY_ENABLED: 'false' };
  let api: TestApi;
  let strictApi: TestApi;
  let caller: Caller;
  let strictCaller: Caller;
  let worker: WorkerProcess;
  let receiver: WebhookReceiver;
  /** Every secret the API revealed, by endpoint id (the latest first). */
  const secrets = new Map<string, string[]>();

  beforeAll(async () => {
    receiver = await WebhookReceiver.start();
    api = ledger.watch(await buildAuthApi({ env }));
    strictApi = ledger.watch(await buildAuthApi({ env: strictEnv }));
    caller = new Caller(api, ledger);
    strictCaller = new Caller(strictApi, ledger);
    worker = await startReadyWorker(prefix, env);
  });
  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await strictApi?.close();
    await receiver?.close();
    await obliterateQueues(prefix);
    await obliterateQueues(strictPrefix);
  });

  const loggedInTenant = (label: string, via: Caller = caller) => createLoggedInTenant(owner, via, label);

  const call = (method: 'get' | 'post' | 'patch' | 'delete', path: string, token: string, body?: object, headers?: Record<string, string>, via: Caller = caller) =>
    via.call(method, path, { token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });
  const requestId = (res: request.Response) => String(res.headers['x-request-id']);

  const remember = (id: string, secret: string | null) => {
    if (!secret) return;
    ledger.add(secret);
    secrets.set(id, [secret, ...(secrets.get(id) ?? [])]);
  };

  async function createEndpoint(token: string, body: Record<string, unknown>, headers?: Record<string, string>, via: Caller = caller): Promise<CreatedEndpoint> {
    const res = await call('post', '/v1/webhook-endpoints', token, body, headers, via);
    if (res.status !== 201) throw new Error(`create endpoint: expected 201, got ${res.status} ${res.text}`);
    const created = res.body as CreatedEndpoint;
    remember(created.id, created.secret);
    return created;
  }

  async function ping(token: string, endpointId: string, via: Caller = caller): Promise<DeliveryBody> {
    const res = await call('post', `/v1/webhook-endpoints/${endpointId}/ping`, token, undefined, undefined, via);
    if (res.status !== 202) throw new Error(`ping: expected 202, got ${res.status} ${res.text}`);
    return res.body as DeliveryBody;
  }

  async function detail(token: string, endpointId: string, deliveryId: string, via: Caller = caller): Promise<DeliveryDetail> {
    const res = await call('get', `/v1/webhook-endpoints/${endpointId}/deliveries/${deliveryId}`, token, undefined, undefined, via);
    if (res.status !== 200) throw new Error(`delivery detail: expected 200, got ${res.status} ${res.text}`);
    return res.body as DeliveryDetail;
  }

  /** The delivery once it has left `pending` (succeeded or failed). */
  const settled = (token: string, endpointId: string, deliveryId: string, via: Caller = caller) =>
    eventually(async () => {
      const d = await detail(token, endpointId, deliveryId, via);
      return d.status === 'pending' ? undefined : d;
    }, `delivery ${deliveryId} to settle`);

  /** A domain event, as a feature's transaction would append it to the outbox. */
  async function emit(tenantId: string, type: string, data: Record<string, unknown>): Promise<string> {
    const id = randomUUID();
    await owner.query('INSERT INTO domain_events (tenant_id, id, type, subject_type, subject_id, payload) VALUES ($1, $2, $3, $4, $5, $6)', [
      tenantId,
      id,
      type,
      type.split('.')[0],
      String(data.id ?? randomUUID()),
      JSON.stringify(data),
    ]);
    return id;
  }

  async function deliveriesOf(tenantId: string, endpointId: string): Promise<{ id: string; message_id: string; event_id: string | null; status: string; attempts: number }[]> {
    const { rows } = await owner.query('SELECT id, message_id, event_id, status, attempts FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 ORDER BY created_at, id', [tenantId, endpointId]);
    return rows;
  }
  async function auditRows(tenantId: string, type: string): Promise<{ actor: string; subject: string; outcome: string; data: Record<string, unknown>; request_id: string | null }[]> {
    const { rows } = await owner.query('SELECT actor, subject, outcome, data, request_id FROM audit_events WHERE tenant_id = $1 AND type = $2 ORDER BY seq', [tenantId, type]);
    return rows;
  }

  describe('managing endpoints', () => {
    it('creates an endpoint (owners and admins) and shows its Standard Webhooks secret once', async () => {
      const { tenant, tokens } = await loggedInTenant('wh-create');
      const res = await call('post', '/v1/webhook-endpoints', tokens.owner, { url: receiver.url('/create'), description: 'ERP', events: ['ticket.created', 'invoice.paid', 'invoice.issued'] });
      expect(res.status, `${res.text}`).toBe(201);
      const created = res.body as CreatedEndpoint;
      remember(created.id, created.secret);
      expect(Object.keys(created).sort()).toEqual([...ENDPOINT_KEYS, 'secret'].sort());
      expect(created).toMatchObject({
        id: expect.stringMatching(UUID),
        url: receiver.url('/create'),
        description: 'ERP',
        // Canonical order.
        events: ['invoice.issued', 'invoice.paid', 'ticket.created'],
        enabled: true,
        failingSince: null,
        disabledAt: null,
        disabledReason: null,
        previousSecretExpiresAt: null,
        version: 1,
        secret: expect.stringMatching(SECRET),
      });
      expect(Buffer.from(created.secret!.slice('whsec_'.length), 'base64')).toHaveLength(32);
      expect(res.headers.location).toBe(`/v1/webhook-endpoints/${created.id}`);
      expect(res.headers.etag).toBe('"1"');
      expect(res.headers['cache-control']).toBe('no-store');

      expect(await auditRows(tenant.id, 'webhook.endpoint_created')).toEqual([
        {
          actor: `user:${tenant.users.owner.id}`,
          subject: `webhook_endpoint:${created.id}`,
          outcome: 'success',
          data: { host: `127.0.0.1:${receiver.port}`, events: 'invoice.issued invoice.paid ticket.created', enabled: true },
          request_id: requestId(res),
        },
      ]);

      const byAdmin = await createEndpoint(tokens.admin, { url: receiver.url('/create-admin'), events: ['invoice.paid'], enabled: false });
      expect(byAdmin).toMatchObject({ enabled: false, disabledReason: 'manual', description: null });
      for (const role of ['member', 'viewer'] as const) {
        expect(problemOf(await call('post', '/v1/webhook-endpoints', tokens[role], { url: receiver.url('/x'), events: ['invoice.paid'] })), `${role}`).toMatchObject({ status: 403, problemJson: true });
        expect(problemOf(await call('get', '/v1/webhook-endpoints', tokens[role])), `${role}`).toMatchObject({ status: 403, problemJson: true });
      }
    });

    it('keeps the secret out of reads, the database (encrypted at rest), the audit trail and idempotent replays', async () => {
      const { tenant, tokens } = await loggedInTenant('wh-secret');
      const headers = { 'idempotency-key': `k-${randomBytes(6).toString('hex')}` };
      const body = { url: receiver.url('/secret'), events: ['invoice.paid'] };
      const first = await call('post', '/v1/webhook-endpoints', tokens.owner, body, headers);
      expect(first.status, `${first.text}`).toBe(201);
      const created = first.body as CreatedEndpoint;
      remember(created.id, created.secret);
      const secret = created.secret!;
      const rawKey = secret.slice('whsec_'.length);

      const replay = await call('post', '/v1/webhook-endpoints', tokens.owner, body, headers);
      expect(replay.status, `${replay.text}`).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(replay.body).toEqual({ ...created, secret: null });

      const get = await call('get', `/v1/webhook-endpoints/${created.id}`, tokens.owner);
      expect(get.status, `${get.text}`).toBe(200);
      expect(Object.keys(get.body as object).sort()).toEqual(ENDPOINT_KEYS);
      expect(get.headers.etag).toBe('"1"');
      const list = await call('get', '/v1/webhook-endpoints', tokens.owner);
      expect(list.status, `${list.text}`).toBe(200);
      expect((list.body as { items: EndpointBody[] }).items.map((e) => e.id)).toEqual([created.id]);
      for (const res of [get, list, replay]) {
        expect(res.text).not.toContain(rawKey);
        expect(res.text.toLowerCase()).not.toContain('ciphertext');
      }

      // The stored row, as the owner connection sees it: only AES-GCM ciphertext.
      const { rows } = await owner.query<{ row: Record<string, unknown>; text: string }>('SELECT to_jsonb(e) AS row, to_jsonb(e)::text AS text FROM webhook_endpoints e WHERE tenant_id = $1 AND id = $2', [tenant.id, created.id]);
      expect(String(rows[0]!.row.secret_ciphertext)).toMatch(/^v1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
      expect(rows[0]!.text).not.toContain(rawKey);
      expect(rows[0]!.text).not.toContain(Buffer.from(rawKey, 'base64').toString('base64url'));
      expect(rows[0]!.text).not.toContain(Buffer.from(rawKey, 'base64').toString('hex'));
      const stored = await owner.query<{ t: string }>(
        `SELECT to_jsonb(a)::text AS t FROM audit_events a WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(k)::text FROM idempotency_keys k WHERE tenant_id = $1
         UNION ALL SELECT to_jsonb(d)::text FROM domain_events d WHERE tenant_id = $1`,
        [tenant.id],
      );
      expect(stored.rows.length).toBeGreaterThan(0);
      for (const { t } of stored.rows) expect(t).not.toContain(rawKey);
    });

    it('validates input: a non-empty set of known event types, an http(s) URL, no unknown fields', async () => {
      const { tokens } = await loggedInTenant('wh-validate');
      const cases: [string, Record<string, unknown>][] = [
        ['no events', { url: receiver.url('/v'), events: [] }],
        ['an unknown event type', { url: receiver.url('/v'), events: ['invoice.deleted'] }],
        ['the ping type', { url: receiver.url('/v'), events: ['webhook.ping'] }],
        ['a repeated event type', { url: receiver.url('/v'), events: ['invoice.paid', 'invoice.paid'] }],
        ['no URL', { events: ['invoice.paid'] }],
        ['another scheme', { url: 'ftp://example.com/hook', events: ['invoice.paid'] }],
        ['a relative URL', { url: '/hook', events: ['invoice.paid'] }],
        ['an unknown field', { url: receiver.url('/v'), events: ['invoice.paid'], secret: 'whsec_mine' }],
        ['a non-boolean enabled', { url: receiver.url('/v'), events: ['invoice.paid'], enabled: 'yes' }],
      ];
      for (const [name, body] of cases) {
        expect(problemOf(await call('post', '/v1/webhook-endpoints', tokens.owner, body)), `${name}`).toMatchObject({ status: 400, problemJson: true });
      }
    });

    it('updates with If-Match, deletes (with the delivery log), and answers 412 to a stale version', async () => {
      const { tenant, tokens } = await loggedInTenant('wh-update');
      const created = await createEndpoint(tokens.owner, { url: receiver.url('/update'), events: ['invoice.paid'] });
      const patched = await call('patch', `/v1/webhook-endpoints/${created.id}`, tokens.admin, { description: 'Gudang', events: ['ticket.updated', 'invoice.paid'] }, { 'if-match': '"1"' });
      expect(patched.status, `${patched.text}`).toBe(200);
      expect(patched.body).toMatchObject({ description: 'Gudang', events: ['invoice.paid', 'ticket.updated'], version: 2 });
      expect(patched.headers.etag).toBe('"2"');
      expect(problemOf(await call('patch', `/v1/webhook-endpoints/${created.id}`, tokens.owner, { description: null }, { 'if-match': '"1"' }))).toEqual({
        status: 412,
        problemJson: true,
        code: 'webhook.version_mismatch',
      });
      const cleared = await call('patch', `/v1/webhook-endpoints/${created.id}`, tokens.owner, { description: null }, { 'if-match': '"2"' });
      expect(cleared.body).toMatchObject({ description: null, version: 3 });
      const noop = await call('patch', `/v1/webhook-endpoints/${created.id}`, tokens.owner, { events: ['ticket.updated', 'invoice.paid'] });
      expect(noop.body).toMatchObject({ version: 3 });
      expect((await auditRows(tenant.id, 'webhook.endpoint_updated')).map((r) => r.data)).toEqual([{ changed: 'description events' }, { changed: 'description' }]);
      for (const body of [{ url: null }, { events: null }, { enabled: null }, { events: [] }]) {
        expect(problemOf(await call('patch', `/v1/webhook-endpoints/${created.id}`, tokens.owner, body)), `${JSON.stringify(body)}`).toMatchObject({ status: 400 });
      }
      expect(problemOf(await call('patch', `/v1/webhook-endpoints/${created.id}`, tokens.member, { description: 'x' }))).toMatchObject({ status: 403 });

      const delivery = await ping(tokens.owner, created.id);
      await settled(tokens.owner, created.id, delivery.id);
      expect(problemOf(await call('delete', `/v1/webhook-endpoints/${created.id}`, tokens.owner, undefined, { 'if-match': '"1"' }))).toMatchObject({ status: 412 });
      const removed = await call('delete', `/v1/webhook-endpoints/${created.id}`, tokens.owner, undefined, { 'if-match': '"3"' });
      expect(removed.status, `${removed.text}`).toBe(204);
      expect(problemOf(await call('get', `/v1/webhook-endpoints/${created.id}`, tokens.owner))).toEqual({ status: 404, problemJson: true, code: 'webhook.endpoint_not_found' });
      expect(await deliveriesOf(tenant.id, created.id)).toEqual([]);
      expect(await auditRows(tenant.id, 'webhook.endpoint_deleted')).toEqual([
        { actor: `user:${tenant.users.owner.id}`, subject: `webhook_endpoint:${created.id}`, outcome: 'success', data: {}, request_id: requestId(removed) },
      ]);
    });
  });

  describe(tag('SSRF-EGRESS', 'server-side request forgery'), () => {
    it('refuses private, loopback, link-local and IPv4-mapped addresses and credentials in URLs when an endpoint is saved', async () => {
      const { tokens } = await loggedInTenant('wh-ssrf-save', strictCaller);
      const refused: [string, string][] = [
        [receiver.url('/ssrf'), 'blocked_address'],
        ['http://169.254.169.254/latest/meta-data/', 'blocked_address'],
        ['http://[::ffff:127.0.0.1]/hook', 'blocked_address'],
        ['http://[::1]/hook', 'blocked_address'],
        ['http://10.0.0.7/hook', 'blocked_address'],
        ['http://2130706433/hook', 'blocked_address'],
        ['https://user:pass@example.com/hook', 'invalid_url'],
        ['http://example.com:25/hook', 'blocked_address'],
      ];
      for (const [url, reason] of refused) {
        const res = await call('post', '/v1/webhook-endpoints', tokens.owner, { url, events: ['invoice.paid'] }, undefined, strictCaller);
        expect(problemOf(res), `${url}`).toEqual({ status: 400, problemJson: true, code: 'webhook.url_not_allowed' });
        expect((res.body as { reason?: string }).reason, `${url}`).toBe(reason);
        expect(res.text, `${url}`).not.toContain(new URL(url).hostname.replace(/^\[|\]$/g, ''));
      }
      // EGRESS_ALLOW_PRIVATE lets exactly 127.0.0.1 through on the main API; the rest stays refused.
      const main = await loggedInTenant('wh-ssrf-main');
      for (const url of ['http://169.254.169.254/', 'http://[::ffff:127.0.0.1]/hook', 'http://127.0.0.2/hook']) {
        expect(problemOf(await call('post', '/v1/webhook-endpoints', main.tokens.owner, { url, events: ['invoice.paid'] })), `${url}`).toMatchObject({ status: 400, code: 'webhook.url_not_allowed' });
      }
      const ok = await createEndpoint(main.tokens.owner, { url: receiver.url('/ssrf-ok'), events: ['invoice.paid'] });
      expect(problemOf(await call('patch', `/v1/webhook-endpoints/${ok.id}`, main.tokens.owner, { url: 'http://169.254.169.254/' }))).toMatchObject({ status: 400, code: 'webhook.url_not_allowed' });
    });

    it('refuses, at delivery time, a host name that resolves to a private address: the attempt fails as blocked_address and the receiver is never contacted', async () => {
      const strictWorker = await startReadyWorker(strictPrefix, strictEnv);
      try {
        const { tokens } = await loggedInTenant('wh-ssrf-deliver', strictCaller);
        // A name passes the save-time check (its DNS can change); the connect-time check is the one that holds.
        const endpoint = await createEndpoint(tokens.owner, { url: receiver.hostUrl('localhost', '/rebind'), events: ['invoice.paid'] }, undefined, strictCaller);
        const delivery = await ping(tokens.owner, endpoint.id, strictCaller);
        const failed = await settled(tokens.owner, endpoint.id, delivery.id, strictCaller);
        expect(failed.status).toBe('failed');
        expect(failed.attemptLog.length).toBe(4);
        for (const attempt of failed.attemptLog) expect(attempt).toMatchObject({ statusCode: null, error: 'blocked_address', responseExcerpt: null });
        expect(receiver.requests('/rebind')).toEqual([]);
        const log = strictWorker.output();
        expect(log).toContain('"error":"blocked_address"');
        expect(log).not.toContain('127.0.0.1');
      } finally {
        await strictWorker.stop();
      }
    });
  });

  describe('delivering outbox events', () => {
    it(tag('WEBHOOK-SIGNING', 'delivers an event to every subscribed endpoint of its tenant, signed (Standard Webhooks), and to no other tenant'), async () => {
      const a = await loggedInTenant('wh-deliver-a');
      const b = await loggedInTenant('wh-deliver-b');
      const endpointA = await createEndpoint(a.tokens.owner, { url: receiver.url('/tenant-a'), events: ['ticket.created'] });
      const otherA = await createEndpoint(a.tokens.owner, { url: receiver.url('/tenant-a-invoices'), events: ['invoice.paid'] });
      const endpointB = await createEndpoint(b.tokens.owner, { url: receiver.url('/tenant-b'), events: ['ticket.created'] });

      // A real change through the API: the ticket and its outbox event commit together.
      const ticket = await call('post', '/v1/tickets', a.tokens.member, { subject: 'Printer rusak', body: 'Lantai 3' });
      expect(ticket.status, `${ticket.text}`).toBe(201);
      const ticketId = (ticket.body as { id: string }).id;
      const { rows: events } = await owner.query<{ id: string }>("SELECT id FROM domain_events WHERE tenant_id = $1 AND type = 'ticket.created' AND subject_id = $2", [a.tenant.id, ticketId]);
      expect(events).toHaveLength(1);
      const eventId = events[0]!.id;

      const [received] = await receiver.waitFor('/tenant-a', 1);
      expect(received!.method).toBe('POST');
      expect(received!.headers['content-type']).toBe('application/json');
      expect(received!.headers['webhook-id']).toBe(`msg_${eventId}`);
      expect(Math.abs(Number(received!.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      expect(signatureChecks(secrets.get(endpointA.id)![0]!, received!)).toEqual([true]);
      expect(signatureChecks(secrets.get(endpointB.id)![0]!, received!)).toEqual([false]);
      const body = packageVerifies(secrets.get(endpointA.id)![0]!, received!) as { type: string; timestamp: string; data: Record<string, unknown> };
      expect(body).toEqual({ type: 'ticket.created', timestamp: expect.any(String), data: expect.objectContaining({ id: ticketId, status: 'open' }) });
      expect(JSON.stringify(body)).not.toContain('Printer rusak');
      expect(() => packageVerifies(secrets.get(endpointB.id)![0]!, received!)).toThrow('No matching signature found');

      const [delivery] = await deliveriesOf(a.tenant.id, endpointA.id);
      const succeeded = await settled(a.tokens.owner, endpointA.id, delivery!.id);
      expect(succeeded).toMatchObject({ status: 'succeeded', attempts: 1, lastStatusCode: 200, eventType: 'ticket.created', eventId, messageId: `msg_${eventId}`, nextAttemptAt: null });
      expect(succeeded.deliveredAt).not.toBeNull();
      const { rows: published } = await owner.query('SELECT published_at FROM domain_events WHERE tenant_id = $1 AND id = $2', [a.tenant.id, eventId]);
      expect(published[0]!.published_at).not.toBeNull();

      // Tenant B's endpoint, subscribed to the same type, heard nothing and has no delivery of it;
      // A's endpoint that is not subscribed to it has none either.
      await new Promise((r) => setTimeout(r, 500));
      expect(receiver.requests('/tenant-b')).toEqual([]);
      expect(await deliveriesOf(b.tenant.id, endpointB.id)).toEqual([]);
      expect(await deliveriesOf(a.tenant.id, otherA.id)).toEqual([]);
      const { rows: anywhere } = await owner.query('SELECT tenant_id FROM webhook_deliveries WHERE event_id = $1', [eventId]);
      expect(anywhere).toEqual([{ tenant_id: a.tenant.id }]);

      // And B's own event reaches B only.
      const eventB = await emit(b.tenant.id, 'ticket.created', { id: randomUUID(), status: 'open', priority: 'normal', assigned: false, changed: [] });
      const [receivedB] = await receiver.waitFor('/tenant-b', 1);
      expect(receivedB!.headers['webhook-id']).toBe(`msg_${eventB}`);
      expect(signatureChecks(secrets.get(endpointB.id)![0]!, receivedB!)).toEqual([true]);
      await new Promise((r) => setTimeout(r, 300));
      expect(receiver.requests('/tenant-a')).toHaveLength(1);
    });

    it('retries a failing receiver on the schedule with the same webhook-id, stops after the first 2xx, and logs every attempt', async () => {
      const { tenant, tokens } = await loggedInTenant('wh-retry');
      const failBody = `down for maintenance ${'x'.repeat(3000)}`;
      receiver.respond('/flaky', { failTimes: 2, failStatus: 500, failBody, body: 'accepted' });
      const endpoint = await createEndpoint(tokens.owner, { url: receiver.url('/flaky'), events: ['invoice.paid'] });
      const eventId = await emit(tenant.id, 'invoice.paid', { id: randomUUID(), number: 'INV-1', status: 'paid', totalMinor: '150000' });

      const requests = await receiver.waitFor('/flaky', 3);
      expect(requests.map((r) => r.answered)).toEqual([500, 500, 200]);
      expect(new Set(requests.map((r) => r.headers['webhook-id']))).toEqual(new Set([`msg_${eventId}`]));
      for (const r of requests) expect(signatureChecks(secrets.get(endpoint.id)![0]!, r)).toEqual([true]);
      // The same message every time; only the timestamp (and so the signature) is per attempt.
      expect(new Set(requests.map((r) => r.body)).size).toBe(1);
      // Retries follow WEBHOOK_RETRY_SCHEDULE_S (1 s here).
      expect(requests[1]!.receivedAt.getTime() - requests[0]!.receivedAt.getTime()).toBeGreaterThanOrEqual(900);

      const [delivery] = await deliveriesOf(tenant.id, endpoint.id);
      const done = await settled(tokens.owner, endpoint.id, delivery!.id);
      expect(done).toMatchObject({ status: 'succeeded', attempts: 3, lastStatusCode: 200 });
      expect(done.attemptLog.map((a) => [a.attempt, a.statusCode, a.error])).toEqual([
        [1, 500, null],
        [2, 500, null],
        [3, 200, null],
      ]);
      for (const attempt of done.attemptLog) {
        expect(Object.keys(attempt).sort()).toEqual(ATTEMPT_KEYS);
        expect(attempt.latencyMs).toBeGreaterThanOrEqual(0);
        expect(Buffer.byteLength(attempt.responseExcerpt ?? '', 'utf8')).toBeLessThanOrEqual(1024);
      }
      expect(done.attemptLog[0]!.responseExcerpt).toBe(failBody.slice(0, 1024));
      expect(done.attemptLog[2]!.responseExcerpt).toBe('accepted');
      expect(done.payload).toMatchObject({ type: 'invoice.paid', data: { number: 'INV-1' } });

      // Nothing after the 2xx: wait longer than the retry delays, then count again.
      await new Promise((r) => setTimeout(r, 2500));
      expect(receiver.requests('/flaky')).toHaveLength(3);
      expect(receiver.requests('/flaky').filter((r) => r.answered < 300)).toHaveLength(1);
      const endpointNow = await call('get', `/v1/webhook-endpoints/${endpoint.id}`, tokens.owner);
      expect(endpointNow.body).toMatchObject({ enabled: true, failingSince: null });
    });

    it('marks a delivery failed when the schedule is exhausted, and records the failure streak on the endpoint', async () => {
      const { tenant, tokens } = await loggedInTenant('wh-exhaust');
      receiver.respond('/broken', { failTimes: 100, failStatus: 503 });
      const endpoint = await createEndpoint(tokens.owner, { url: receiver.url('/broken'), events: ['invoice.voided'] });
      await emit(tenant.id, 'invoice.voided', { id: randomUUID(), status: 'void' });
      const [delivery] = await eventually(async () => {
        const rows = await deliveriesOf(tenant.id, endpoint.id);
        return rows.length > 0 ? rows : undefined;
      }, 'the delivery');
      const done = await settled(tokens.owner, endpoint.id, delivery!.id);
      expect(done).toMatchObject({ status: 'failed', attempts: 4, lastStatusCode: 503, nextAttemptAt: null });
      expect(receiver.requests('/broken')).toHaveLength(4);
      const now = (await call('get', `/v1/webhook-endpoints/${endpoint.id}`, tokens.owner)).body as EndpointBody;
      expect(now.failingSince).not.toBeNull();
      // WEBHOOK_DISABLE_AFTER_S (5 days) has not passed: still enabled.
      expect(now.enabled).toBe(true);
    });

    it('gives up on a slow receiver at WEBHOOK_TIMEOUT_MS (a failed attempt, error timeout) and tries again', async () => {
      const { tokens } = await loggedInTenant('wh-slow');
      receiver.respond('/slow', { delayMs: 3000, delayTimes: 1 });
      const endpoint = await createEndpoint(tokens.owner, { url: receiver.url('/slow'), events: ['invoice.paid'] });
      const delivery = await ping(tokens.owner, endpoint.id);
      const done = await settled(tokens.owner, endpoint.id, delivery.id);
      expect(done).toMatchObject({ status: 'succeeded', attempts: 2, lastStatusCode: 200 });
      expect(done.attemptLog.map((a) => [a.attempt, a.statusCode, a.error, a.responseExcerpt])).toEqual([
        [1, null, 'timeout', null],
        [2, 200, null, 'ok'],
      ]);
      expect(done.attemptLog[0]!.latencyMs).toBeGreaterThanOrEqual(1400);
      expect(done.attemptLog[0]!.latencyMs).toBeLessThan(2900);
    });

    it('disables an endpoint that has failed for WEBHOOK_DISABLE_AFTER_S, holds its delivery, and resumes it when enabled again', async () => {
      const { tenant, tokens } = await loggedInTenant('wh-failing');
      receiver.respond('/failing', { failTimes: 1, failStatus: 500 });
      const endpoint = await createEndpoint(tokens.owner, { url: receiver.url('/failing'), events: ['invoice.paid'] });
      const watcher = await createEndpoint(tokens.owner, { url: receiver.url('/failing-watcher'), events: ['webhook_endpoint.disabled'] });
      // Failing for six days already (the default WEBHOOK_DISABLE_AFTER_S is five).
      await owner.query("UPDATE webhook_endpoints SET failing_since = now() - interval '6 days' WHERE tenant_id = $1 AND id = $2", [tenant.id, endpoint.id]);
      const delivery = await ping(tokens.owner, endpoint.id);
      await receiver.waitFor('/failing', 1);
      const off = await eventually(async () => {
        const body = (await call('get', `/v1/webhook-endpoints/${endpoint.id}`, tokens.owner)).body as EndpointBody;
        return body.enabled ? undefined : body;
      }, 'the endpoint to be disabled');
      expect(off).toMatchObject({ enabled: false, disabledReason: 'failing' });
      const held = await detail(tokens.owner, endpoint.id, delivery.id);
      expect(held).toMatchObject({ status: 'pending', attempts: 1, lastStatusCode: 500, nextAttemptAt: null });
      const [announcement] = await receiver.waitFor('/failing-watcher', 1);
      expect(packageVerifies(secrets.get(watcher.id)![0]!, announcement!)).toMatchObject({ type: 'webhook_endpoint.disabled', data: { id: endpoint.id, reason: 'failing' } });
      // Held, not retried: nothing more reaches the receiver while the endpoint is off.
      await new Promise((r) => setTimeout(r, 1500));
      expect(receiver.requests('/failing')).toHaveLength(1);

      const on = await call('patch', `/v1/webhook-endpoints/${endpoint.id}`, tokens.owner, { enabled: true });
      expect(on.body).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
      const resumed = await settled(tokens.owner, endpoint.id, delivery.id);
      expect(resumed).toMatchObject({ status: 'succeeded', attempts: 2, lastStatusCode: 200 });
      expect(receiver.requests('/failing').map((r) => r.headers['webhook-id'])).toEqual([delivery.messageId, delivery.messageId]);
    });

    it('disables an endpoint that answers 410 Gone and announces it to the tenant\'s other endpoints, never to itself', async () => {
      const { tenant, tokens } = await loggedInTenant('wh-gone');
      receiver.respond('/gone', { status: 410, body: 'gone' });
      const gone = await createEndpoint(tokens.owner, { url: receiver.url('/gone'), events: ['invoice.paid', 'webhook_endpoint.disabled'] });
      const watcher = await createEndpoint(tokens.owner, { url: receiver.url('/watcher'), events: ['webhook_endpoint.disabled'] });
      await emit(tenant.id, 'invoice.paid', { id: randomUUID(), status: 'paid' });

      await receiver.waitFor('/gone', 1);
      const [delivery] = await deliveriesOf(tenant.id, gone.id);
      const failed = await settled(tokens.owner, gone.id, delivery!.id);
      expect(failed).toMatchObject({ status: 'failed', attempts: 1, lastStatusCode: 410 });
      const disabled = (await call('get', `/v1/webhook-endpoints/${gone.id}`, tokens.owner)).body as EndpointBody;
      expect(disabled).toMatchObject({ enabled: false, disabledReason: 'gone', version: 2 });
      expect(disabled.disabledAt).not.toBeNull();

      const [announcement] = await receiver.waitFor('/watcher', 1);
      const message = packageVerifies(secrets.get(watcher.id)![0]!, announcement!) as { type: string; data: Record<string, unknown> };
      expect(message).toMatchObject({ type: 'webhook_endpoint.disabled', data: { id: gone.id, reason: 'gone', disabledAt: disabled.disabledAt } });
      expect(signatureChecks(secrets.get(watcher.id)![0]!, announcement!)).toEqual([true]);
      await new Promise((r) => setTimeout(r, 500));
      expect(receiver.requests('/gone')).toHaveLength(1);
      // Audited by the delivery system, under the request id of the job that made the attempt.
      expect(await auditRows(tenant.id, 'webhook.endpoint_disabled')).toEqual([
        { actor: 'system:webhooks', subject: `webhook_endpoint:${gone.id}`, outcome: 'success', data: { reason: 'gone' }, request_id: expect.any(String) },
      ]);

      // A disabled endpoint takes no pings; enabling it again forgets why it was off.
      expect(problemOf(await call('post', `/v1/webhook-endpoints/${gone.id}/ping`, tokens.owner))).toEqual({ status: 409, problemJson: true, code: 'webhook.endpoint_disabled' });
      const enabled = await call('patch', `/v1/webhook-endpoints/${gone.id}`, tokens.owner, { enabled: true }, { 'if-match': '"2"' });
      expect(enabled.status, `${enabled.text}`).toBe(200);
      expect(enabled.body).toMatchObject({ enabled: true, disabledAt: null, disabledReason: null, failingSince: null, version: 3 });
    });
  });

  describe('pings, redeliveries and secret rotation', () => {
    it('pings one endpoint, redelivers the same message with the same webhook-id, and lists the log newest first', async () => {
      const { tenant, tokens } = await loggedInTenant('wh-ping');
      const endpoint = await createEndpoint(tokens.owner, { url: receiver.url('/ping'), events: ['invoice.paid'] });
      const bystander = await createEndpoint(tokens.owner, { url: receiver.url('/ping-bystander'), events: ['invoice.paid'] });
      const res = await call('post', `/v1/webhook-endpoints/${endpoint.id}/ping`, tokens.admin);
      expect(res.status, `${res.text}`).toBe(202);
      const delivery = res.body as DeliveryBody;
      expect(Object.keys(delivery).sort()).toEqual(DELIVERY_KEYS);
      expect(delivery).toMatchObject({ id: expect.stringMatching(UUID), eventType: 'webhook.ping', eventId: null, status: 'pending', attempts: 0, messageId: `msg_${delivery.id}` });

      const [first] = await receiver.waitFor('/ping', 1);
      expect(first!.headers['webhook-id']).toBe(delivery.messageId);
      expect(packageVerifies(secrets.get(endpoint.id)![0]!, first!)).toEqual({ type: 'webhook.ping', timestamp: expect.any(String), data: { endpointId: endpoint.id } });
      expect(await settled(tokens.owner, endpoint.id, delivery.id)).toMatchObject({ status: 'succeeded', attempts: 1 });

      const again = await call('post', `/v1/webhook-endpoints/${endpoint.id}/deliveries/${delivery.id}/redeliver`, tokens.owner);
      expect(again.status, `${again.text}`).toBe(202);
      expect(again.body).toMatchObject({ id: delivery.id, status: 'pending', messageId: delivery.messageId });
      const both = await receiver.waitFor('/ping', 2);
      expect(both[1]!.headers['webhook-id']).toBe(delivery.messageId);
      expect(both[1]!.body).toBe(both[0]!.body);
      expect(signatureChecks(secrets.get(endpoint.id)![0]!, both[1]!)).toEqual([true]);
      const redelivered = await eventually(async () => {
        const d = await detail(tokens.owner, endpoint.id, delivery.id);
        return d.status === 'succeeded' && d.attempts === 2 ? d : undefined;
      }, 'the redelivery');
      expect(redelivered.attemptLog.map((a) => [a.attempt, a.statusCode])).toEqual([
        [1, 200],
        [2, 200],
      ]);
      expect(await auditRows(tenant.id, 'webhook.redelivered')).toEqual([
        {
          actor: `user:${tenant.users.owner.id}`,
          subject: `webhook_delivery:${delivery.id}`,
          outcome: 'success',
          data: { endpointId: endpoint.id, messageId: delivery.messageId, previousStatus: 'succeeded', attempt: 2 },
          request_id: requestId(again),
        },
      ]);
      expect(await auditRows(tenant.id, 'webhook.pinged')).toHaveLength(1);
      expect(receiver.requests('/ping-bystander')).toEqual([]);

      // The log: newest first, keyset-paginated.
      const second = await ping(tokens.owner, endpoint.id);
      const page1 = await call('get', `/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=1`, tokens.owner);
      expect(page1.status, `${page1.text}`).toBe(200);
      const p1 = page1.body as { items: DeliveryBody[]; nextCursor: string | null };
      expect(p1.items.map((d) => d.id)).toEqual([second.id]);
      expect(Object.keys(p1.items[0]!).sort()).toEqual(DELIVERY_KEYS);
      const page2 = (await call('get', `/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=1&cursor=${p1.nextCursor}`, tokens.owner)).body as { items: DeliveryBody[]; nextCursor: string | null };
      expect(page2.items.map((d) => d.id)).toEqual([delivery.id]);
      const page3 = (await call('get', `/v1/webhook-endpoints/${endpoint.id}/deliveries?limit=1&cursor=${page2.nextCursor}`, tokens.owner)).body as { items: DeliveryBody[] };
      expect(page3.items).toEqual([]);
      expect(problemOf(await call('get', `/v1/webhook-endpoints/${bystander.id}/deliveries/${delivery.id}`, tokens.owner))).toEqual({ status: 404, problemJson: true, code: 'webhook.delivery_not_found' });
      expect(problemOf(await call('post', `/v1/webhook-endpoints/${endpoint.id}/ping`, tokens.member))).toMatchObject({ status: 403 });
      expect(problemOf(await call('get', `/v1/webhook-endpoints/${endpoint.id}/deliveries`, tokens.viewer))).toMatchObject({ status: 403 });
    });

    it(tag('WEBHOOK-SIGNING', 'rotates the secret: the new one is shown once, and until the overlap ends both sign every message'), async () => {
      const { tenant, tokens } = await loggedInTenant('wh-rotate');
      const endpoint = await createEndpoint(tokens.owner, { url: receiver.url('/rotate'), events: ['invoice.paid'] });
      const oldSecret = secrets.get(endpoint.id)![0]!;
      const before = Date.now();
      const res = await call('post', `/v1/webhook-endpoints/${endpoint.id}/secret/rotate`, tokens.owner);
      expect(res.status, `${res.text}`).toBe(200);
      const rotated = res.body as CreatedEndpoint;
      remember(endpoint.id, rotated.secret);
      expect(rotated.secret).toMatch(SECRET);
      expect(rotated.secret).not.toBe(oldSecret);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(rotated.version).toBe(2);
      const overlapEnd = new Date(rotated.previousSecretExpiresAt!).getTime();
      expect(overlapEnd - before).toBeGreaterThanOrEqual(86_400_000 - 5_000);
      expect(overlapEnd - before).toBeLessThanOrEqual(86_400_000 + 5_000);
      expect((await call('get', `/v1/webhook-endpoints/${endpoint.id}`, tokens.owner)).text).not.toContain(rotated.secret!.slice(6));

      const delivery = await ping(tokens.owner, endpoint.id);
      const [received] = await receiver.waitFor('/rotate', 1);
      expect(received!.headers['webhook-id']).toBe(delivery.messageId);
      // Two signatures, new first: each verifies with its own secret only.
      expect(String(received!.headers['webhook-signature']).split(' ')).toHaveLength(2);
      expect(signatureChecks(rotated.secret!, received!)).toEqual([true, false]);
      expect(signatureChecks(oldSecret, received!)).toEqual([false, true]);
      expect(() => packageVerifies(rotated.secret!, received!)).not.toThrow();
      expect(() => packageVerifies(oldSecret, received!)).not.toThrow();

      const { rows } = await owner.query<{ text: string; previous: string | null }>(
        'SELECT to_jsonb(e)::text AS text, previous_secret_ciphertext AS previous FROM webhook_endpoints e WHERE tenant_id = $1 AND id = $2',
        [tenant.id, endpoint.id],
      );
      expect(rows[0]!.previous).toMatch(/^v1\./);
      expect(rows[0]!.text).not.toContain(oldSecret.slice(6));
      expect(rows[0]!.text).not.toContain(rotated.secret!.slice(6));
      expect(await auditRows(tenant.id, 'webhook.secret_rotated')).toEqual([
        {
          actor: `user:${tenant.users.owner.id}`,
          subject: `webhook_endpoint:${endpoint.id}`,
          outcome: 'success',
          data: { previousValidUntil: rotated.previousSecretExpiresAt },
          request_id: requestId(res),
        },
      ]);

      // The overlap ends: only the new secret signs.
      await owner.query("UPDATE webhook_endpoints SET previous_secret_expires_at = now() - interval '1 second' WHERE tenant_id = $1 AND id = $2", [tenant.id, endpoint.id]);
      await ping(tokens.owner, endpoint.id);
      const [, later] = await receiver.waitFor('/rotate', 2);
      expect(signatureChecks(rotated.secret!, later!)).toEqual([true]);
      expect(signatureChecks(oldSecret, later!)).toEqual([false]);
    });
  });

  describe('tenant isolation', () => {
    it('answers 404 for another tenant\'s endpoint and delivery on every route, exactly as for a missing one', async () => {
      const a = await loggedInTenant('wh-iso-a');
      const b = await loggedInTenant('wh-iso-b');
      const endpoint = await createEndpoint(a.tokens.owner, { url: receiver.url('/iso'), events: ['invoice.paid'] });
      const delivery = await ping(a.tokens.owner, endpoint.id);
      await settled(a.tokens.owner, endpoint.id, delivery.id);
      const before = await owner.query('SELECT to_jsonb(e) AS row FROM webhook_endpoints e WHERE id = $1', [endpoint.id]);
      const missing = { id: randomUUID(), deliveryId: randomUUID() };
      const routes: ['get' | 'post' | 'patch' | 'delete', (ids: { id: string; deliveryId: string }) => string, object | undefined][] = [
        ['get', (ids) => `/v1/webhook-endpoints/${ids.id}`, undefined],
        ['patch', (ids) => `/v1/webhook-endpoints/${ids.id}`, { description: 'diubah' }],
        ['delete', (ids) => `/v1/webhook-endpoints/${ids.id}`, undefined],
        ['post', (ids) => `/v1/webhook-endpoints/${ids.id}/secret/rotate`, undefined],
        ['post', (ids) => `/v1/webhook-endpoints/${ids.id}/ping`, undefined],
        ['get', (ids) => `/v1/webhook-endpoints/${ids.id}/deliveries`, undefined],
        ['get', (ids) => `/v1/webhook-endpoints/${ids.id}/deliveries/${ids.deliveryId}`, undefined],
        ['post', (ids) => `/v1/webhook-endpoints/${ids.id}/deliveries/${ids.deliveryId}/redeliver`, undefined],
      ];
      for (const [method, path, body] of routes) {
        const theirs = await call(method, path({ id: endpoint.id, deliveryId: delivery.id }), b.tokens.owner, body);
        const none = await call(method, path(missing), b.tokens.owner, body);
        expect(problemOf(theirs), `${method} ${path(missing)}`).toMatchObject({ status: 404, problemJson: true });
        expect(withoutRequestId(theirs.body), `${method} ${path(missing)}`).toEqual(withoutRequestId(none.body));
      }
      const list = await call('get', '/v1/webhook-endpoints', b.tokens.owner);
      expect((list.body as { items: unknown[] }).items).toEqual([]);
      const after = await owner.query('SELECT to_jsonb(e) AS row FROM webhook_endpoints e WHERE id = $1', [endpoint.id]);
      expect(after.rows).toEqual(before.rows);
      expect(await deliveriesOf(a.tenant.id, endpoint.id)).toHaveLength(1);
      expect(await deliveriesOf(b.tenant.id, endpoint.id)).toEqual([]);
    });
  });

  it('never wrote a signing secret to the API\'s or the worker\'s logs', async () => {
    expect(ledger.counts.secrets).toBeGreaterThan(10);
    expect(ledger.leaks()).toEqual([]);
    const workerLog = worker.output();
    expect(workerLog).toContain('webhook attempt made');
    const all = [...secrets.values()].flat();
    expect(all.length).toBeGreaterThan(5);
    for (const secret of all) {
      expect(workerLog.includes(secret) || workerLog.includes(secret.slice(6)), `${secret.slice(0, 10)}…`).toBe(false);
    }
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import * as http from 'node:http';
import type { AddressInfo, LookupFunction } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Webhook } from 'standardwebhooks';
import { AuditLog } from '@benteng/audit';
import { loadConfig, type AppConfig } from '@benteng/config';
import { JOBS_QUEUE, JobQueue, JobSigner } from '@benteng/jobs';
import { SafeHttpClient } from '@benteng/security';
import { WebhookDeliveriesRepository } from '../../libs/webhooks/src/webhook-deliveries.repository.js';
import { BATCH_SENDS_IN_FLIGHT, RESPONSE_EXCERPT_MAX_BYTES, WebhookDeliveryService } from '../../libs/webhooks/src/webhook-delivery.service.js';
import { WebhookDispatcher } from '../../libs/webhooks/src/webhook-dispatch.js';
import { mintWebhookSecret, WebhookSecretBox } from '../../libs/webhooks/src/webhook-secret-box.js';
import { WebhookSigner } from '../../libs/webhooks/src/webhook-signer.js';
import { auditOf } from '../support/auth-services.js';
import { capturingLogger, type LogLine } from '../support/capturing-logger.js';
import { FakeClock } from '../support/clock.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { WebhookReceiver, type ReceivedRequest } from '../support/webhook-receiver.js';
import { obliterateQueues, testQueue } from '../support/worker.js';

/**
 * WebhookDeliveryService in-process, wired as WebhooksWorkerModule wires it: the real repository on
 * the real PostgreSQL (rows arranged through the owner connection, read back there), the real
 * secret box, signer and SafeHttpClient (EGRESS_ALLOW_PRIVATE=127.0.0.1/32, as the e2e worker
 * runs), the real dispatcher on a BullMQ queue of this file's own prefix, a receiver on 127.0.0.1
 * (port 0) and a clock that stands still. What the receiver sees, what is stored, which job is
 * queued and what is logged are each read back.
 */

const SCHEDULE_S = [0, 5, 300];
const TIMEOUT_MS = 1500;
const LEASE_SLACK_MS = 30_000;
const DISABLE_AFTER_S = 3600;

const owner = ownerPool();
const database = tenantDatabase();
const queuePrefix = `whd-${randomBytes(4).toString('hex')}`;
const servers: http.Server[] = [];

let tenant: TestTenant;
let receiver: WebhookReceiver;
let config: AppConfig;
let clock: FakeClock;
let box: WebhookSecretBox;
let service: WebhookDeliveryService;
let lines: LogLine[];
let queue: ReturnType<typeof testQueue>;
let platformQueue: ReturnType<typeof testQueue>;
let jobs: JobQueue;

function configWith(env: Record<string, string> = {}): AppConfig {
  return loadConfig({
    ...process.env,
    EGRESS_ALLOW_PRIVATE: '127.0.0.1/32',
    WEBHOOK_RETRY_SCHEDULE_S: SCHEDULE_S.join(','),
    WEBHOOK_TIMEOUT_MS: String(TIMEOUT_MS),
    WEBHOOK_DISABLE_AFTER_S: String(DISABLE_AFTER_S),
    ...env,
  });
}

/** The service as WebhooksWorkerModule builds it, with its own capturing logger; `egress` and `dispatcher` replaceable by real variants. */
function build(options: { egress?: SafeHttpClient; dispatcher?: WebhookDispatcher; config?: AppConfig } = {}) {
  const captured = capturingLogger();
  const cfg = options.config ?? config;
  const repository = new WebhookDeliveriesRepository(database.db, new AuditLog(database.db, clock));
  const sut = new WebhookDeliveryService(
    repository,
    box,
    options.egress ?? new SafeHttpClient(cfg),
    options.dispatcher ?? new WebhookDispatcher(jobs),
    clock,
    cfg,
    captured.logger,
    new WebhookSigner(),
  );
  return { sut, lines: captured.lines, contexts: captured.contexts };
}

interface EndpointSeed {
  url: string;
  enabled?: boolean;
  failingSince?: Date | null;
  previous?: { secret: string; expiresAt: Date };
  /** A stored value the box cannot open (e.g. sealed under a key no longer configured). */
  ciphertext?: string;
}

/** An endpoint row as the management API stores it (secret sealed, bound to tenant and endpoint); answers its id and secret in clear. */
async function endpoint(seed: EndpointSeed): Promise<{ id: string; secret: string }> {
  const id = randomUUID();
  const secret = mintWebhookSecret();
  await ownerInTenant(owner, tenant.id, (client) =>
    client.query(
      `INSERT INTO webhook_endpoints (tenant_id, id, url, events, enabled, secret_ciphertext, previous_secret_ciphertext, previous_secret_expires_at, failing_since, created_by_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [
        tenant.id,
        id,
        seed.url,
        ['invoice.paid'],
        seed.enabled ?? true,
        seed.ciphertext ?? box.seal(secret, tenant.id, id),
        seed.previous ? box.seal(seed.previous.secret, tenant.id, id) : null,
        seed.previous?.expiresAt ?? null,
        seed.failingSince ?? null,
        tenant.users.owner.id,
      ],
    ),
  );
  return { id, secret };
}

/** A pending delivery of one message to the endpoint (attempts already made: `attempts`); answers its id, message id and payload. */
async function delivery(endpointId: string, attempts = 0, status = 'pending'): Promise<{ id: string; messageId: string; payload: Record<string, unknown> }> {
  const id = randomUUID();
  const messageId = `msg_${id}`;
  const payload = { type: 'invoice.paid', timestamp: clock.now().toISOString(), data: { id: randomUUID(), note: 'ünïcode ✓' } };
  await ownerInTenant(owner, tenant.id, (client) =>
    client.query(
      `INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, message_id, event_type, payload, status, attempts, next_attempt_at)
       VALUES ($1, $2, $3, $4, 'invoice.paid', $5, $6, $7, $8)`,
      [tenant.id, id, endpointId, messageId, JSON.stringify(payload), status, attempts, clock.now()],
    ),
  );
  return { id, messageId, payload };
}

async function deliveryRow(id: string) {
  const { rows } = await ownerInTenant(owner, tenant.id, (c) =>
    c.query<{ status: string; attempts: number; next_attempt_at: Date | null; last_status_code: number | null; delivered_at: Date | null }>(
      'SELECT status, attempts, next_attempt_at, last_status_code, delivered_at FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2',
      [tenant.id, id],
    ),
  );
  return rows[0];
}

async function attemptRows(deliveryId: string) {
  const { rows } = await ownerInTenant(owner, tenant.id, (c) =>
    c.query<{ attempt: number; status_code: number | null; latency_ms: number; error: string | null; response_excerpt: string | null; attempted_at: Date }>(
      'SELECT attempt, status_code, latency_ms, error, response_excerpt, attempted_at FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = $2 ORDER BY attempt',
      [tenant.id, deliveryId],
    ),
  );
  return rows;
}

async function endpointRow(id: string) {
  const { rows } = await ownerInTenant(owner, tenant.id, (c) =>
    c.query<{ enabled: boolean; disabled_reason: string | null; failing_since: Date | null }>(
      'SELECT enabled, disabled_reason, failing_since FROM webhook_endpoints WHERE tenant_id = $1 AND id = $2',
      [tenant.id, id],
    ),
  );
  return rows[0];
}

/** The delivery job queued for an attempt (deliverJobId: `<delivery>.<attempt>`), as BullMQ holds it. */
async function queuedAttempt(deliveryId: string, attempt: number) {
  const job = await queue.getJob(`${deliveryId}.${attempt}`);
  return job ? { delay: job.opts.delay, data: (job.data as { envelope: { name: string; tenantId: string; data: unknown } }).envelope } : undefined;
}

/** Checks the Standard Webhooks headers as a receiver holding `secret` would (the package's own verifier). */
function verifies(request: ReceivedRequest, secret: string): boolean {
  try {
    new Webhook(secret).verify(request.body, {
      'webhook-id': String(request.headers['webhook-id']),
      'webhook-timestamp': String(request.headers['webhook-timestamp']),
      'webhook-signature': String(request.headers['webhook-signature']),
    });
    return true;
  } catch {
    return false;
  }
}

/** A path of its own on the shared receiver. */
const path = () => `/hook/${randomBytes(4).toString('hex')}`;

/** A receiver on 127.0.0.1 (port 0) whose answer the test writes; it records the bodies it received. */
async function ownReceiver(handler: (body: string, response: http.ServerResponse, request: http.IncomingMessage) => void | Promise<void>): Promise<{ url: string; bodies: string[] }> {
  const bodies: string[] = [];
  const server = http.createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      bodies.push(body);
      void handler(body, response, request);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`, bodies };
}

const attemptMade = (captured: LogLine[]) => captured.filter((line) => line.message === 'webhook attempt made').map((line) => line.fields as Record<string, unknown>);

beforeAll(async () => {
  tenant = await createTenant(owner, 'whdelivery');
  receiver = await WebhookReceiver.start();
  config = configWith();
  clock = new FakeClock();
  box = new WebhookSecretBox(config);
  queue = testQueue(JOBS_QUEUE, queuePrefix);
  platformQueue = testQueue('platform', queuePrefix);
  jobs = new JobQueue(queue, platformQueue, new JobSigner(config), capturingLogger().logger);
  ({ sut: service, lines } = build());
});

afterAll(async () => {
  await receiver.close();
  for (const server of servers) server.closeAllConnections();
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  await queue.close();
  await platformQueue.close();
  await obliterateQueues(queuePrefix);
});

describe('WebhookDeliveryService.deliver: a successful attempt', () => {
  it('POSTs the message signed with the endpoint secret, records the success and logs the attempt under its own context', async () => {
    const p = path();
    const { id: endpointId, secret } = await endpoint({ url: receiver.url(p) });
    const { id, messageId, payload } = await delivery(endpointId);
    // Built inside the test: the constructor's work (log context, retry policy) then counts as this test's.
    const { sut, lines, contexts } = build();

    expect(await sut.deliver(tenantScope(), id, 1)).toBe('succeeded');

    const [received, ...more] = receiver.requests(p);
    expect(more).toHaveLength(0);
    expect(received!.method).toBe('POST');
    expect(JSON.parse(received!.body), 'the stored message, as JSON').toEqual(payload);
    expect(received!.headers).toMatchObject({
      'webhook-id': messageId,
      'webhook-timestamp': String(Math.floor(clock.now().getTime() / 1000)),
      'content-type': 'application/json',
      'user-agent': 'Benteng-Webhooks/1.0',
    });
    expect(verifies(received!, secret), 'the signature verifies with the endpoint secret').toBe(true);
    expect(verifies(received!, mintWebhookSecret()), 'and with no other').toBe(false);
    expect(String(received!.headers['webhook-signature']).split(' ')).toHaveLength(1);

    expect(await deliveryRow(id)).toEqual({ status: 'succeeded', attempts: 1, next_attempt_at: null, last_status_code: 200, delivered_at: clock.now() });
    const [attempt] = await attemptRows(id);
    expect(attempt).toMatchObject({ attempt: 1, status_code: 200, error: null, response_excerpt: 'ok', attempted_at: clock.now() });
    expect(await queuedAttempt(id, 2), 'no next attempt after a success').toBeUndefined();

    expect(contexts).toContain('WebhookDeliveryService');
    const logged = attemptMade(lines).find((fields) => fields.deliveryId === id);
    expect(logged).toEqual({ deliveryId: id, endpointId, deliveryAttempt: 1, outcome: 'succeeded', latencyMs: attempt!.latency_ms, statusCode: 200 });
  });

  it('holds the attempt under a lease of WEBHOOK_TIMEOUT_MS plus 30 s while it is in flight', async () => {
    let inFlight: Awaited<ReturnType<typeof deliveryRow>>;
    const own = await ownReceiver(async (_body, response) => {
      inFlight = await deliveryRow(current);
      response.end('ok');
    });
    const { id: endpointId } = await endpoint({ url: own.url });
    const current = (await delivery(endpointId)).id;
    expect(await service.deliver(tenantScope(), current, 1)).toBe('succeeded');
    expect(inFlight!).toMatchObject({ status: 'pending', attempts: 1, next_attempt_at: new Date(clock.now().getTime() + TIMEOUT_MS + LEASE_SLACK_MS) });
  });

  it('signs with the previous secret too while its rotation window is open, and not once it has closed', async () => {
    const previous = mintWebhookSecret();
    const [open, closed] = [path(), path()];
    const during = await endpoint({ url: receiver.url(open), previous: { secret: previous, expiresAt: new Date(clock.now().getTime() + 1000) } });
    const after = await endpoint({ url: receiver.url(closed), previous: { secret: previous, expiresAt: clock.now() } });
    expect(await service.deliver(tenantScope(), (await delivery(during.id)).id, 1)).toBe('succeeded');
    expect(await service.deliver(tenantScope(), (await delivery(after.id)).id, 1)).toBe('succeeded');

    const [rotating] = receiver.requests(open);
    expect(String(rotating!.headers['webhook-signature']).split(' ')).toHaveLength(2);
    expect(verifies(rotating!, during.secret)).toBe(true);
    expect(verifies(rotating!, previous), 'a receiver still holding the previous secret verifies it').toBe(true);

    const [rotated] = receiver.requests(closed);
    expect(String(rotated!.headers['webhook-signature']).split(' ')).toHaveLength(1);
    expect(verifies(rotated!, after.secret)).toBe(true);
    expect(verifies(rotated!, previous), 'the window closes at its expiry').toBe(false);
  });

  it('keeps at most RESPONSE_EXCERPT_MAX_BYTES of the answer, and stops reading an endless one there instead of timing out', async () => {
    const own = await ownReceiver((_body, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' });
      // More than the excerpt, then nothing more and no end: only the cut at the excerpt answers in time.
      response.write('x'.repeat(RESPONSE_EXCERPT_MAX_BYTES + 500));
    });
    const { id: endpointId } = await endpoint({ url: own.url });
    const { id } = await delivery(endpointId);
    expect(await service.deliver(tenantScope(), id, 1)).toBe('succeeded');
    const [attempt] = await attemptRows(id);
    expect(attempt).toMatchObject({ status_code: 200, error: null, response_excerpt: 'x'.repeat(RESPONSE_EXCERPT_MAX_BYTES) });
    expect(attempt!.latency_ms).toBeLessThan(TIMEOUT_MS);
  });
});

describe('WebhookDeliveryService.deliver: failed attempts', () => {
  it('records a 500, starts nothing new when a streak is under WEBHOOK_DISABLE_AFTER_S, and queues the next attempt after the schedule step', async () => {
    const p = path();
    receiver.respond(p, { status: 500, body: 'down for maintenance' });
    const failingSince = new Date(clock.now().getTime() - 10_000);
    const { id: endpointId } = await endpoint({ url: receiver.url(p), failingSince });
    const { id } = await delivery(endpointId);
    const { sut, lines } = build();

    expect(await sut.deliver(tenantScope(), id, 1, 'req-retry')).toBe('retrying');

    expect(await deliveryRow(id)).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500, next_attempt_at: new Date(clock.now().getTime() + SCHEDULE_S[1]! * 1000) });
    expect(await attemptRows(id)).toMatchObject([{ attempt: 1, status_code: 500, error: null, response_excerpt: 'down for maintenance' }]);
    expect(await endpointRow(endpointId), 'a streak of 10 s is not one of an hour').toEqual({ enabled: true, disabled_reason: null, failing_since: failingSince });
    expect(await queuedAttempt(id, 2)).toEqual({ delay: SCHEDULE_S[1]! * 1000, data: expect.objectContaining({ name: 'webhooks.deliver', tenantId: tenant.id, data: { deliveryId: id, attempt: 2 } }) });
    expect(attemptMade(lines).find((fields) => fields.deliveryId === id)).toMatchObject({ outcome: 'retrying', statusCode: 500, deliveryAttempt: 1 });
    expect(lines.some((line) => line.message === 'webhook endpoint disabled' && (line.fields as { endpointId: string }).endpointId === endpointId)).toBe(false);
  });

  it('fails the delivery for good after the last attempt of the schedule, and queues nothing', async () => {
    const p = path();
    receiver.respond(p, { status: 503 });
    const { id: endpointId } = await endpoint({ url: receiver.url(p) });
    const { id } = await delivery(endpointId, SCHEDULE_S.length - 1);
    expect(await service.deliver(tenantScope(), id, SCHEDULE_S.length)).toBe('failed');
    expect(await deliveryRow(id)).toMatchObject({ status: 'failed', attempts: SCHEDULE_S.length, next_attempt_at: null, last_status_code: 503 });
    expect(await queuedAttempt(id, SCHEDULE_S.length + 1)).toBeUndefined();
  });

  it('disables an endpoint that has failed for WEBHOOK_DISABLE_AFTER_S, warns and audits it under the job request id', async () => {
    const p = path();
    receiver.respond(p, { status: 500 });
    const { id: endpointId } = await endpoint({ url: receiver.url(p), failingSince: new Date(clock.now().getTime() - DISABLE_AFTER_S * 1000) });
    const { id } = await delivery(endpointId);
    const requestId = `req-${randomUUID()}`;

    expect(await service.deliver(tenantScope(), id, 1, requestId)).toBe('endpoint_disabled');
    expect(await endpointRow(endpointId)).toMatchObject({ enabled: false, disabled_reason: 'failing' });
    expect(await deliveryRow(id), 'held, not failed').toMatchObject({ status: 'pending', next_attempt_at: null });
    expect(lines).toContainEqual({ level: 'warn', fields: { endpointId, reason: 'failing' }, message: 'webhook endpoint disabled' });
    const audited = (await auditOf(owner, tenant.id, ['webhook.endpoint_disabled'])).filter((row) => row.subject === `webhook_endpoint:${endpointId}`);
    expect(audited).toMatchObject([{ outcome: 'success', request_id: requestId, data: { reason: 'failing' } }]);
  });

  it('410 Gone fails the delivery and disables the endpoint (gone)', async () => {
    const p = path();
    receiver.respond(p, { status: 410, body: 'gone' });
    const { id: endpointId } = await endpoint({ url: receiver.url(p) });
    const { id } = await delivery(endpointId);
    expect(await service.deliver(tenantScope(), id, 1)).toBe('endpoint_disabled');
    expect(await deliveryRow(id)).toMatchObject({ status: 'failed', last_status_code: 410 });
    expect(await endpointRow(endpointId)).toMatchObject({ enabled: false, disabled_reason: 'gone' });
    expect(lines).toContainEqual({ level: 'warn', fields: { endpointId, reason: 'gone' }, message: 'webhook endpoint disabled' });
  });

  it('does not follow a redirect: a 302 to the metadata service is a failed attempt, nothing else is contacted', async () => {
    const p = path();
    receiver.respond(p, { status: 302, body: '' });
    const { id: endpointId } = await endpoint({ url: receiver.url(p) });
    const { id } = await delivery(endpointId);
    expect(await service.deliver(tenantScope(), id, 1)).toBe('retrying');
    expect(await attemptRows(id)).toMatchObject([{ status_code: 302, error: null }]);
    expect(receiver.requests(p)).toHaveLength(1);
  });

  it('records a refused private address by its reason only, measured in ms, and the receiver sees nothing', async () => {
    // 127.0.0.2 is loopback but not in EGRESS_ALLOW_PRIVATE.
    const { id: endpointId } = await endpoint({ url: `http://127.0.0.2:${receiver.port}/private` });
    const { id } = await delivery(endpointId);
    const started = performance.now();
    expect(await service.deliver(tenantScope(), id, 1)).toBe('retrying');
    const elapsed = performance.now() - started;
    const [attempt] = await attemptRows(id);
    expect(attempt).toMatchObject({ attempt: 1, status_code: null, error: 'blocked_address', response_excerpt: null });
    expect(attempt!.latency_ms).toBeGreaterThanOrEqual(0);
    expect(attempt!.latency_ms).toBeLessThanOrEqual(Math.ceil(elapsed));
    expect(receiver.requests('/private')).toHaveLength(0);
    expect(attemptMade(lines).find((fields) => fields.deliveryId === id)).toEqual({
      deliveryId: id,
      endpointId,
      deliveryAttempt: 1,
      outcome: 'retrying',
      latencyMs: attempt!.latency_ms,
      error: 'blocked_address',
    });
  });

  it('records a receiver slower than WEBHOOK_TIMEOUT_MS as timeout', async () => {
    const p = path();
    receiver.respond(p, { delayMs: TIMEOUT_MS + 500 });
    const { id: endpointId } = await endpoint({ url: receiver.url(p) });
    const { id } = await delivery(endpointId);
    expect(await service.deliver(tenantScope(), id, 1)).toBe('retrying');
    expect(await attemptRows(id)).toMatchObject([{ status_code: null, error: 'timeout', response_excerpt: null }]);
  });

  it('never sends unsigned: a secret the box cannot open fails the attempt as secret_unavailable and logs why', async () => {
    const p = path();
    const other = new WebhookSecretBox(configWith({ DATA_ENCRYPTION_KEYS: `gone:${Buffer.alloc(32, 7).toString('base64')}` }));
    const { id: endpointId } = await endpoint({ url: receiver.url(p), ciphertext: other.seal(mintWebhookSecret(), tenant.id, randomUUID()) });
    const { id } = await delivery(endpointId);
    expect(await service.deliver(tenantScope(), id, 1)).toBe('retrying');
    expect(await attemptRows(id)).toMatchObject([{ status_code: null, latency_ms: 0, error: 'secret_unavailable' }]);
    expect(receiver.requests(p)).toHaveLength(0);
    const logged = lines.find((line) => line.level === 'error' && (line.fields as { endpointId?: string }).endpointId === endpointId);
    expect(logged).toMatchObject({ message: 'webhook secret cannot be decrypted: check DATA_ENCRYPTION_KEYS', fields: { err: expect.any(Error) } });
  });

  it('records an unexpected failure of the client as internal and logs it', async () => {
    const broken: LookupFunction = () => {
      throw new TypeError('resolver bug');
    };
    const { sut, lines: logged } = build({ egress: new SafeHttpClient(config, broken) });
    const { id: endpointId } = await endpoint({ url: `http://hook.test:${receiver.port}/internal` });
    const { id } = await delivery(endpointId);
    expect(await sut.deliver(tenantScope(), id, 1)).toBe('retrying');
    expect(await attemptRows(id)).toMatchObject([{ status_code: null, error: 'internal' }]);
    expect(logged).toContainEqual({ level: 'error', fields: { err: expect.any(TypeError), endpointId }, message: 'webhook attempt failed unexpectedly' });
  });

  it('still answers when the next attempt cannot be queued: the sweeper will queue it', async () => {
    const p = path();
    receiver.respond(p, { status: 500 });
    const closedQueue = testQueue(JOBS_QUEUE, queuePrefix);
    await closedQueue.close();
    const { sut, lines: logged } = build({ dispatcher: new WebhookDispatcher(new JobQueue(closedQueue, platformQueue, new JobSigner(config), capturingLogger().logger)) });
    const { id: endpointId } = await endpoint({ url: receiver.url(p) });
    const { id } = await delivery(endpointId);
    expect(await sut.deliver(tenantScope(), id, 1)).toBe('retrying');
    expect(await deliveryRow(id), 'the delivery is due for the sweeper').toMatchObject({ status: 'pending', next_attempt_at: new Date(clock.now().getTime() + 5000) });
    expect(logged).toContainEqual({ level: 'warn', fields: { err: expect.any(Error), deliveryId: id }, message: 'next webhook attempt not queued; the sweeper will queue it' });
  });
});

describe('WebhookDeliveryService.deliver: attempts not made', () => {
  it('a delivery that does not exist: skipped, and logged with the claim refusal', async () => {
    const id = randomUUID();
    expect(await service.deliver(tenantScope(), id, 1)).toBe('skipped');
    expect(lines).toContainEqual({ level: 'info', fields: { deliveryId: id, deliveryAttempt: 1, outcome: 'missing' }, message: 'webhook attempt not made' });
  });

  it('an attempt already claimed is not sent twice', async () => {
    const p = path();
    const { id: endpointId } = await endpoint({ url: receiver.url(p) });
    const { id } = await delivery(endpointId);
    expect(await service.deliver(tenantScope(), id, 1)).toBe('succeeded');
    expect(await service.deliver(tenantScope(), id, 1)).toBe('skipped');
    expect(receiver.requests(p)).toHaveLength(1);
  });

  it('a disabled endpoint is not contacted: the delivery is held (endpoint_disabled)', async () => {
    const p = path();
    const { id: endpointId } = await endpoint({ url: receiver.url(p), enabled: false });
    const { id } = await delivery(endpointId);
    expect(await service.deliver(tenantScope(), id, 1)).toBe('endpoint_disabled');
    expect(await deliveryRow(id)).toMatchObject({ status: 'pending', attempts: 0, next_attempt_at: null });
    expect(receiver.requests(p)).toHaveLength(0);
    expect(lines).toContainEqual({ level: 'info', fields: { deliveryId: id, deliveryAttempt: 1, outcome: 'held' }, message: 'webhook attempt not made' });
  });
});

describe('WebhookDeliveryService.deliverBatch', () => {
  it('sends every claimed message signed, records successes and failures each as a single attempt would, and reports per delivery', async () => {
    const own = await ownReceiver((body, response) => {
      if (body.includes('"fail"')) response.writeHead(500).end('no');
      else response.end('fine');
    });
    const { id: endpointId } = await endpoint({ url: own.url });
    const ok1 = await delivery(endpointId);
    const ok2 = await delivery(endpointId);
    const failing = await delivery(endpointId);
    await ownerInTenant(owner, tenant.id, (c) => c.query(`UPDATE webhook_deliveries SET payload = jsonb_set(payload, '{data,note}', '"fail"') WHERE tenant_id = $1 AND id = $2`, [tenant.id, failing.id]));

    const outcomes = await service.deliverBatch(tenantScope(), endpointId, [ok1, ok2, failing].map(({ id }) => ({ deliveryId: id, attempt: 1 })), 'req-batch');

    expect(Object.fromEntries(outcomes)).toEqual({ [ok1.id]: 'succeeded', [ok2.id]: 'succeeded', [failing.id]: 'retrying' });
    expect(own.bodies.map((body) => (JSON.parse(body) as { data: { id: string } }).data.id).sort()).toEqual([ok1, ok2, failing].map((d) => d.payload.data).map((data) => (data as { id: string }).id).sort());
    for (const ok of [ok1, ok2]) {
      expect(await deliveryRow(ok.id)).toMatchObject({ status: 'succeeded', attempts: 1, last_status_code: 200 });
      expect(await attemptRows(ok.id)).toMatchObject([{ attempt: 1, status_code: 200, response_excerpt: 'fine' }]);
    }
    expect(await deliveryRow(failing.id)).toMatchObject({ status: 'pending', attempts: 1, last_status_code: 500 });
    expect(await attemptRows(failing.id)).toMatchObject([{ attempt: 1, status_code: 500, response_excerpt: 'no' }]);
    expect(await queuedAttempt(failing.id, 2)).toMatchObject({ delay: 5000 });
    expect(await queuedAttempt(ok1.id, 2)).toBeUndefined();
    expect(lines).toContainEqual({ level: 'info', fields: { endpointId, attempts: 3, succeeded: 2, failed: 1 }, message: 'webhook batch attempts made' });
    expect(lines.some((line) => line.message === 'webhook attempts not made' && (line.fields as { endpointId: string }).endpointId === endpointId), 'nothing was refused').toBe(false);
  });

  it('signs each message of a batch with the endpoint secret and claims it under the lease', async () => {
    const leases: (Date | null)[] = [];
    const received: ReceivedRequest[] = [];
    // Each message's lease is read while its request is open.
    const own = await ownReceiver(async (body, response, request) => {
      received.push({ method: request.method ?? '', path: request.url ?? '', headers: request.headers, body, answered: 200, receivedAt: new Date() });
      const { rows } = await ownerInTenant(owner, tenant.id, (c) => c.query<{ next_attempt_at: Date | null }>('SELECT next_attempt_at FROM webhook_deliveries WHERE tenant_id = $1 AND message_id = $2', [tenant.id, request.headers['webhook-id']]));
      leases.push(rows[0]!.next_attempt_at);
      response.end('ok');
    });
    const { id: endpointId, secret } = await endpoint({ url: own.url });
    const items = [await delivery(endpointId), await delivery(endpointId)];
    const outcomes = await service.deliverBatch(tenantScope(), endpointId, items.map(({ id }) => ({ deliveryId: id, attempt: 1 })));
    expect([...outcomes.values()]).toEqual(['succeeded', 'succeeded']);
    expect(received.map((r) => r.headers['webhook-id']).sort()).toEqual(items.map((d) => d.messageId).sort());
    expect(received.every((r) => verifies(r, secret))).toBe(true);
    expect(leases).toEqual([0, 1].map(() => new Date(clock.now().getTime() + TIMEOUT_MS + LEASE_SLACK_MS)));
  });

  it(`keeps at most BATCH_SENDS_IN_FLIGHT (${BATCH_SENDS_IN_FLIGHT}) requests in flight to the one endpoint`, async () => {
    let open = 0;
    let peak = 0;
    const own = await ownReceiver((_body, response) => {
      open += 1;
      peak = Math.max(peak, open);
      setTimeout(() => {
        open -= 1;
        response.end('ok');
      }, 150);
    });
    const { id: endpointId } = await endpoint({ url: own.url });
    const items: { id: string }[] = [];
    for (let i = 0; i < BATCH_SENDS_IN_FLIGHT + 4; i++) items.push(await delivery(endpointId));
    const outcomes = await service.deliverBatch(tenantScope(), endpointId, items.map(({ id }) => ({ deliveryId: id, attempt: 1 })));
    expect([...outcomes.values()].filter((outcome) => outcome === 'succeeded')).toHaveLength(items.length);
    expect(own.bodies).toHaveLength(items.length);
    expect(peak).toBeLessThanOrEqual(BATCH_SENDS_IN_FLIGHT);
    expect(peak).toBeGreaterThan(1);
  });

  it('refuses what it must not send: missing and finished deliveries are skipped and logged, the others still go', async () => {
    const p = path();
    const { id: endpointId } = await endpoint({ url: receiver.url(p) });
    const fresh = await delivery(endpointId);
    const done = await delivery(endpointId, 1, 'succeeded');
    const missing = randomUUID();
    const outcomes = await service.deliverBatch(tenantScope(), endpointId, [fresh.id, done.id, missing].map((deliveryId) => ({ deliveryId, attempt: 1 })));
    expect(Object.fromEntries(outcomes)).toEqual({ [fresh.id]: 'succeeded', [done.id]: 'skipped', [missing]: 'skipped' });
    expect(receiver.requests(p)).toHaveLength(1);
    const refusal = lines.find((line) => line.message === 'webhook attempts not made' && (line.fields as { endpointId: string }).endpointId === endpointId);
    expect(refusal?.fields).toEqual({
      endpointId,
      refused: expect.arrayContaining([
        { deliveryId: done.id, reason: 'not_pending' },
        { deliveryId: missing, reason: 'missing' },
      ]),
    });
    expect(refusal?.level).toBe('info');
  });

  it('a disabled endpoint: every delivery held, nothing sent, no batch line', async () => {
    const p = path();
    const { id: endpointId } = await endpoint({ url: receiver.url(p), enabled: false });
    const items = [await delivery(endpointId), await delivery(endpointId)];
    const outcomes = await service.deliverBatch(tenantScope(), endpointId, items.map(({ id }) => ({ deliveryId: id, attempt: 1 })));
    expect([...outcomes.values()]).toEqual(['endpoint_disabled', 'endpoint_disabled']);
    expect(receiver.requests(p)).toHaveLength(0);
    expect(lines.some((line) => line.message === 'webhook batch attempts made' && (line.fields as { endpointId: string }).endpointId === endpointId)).toBe(false);
  });

  it('a delivery deleted while its attempt was in flight is skipped, not counted as delivered', async () => {
    let doomed = { id: '', dataId: '' };
    const own = await ownReceiver(async (body, response) => {
      if (body.includes(doomed.dataId)) await ownerInTenant(owner, tenant.id, (c) => c.query('DELETE FROM webhook_deliveries WHERE tenant_id = $1 AND id = $2', [tenant.id, doomed.id]));
      response.end('ok');
    });
    const { id: endpointId } = await endpoint({ url: own.url });
    const kept = await delivery(endpointId);
    const deleted = await delivery(endpointId);
    doomed = { id: deleted.id, dataId: (deleted.payload.data as { id: string }).id };
    const outcomes = await service.deliverBatch(tenantScope(), endpointId, [kept, deleted].map(({ id }) => ({ deliveryId: id, attempt: 1 })));
    expect(Object.fromEntries(outcomes)).toEqual({ [kept.id]: 'succeeded', [deleted.id]: 'skipped' });
    expect(await deliveryRow(deleted.id)).toBeUndefined();
    expect(lines).toContainEqual({ level: 'info', fields: { endpointId, attempts: 2, succeeded: 1, failed: 0 }, message: 'webhook batch attempts made' });
  });
});

function tenantScope() {
  return WebhookDispatcher.scopeFor(tenant.id);
}

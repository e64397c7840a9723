import { createHash, randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { Webhook } from 'standardwebhooks';
import { auditOf, exportRow, insertManyInvoices, waitForExport } from '../support/exports.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { setPasswords } from '../support/public-api.js';
import { FaultReceiver, type Received } from './support/receiver.js';
import { call, login, startStack, until, type Stack } from './support/stack.js';

/**
 * Worker and receiver faults (docs/faults.md, scenarios 1, 2 and 5), on a private stack:
 *
 * 1. The worker is SIGKILLed while it writes an export; a new worker finishes that export exactly
 *    once (one `export.completed` audit event, chunks 0..n-1, the file's SHA-256 as recorded).
 * 2. The worker is SIGKILLed while a receiver holds its webhook requests; after a restart every
 *    event reaches the receiver, and any repeat carries the same `webhook-id` and body.
 * 5. The receiver is down (connection refused) for a while, then back on the same port: every
 *    event is delivered, each under one `webhook-id`, following the short retry schedule.
 *
 * BullMQ hands a dead worker's job to another once its lock (60 s) lapses, and the webhook sweeper
 * re-queues an attempt whose lease (timeout + 30 s) is 60 s overdue. The tests stand in for those
 * waits by deleting the dead worker's lock and moving the lease back, as test/e2e/exports.spec.ts
 * does; everything after that is the production recovery path.
 */
const ROWS = 30_000;
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('faults: worker killed, receiver down', () => {
  let stack: Stack;
  let receiver: FaultReceiver;
  let tenant: TestTenant;
  let token: string;
  const password = `pw-${randomBytes(12).toString('base64url')}`;

  beforeAll(async () => {
    receiver = await FaultReceiver.start();
    stack = await startStack({
      label: 'worker',
      // A short retry schedule (12 attempts within ~20 s) so a receiver outage of a few seconds is
      // bridged by retries rather than by the test.
      env: { WEBHOOK_RETRY_SCHEDULE_S: '0,1,1,1,2,2,2,2,2,2,2,2', WEBHOOK_TIMEOUT_MS: '3000' },
    });
    tenant = await createTenant(stack.owner, 'faults-worker');
    await setPasswords(stack.owner, [tenant.users.owner.id], password);
    token = (await login(stack.base, tenant.users.owner.email, password)).accessToken;
  });

  afterAll(async () => {
    await stack?.stop();
    await receiver?.down();
  });

  /** Stands in for BullMQ's 60 s lock expiry: the dead worker's lock on job `id` goes. */
  async function dropLock(jobId: string): Promise<number> {
    const redis = new Redis(stack.redis.url);
    try {
      return await redis.del(`${stack.env.QUEUE_PREFIX}:jobs:${jobId}:lock`);
    } finally {
      redis.disconnect();
    }
  }

  async function download(id: string): Promise<Buffer> {
    const res = await fetch(`${stack.base}/v1/exports/${id}/content`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  }

  async function endpoint(path: string): Promise<{ id: string; secret: string }> {
    const res = await call(stack.base, 'POST', '/v1/webhook-endpoints', { token, body: { url: receiver.url(path), events: ['ticket.created'] } });
    expect(res.status, `${res.text}`).toBe(201);
    return res.body as { id: string; secret: string };
  }

  async function openTickets(label: string, count: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const res = await call(stack.base, 'POST', '/v1/tickets', { token, body: { subject: `${label} ${i}`, body: 'fault test' } });
      expect(res.status, `${res.text}`).toBe(201);
      ids.push((res.body as { id: string }).id);
    }
    return ids;
  }

  async function deliveries(endpointId: string) {
    const { rows } = await stack.owner.query<{ id: string; message_id: string; event_id: string; status: string; attempts: number }>(
      'SELECT id, message_id, event_id::text, status, attempts FROM webhook_deliveries WHERE tenant_id = $1 AND endpoint_id = $2 ORDER BY created_at, id',
      [tenant.id, endpointId],
    );
    return rows;
  }

  /** The ticket ids of `ticket.created` events, by outbox event id. */
  async function ticketOfEvent(): Promise<Map<string, string>> {
    const { rows } = await stack.owner.query<{ id: string; subject_id: string }>("SELECT id::text, subject_id FROM domain_events WHERE tenant_id = $1 AND type = 'ticket.created'", [tenant.id]);
    return new Map(rows.map((r) => [r.id, r.subject_id]));
  }

  /**
   * What the receiver got on `path`, checked: every request verifies with the endpoint's secret,
   * one webhook-id per event (a repeat has the same id and the same body), and every ticket's
   * event arrived.
   */
  async function expectDeliveredOnce(path: string, secret: string, ticketIds: string[]): Promise<Map<string, Received[]>> {
    const byId = new Map<string, Received[]>();
    for (const req of receiver.requests(path)) {
      expect(() => new Webhook(secret).verify(req.body, req.headers as Record<string, string>)).not.toThrow();
      const id = String(req.headers['webhook-id']);
      byId.set(id, [...(byId.get(id) ?? []), req]);
    }
    const ticketsSeen: string[] = [];
    for (const [id, reqs] of byId) {
      // A duplicate is the same message: same id, same bytes.
      expect(new Set(reqs.map((r) => r.body)).size, `bodies under webhook-id ${id}`).toBe(1);
      const message = JSON.parse(reqs[0]!.body) as { type: string; data: { id: string } };
      expect(message.type).toBe('ticket.created');
      ticketsSeen.push(message.data.id);
    }
    // One webhook-id per ticket: no event went out under two ids, none is missing.
    expect(ticketsSeen.sort()).toEqual([...ticketIds].sort());
    return byId;
  }

  it('1. a worker SIGKILLed mid-export leaves it to the next worker, which finishes it exactly once', async () => {
    await insertManyInvoices(stack.owner, tenant.id, tenant.users.owner.id, ROWS);
    const res = await call(stack.base, 'POST', '/v1/exports', { token, body: { type: 'invoices', format: 'jsonl' } });
    expect(res.status, `${res.text}`).toBe(202);
    const id = (res.body as { id: string }).id;

    const midway = await waitForExport(stack.owner, tenant.id, id, (r) => r.status === 'running' && r.chunks > 0, 120_000, 10);
    await stack.worker!.kill('SIGKILL');
    const afterKill = await exportRow(stack.owner, tenant.id, id);
    expect(afterKill).toMatchObject({ status: 'running', version: midway.version });
    expect(afterKill!.chunks).toBeGreaterThan(0);

    expect(await dropLock(id)).toBe(1);
    await stack.startWorker();
    const done = await waitForExport(stack.owner, tenant.id, id, (r) => r.status === 'ready' || r.status === 'failed', 180_000, 250);
    expect(done).toMatchObject({ status: 'ready', row_count: ROWS, error_code: null });
    expect(done.version).toBeGreaterThan(midway.version);

    const { rows: seqs } = await stack.owner.query<{ seq: number }>('SELECT seq FROM export_chunks WHERE tenant_id = $1 AND export_id = $2 ORDER BY seq', [tenant.id, id]);
    expect(seqs.map((r) => r.seq)).toEqual([...Array(done.chunks).keys()]);
    const file = await download(id);
    expect({ size: file.length, sha256: sha256(file) }).toEqual({ size: Number(done.byte_size), sha256: done.sha256 });
    const lines = file.toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(lines).toHaveLength(ROWS);
    expect(new Set(lines.map((l) => (JSON.parse(l) as { id: string }).id)).size).toBe(ROWS);
    const completed = await auditOf(stack.owner, tenant.id, { subject: `export:${id}`, types: ['export.completed'] });
    expect(completed).toHaveLength(1);
  });

  it('2. a worker SIGKILLed mid-delivery: after a restart every event is delivered, repeats only under the same webhook-id', async () => {
    const { id: endpointId, secret } = await endpoint('/killed');
    receiver.hold();
    const tickets = await openTickets('kill', 3);
    // The worker has sent at least one request and is waiting for the answer.
    await until(async () => receiver.requests('/killed').length >= 1, 'a held webhook request', 60_000, 25);
    await stack.worker!.kill('SIGKILL');
    // What the dead worker was waiting on: requests it sent that never got their answer.
    const unanswered = receiver.requests('/killed').map((r) => String(r.headers['webhook-id']));
    receiver.release();

    const inFlight = (await deliveries(endpointId)).filter((d) => d.status === 'pending' && d.attempts > 0);
    expect(inFlight.length).toBeGreaterThan(0);
    for (const d of inFlight) {
      // Stand-ins for the waits (see the file comment): the dead worker's job lock, then the
      // attempt's lease plus the sweeper's grace.
      await dropLock(d.attempts <= 1 ? d.id : `${d.id}.${d.attempts}`);
      await stack.owner.query("UPDATE webhook_deliveries SET next_attempt_at = now() - interval '5 minutes' WHERE tenant_id = $1 AND id = $2 AND status = 'pending'", [tenant.id, d.id]);
    }
    await stack.startWorker();

    // The sweeper runs every 30 s.
    await until(async () => (await deliveries(endpointId)).every((d) => d.status === 'succeeded') && (await deliveries(endpointId)).length === tickets.length, 'every delivery to succeed', 150_000, 250);
    const byId = await expectDeliveredOnce('/killed', secret, tickets);
    const rows = await deliveries(endpointId);
    const events = await ticketOfEvent();
    for (const d of rows) {
      expect(byId.has(d.message_id), `delivery ${d.id} reached the receiver under its message id`).toBe(true);
      expect(JSON.parse(byId.get(d.message_id)![0]!.body).data.id).toBe(events.get(d.event_id));
    }
    // Each message the dead worker never saw answered went out again under the same id, and that
    // time it was answered.
    expect(unanswered.length).toBeGreaterThan(0);
    for (const id of unanswered) {
      expect(byId.get(id)!.length, `requests under ${id}`).toBeGreaterThanOrEqual(2);
      expect(byId.get(id)!.some((r) => r.answered === 200), `an answered request under ${id}`).toBe(true);
    }
    console.log(`faults: mid-delivery kill: ${inFlight.length} attempt(s) in flight; receiver got ${receiver.requests('/killed').length} request(s) for ${tickets.length} event(s)`);
  });

  it('5. a receiver down for a while, then back: every event delivered, none under two webhook-ids', async () => {
    const { id: endpointId, secret } = await endpoint('/down');
    await receiver.down();
    const tickets = await openTickets('down', 5);
    // Down long enough that every delivery failed at least twice against the closed port.
    await until(
      async () => {
        const { rows } = await stack.owner.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM webhook_deliveries d
            WHERE d.tenant_id = $1 AND d.endpoint_id = $2
              AND (SELECT count(*) FROM webhook_attempts a WHERE a.tenant_id = d.tenant_id AND a.delivery_id = d.id AND a.status_code IS NULL) >= 2`,
          [tenant.id, endpointId],
        );
        return rows[0]!.n === tickets.length;
      },
      'two failed attempts per delivery',
      60_000,
      100,
    );
    expect(receiver.requests('/down')).toHaveLength(0);
    await receiver.up();

    await until(async () => {
      const rows = await deliveries(endpointId);
      return rows.length === tickets.length && rows.every((d) => d.status !== 'pending');
    }, 'every delivery to settle', 90_000, 250);
    const rows = await deliveries(endpointId);
    expect(rows.map((d) => d.status)).toEqual(tickets.map(() => 'succeeded'));
    const byId = await expectDeliveredOnce('/down', secret, tickets);
    for (const d of rows) expect(byId.has(d.message_id)).toBe(true);
    const { rows: attempts } = await stack.owner.query<{ error: string | null; status_code: number | null }>(
      'SELECT error, status_code FROM webhook_attempts WHERE tenant_id = $1 AND delivery_id = ANY ($2::uuid[])',
      [tenant.id, rows.map((d) => d.id)],
    );
    // The failed attempts say why, without an address; each delivery ended in one 200.
    expect(new Set(attempts.filter((a) => a.status_code === null).map((a) => a.error)).size).toBeGreaterThan(0);
    expect(attempts.filter((a) => a.status_code === 200)).toHaveLength(tickets.length);
    console.log(`faults: receiver down: ${attempts.length} attempt(s) for ${tickets.length} event(s), errors ${[...new Set(attempts.map((a) => a.error).filter(Boolean))].join(', ')}`);
  });
});

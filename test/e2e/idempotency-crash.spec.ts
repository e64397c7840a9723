import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { IdempotencyRepository } from '@benteng/idempotency';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import type { TestTenant } from '../support/factories.js';
import { arranged, PublicClient, testPassword, type ApiResponse } from '../support/public-api.js';
import { createTenantWithLogins } from '../support/tenants.js';

/**
 * Idempotency across a crash (apps/api/src/http/idempotency.ts; docs/architecture.md, "Idempotent
 * creates across a crash"). Two API applications share PostgreSQL and Redis, as two processes behind
 * the balancer of docs/scaling.md do. The first "dies" the instant its create has committed: every
 * database write it would make after the handler returned fails (LostAfterCreate stands in for a
 * SIGKILL or a lost PgBouncer connection at that point, the gap the topology test found) and the
 * client never sees its answer. The client retries through the second application, at once and
 * after the reservation is 60 s old (the interceptor's abandoned-reservation age).
 *
 * With the answer stored in the create's own transaction both retries replay it and there is one
 * row. With the answer stored afterwards (as before), the first retry was refused 409 and the
 * second ran the create again: a second ticket, export, webhook endpoint, invitation, partner
 * client or key (invoices were saved only by their unique number).
 */
class LostAfterCreate extends IdempotencyRepository {
  override complete(): Promise<void> {
    return Promise.reject(new Error('database connection lost after the create committed'));
  }

  override release(): Promise<void> {
    return Promise.reject(new Error('database connection lost after the create committed'));
  }
}

interface Case {
  name: string;
  /** Table whose rows of the tenant the create adds (exactly one). */
  table: string;
  status: number;
  /** Arranges what the create needs (through the healthy app) and returns its path and body. */
  arrange(tenant: TestTenant, token: string): Promise<{ path: string; body: object }>;
}

describe('Idempotency-Key across a crash after the create committed', () => {
  const owner = ownerPool();
  const password = testPassword();
  let crashing: TestApi;
  let healthy: TestApi;
  let client: PublicClient;

  beforeAll(async () => {
    crashing = await buildApi({ overrides: [{ token: IdempotencyRepository, useClass: LostAfterCreate }] });
    healthy = await buildApi();
    client = new PublicClient(healthy);
  }, 60_000);
  afterAll(async () => {
    await crashing?.close();
    await healthy?.close();
  });

  async function call(api: TestApi, method: string, url: string, token: string, body?: object, headers: Record<string, string> = {}): Promise<ApiResponse> {
    const res = await api.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: method as 'POST', url, remoteAddress: client.ip, headers: { authorization: `Bearer ${token}`, ...headers }, ...(body ? { payload: body } : {}) });
    let parsed: unknown;
    try {
      parsed = res.body.length > 0 ? JSON.parse(res.body) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, body: parsed };
  }

  const rows = async (table: string, tenantId: string) => Number((await owner.query<{ n: string }>(`SELECT count(*) AS n FROM ${table} WHERE tenant_id = $1`, [tenantId])).rows[0]!.n);

  const CASES: Case[] = [
    { name: 'POST /v1/tickets', table: 'tickets', status: 201, arrange: async () => ({ path: '/v1/tickets', body: { subject: 'Printer mati', body: 'Sejak pagi.' } }) },
    {
      name: 'POST /v1/tickets/:id/comments',
      table: 'ticket_comments',
      status: 201,
      arrange: async (_tenant, token) => {
        const ticket = arranged(await call(healthy, 'POST', '/v1/tickets', token, { subject: 'Komentar', body: 'Tiket untuk komentar.' }), 201, 'ticket').body as { id: string };
        return { path: `/v1/tickets/${ticket.id}/comments`, body: { body: 'Sudah dicoba restart.' } };
      },
    },
    {
      name: 'POST /v1/invoices',
      table: 'invoices',
      status: 201,
      arrange: async () => ({ path: '/v1/invoices', body: { number: `INV-${randomBytes(4).toString('hex')}`, customer: { name: 'PT Maju' }, lines: [{ description: 'Jasa', quantity: 1, unitPriceMinor: 150_000 }] } }),
    },
    { name: 'POST /v1/exports', table: 'exports', status: 202, arrange: async () => ({ path: '/v1/exports', body: { type: 'tickets', format: 'jsonl' } }) },
    { name: 'POST /v1/webhook-endpoints', table: 'webhook_endpoints', status: 201, arrange: async () => ({ path: '/v1/webhook-endpoints', body: { url: 'https://hooks.example.com/benteng', events: ['invoice.paid'] } }) },
    { name: 'POST /v1/invitations', table: 'invitations', status: 201, arrange: async () => ({ path: '/v1/invitations', body: { email: `tamu.${randomBytes(4).toString('hex')}@example.test`, role: 'viewer' } }) },
    {
      name: 'POST /v1/partner-clients',
      table: 'partner_clients',
      status: 201,
      arrange: async () => ({ path: '/v1/partner-clients', body: { name: 'Mitra', environment: 'test', scopes: ['tickets:read'] } }),
    },
    {
      name: 'POST /v1/partner-clients/:id/keys',
      table: 'partner_api_keys',
      status: 201,
      arrange: async (_tenant, token) => {
        const partner = arranged(await call(healthy, 'POST', '/v1/partner-clients', token, { name: 'Mitra kunci', environment: 'test', scopes: ['tickets:read'] }), 201, 'partner client').body as { id: string };
        return { path: `/v1/partner-clients/${partner.id}/keys`, body: {} };
      },
    },
    {
      name: 'POST /v1/webhook-endpoints/:id/ping',
      table: 'webhook_deliveries',
      status: 202,
      arrange: async (_tenant, token) => {
        const endpoint = arranged(await call(healthy, 'POST', '/v1/webhook-endpoints', token, { url: 'https://hooks.example.com/ping', events: ['invoice.paid'] }), 201, 'endpoint').body as { id: string };
        return { path: `/v1/webhook-endpoints/${endpoint.id}/ping`, body: {} };
      },
    },
  ];

  for (const c of CASES) {
    it(`${c.name}: a retry replays the answer stored with the create, at once and after 60 s, and there is one row`, async () => {
      const tenant = await createTenantWithLogins(owner, `idem-crash-${c.table.replaceAll("_", "-")}`, password);
      const token = (await client.login(tenant.users.owner.email, password)).accessToken;
      const { path, body } = await c.arrange(tenant, token);
      const before = await rows(c.table, tenant.id);
      const headers = { 'idempotency-key': `crash-${randomBytes(8).toString('hex')}` };

      // The process that dies: its create commits, nothing it does afterwards reaches the database
      // or the client (its answer is dropped here, as the balancer drops a dead process's connection).
      await call(crashing, 'POST', path, token, body, headers);
      expect(await rows(c.table, tenant.id), 'the create committed before the crash').toBe(before + 1);

      const atOnce = await call(healthy, 'POST', path, token, body, headers);
      // A minute later the reservation counts as abandoned: this is the retry that used to create again.
      await owner.query(`UPDATE idempotency_keys SET created_at = created_at - interval '61 seconds' WHERE key = $1`, [headers['idempotency-key']]);
      const later = await call(healthy, 'POST', path, token, body, headers);

      const outcome = (res: ApiResponse) => ({ status: res.status, replayed: res.headers['idempotent-replayed'] ?? null });
      expect({ rows: (await rows(c.table, tenant.id)) - before, atOnce: outcome(atOnce), later: outcome(later) }).toEqual({
        rows: 1,
        atOnce: { status: c.status, replayed: 'true' },
        later: { status: c.status, replayed: 'true' },
      });
      // The same answer both times: body and the headers that belong to it.
      expect(later.body).toEqual(atOnce.body);
      expect(later.headers.location).toEqual(atOnce.headers.location);
      expect(later.headers.etag).toEqual(atOnce.headers.etag);
      const id = (atOnce.body as { id: string }).id;
      expect((await owner.query(`SELECT count(*)::int AS n FROM ${c.table} WHERE tenant_id = $1 AND id = $2`, [tenant.id, id])).rows[0]).toEqual({ n: 1 });
    });
  }

  it('never stores a shown-once secret with the answer: the replay after the crash has it null', async () => {
    const tenant = await createTenantWithLogins(owner, 'idem-crash-secret', password);
    const token = (await client.login(tenant.users.owner.email, password)).accessToken;
    const headers = { 'idempotency-key': `crash-${randomBytes(8).toString('hex')}` };
    const body = { name: 'Mitra rahasia', environment: 'test', scopes: ['tickets:read'] };
    const first = await call(healthy, 'POST', '/v1/partner-clients', token, body, headers);
    const secret = (arranged(first, 201, 'partner client').body as { clientSecret: string }).clientSecret;
    expect(secret).toMatch(/^bt_cs_/);
    const stored = await owner.query<{ body: string }>('SELECT response_body::text AS body FROM idempotency_keys WHERE key = $1', [headers['idempotency-key']]);
    expect(stored.rows).toHaveLength(1);
    expect(stored.rows[0]!.body).not.toContain(secret);
    const replay = await call(healthy, 'POST', '/v1/partner-clients', token, body, headers);
    expect([replay.status, replay.headers['idempotent-replayed'], (replay.body as { clientSecret: unknown }).clientSecret]).toEqual([201, 'true', null]);
  });
});

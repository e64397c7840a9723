import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';
import { AbuseObserver } from '../../apps/api/src/http/abuse-observer.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { randomIp } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey } from '../support/partners.js';

/**
 * Incident tools on the internal listener (issue #7): the seeded attack scenario (a partner key
 * walking random invoice ids until the abuse detector blocks it), seen through the incident view,
 * contained by revoking the key from its revoke link, and ended by lifting the block; cross-tenant
 * audit search and chain verification. Every cross-tenant read is a named SECURITY DEFINER
 * function (prisma/migrations/20261129080000_incidents) and every call lands in the platform audit.
 *
 * Thresholds as in abuse-detection.spec.ts: production defaults, and every public request carries
 * its own X-Forwarded-For through the trusted loopback proxy, so no block ever lands on 127.0.0.1.
 */
const ABUSE = {
  TRUSTED_PROXIES: '127.0.0.1',
  ABUSE_WINDOW_S: '60',
  ABUSE_MAX_NOT_FOUND: '20',
  ABUSE_MAX_AUTH_FAILURES: '30',
  ABUSE_MAX_DISTINCT_OBJECTS: '300',
  ABUSE_MAX_BURST: '200',
  ABUSE_BURST_WINDOW_S: '5',
  ABUSE_BLOCK_S: '900',
};
const NOT_FOUND = Number(ABUSE.ABUSE_MAX_NOT_FOUND);

interface Walker {
  tenant: TestTenant;
  clientId: string;
  keyId: string;
  key: string;
  principal: string;
  ip: string;
}

interface Credential {
  kind: string;
  tenantId: string;
  id: string;
  principal: string;
  revoke: { method: string; path: string; body: { kind: string; id: string; tenantId: string } };
}

describe('internal incident tools', () => {
  const owner = ownerPool();
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const operators = { security: randomUUID(), support: randomUUID(), admin: randomUUID() };
  const start = new Date(Date.now() - 1000).toISOString();
  let pub: TestApi;
  let internal: TestApi;
  let observer: AbuseObserver;
  let a: Walker;
  let b: Walker;
  let readInvoiceId: string;
  const guessed: string[] = [];

  async function walker(label: string): Promise<Walker> {
    const tenant = await createTenant(owner, label);
    const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read', 'tickets:read'] });
    const { key, keyId } = await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id);
    return { tenant, clientId: client.clientId, keyId, key, principal: `partner:${client.clientId}`, ip: randomIp() };
  }

  beforeAll(async () => {
    const insert = (id: string, roles: string[]) =>
      owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, 'Incident test operator', $3)`, [id, `op-${id}@benteng.example`, roles]);
    await insert(operators.security, ['security']);
    await insert(operators.support, ['support']);
    await insert(operators.admin, ['platform-admin']);
    a = await walker('incident-a');
    b = await walker('incident-b');
    readInvoiceId = await insertInvoice(owner, a.tenant.id, { createdById: a.tenant.users.owner.id });
    pub = await buildApi({ env: ABUSE });
    observer = pub.app.get(AbuseObserver);
    internal = await buildInternalApi({ env: ABUSE });
  });

  afterAll(async () => {
    await internal?.close();
    await pub?.close();
  });

  /** One partner request; waits until the abuse detector has counted it. */
  async function partner(w: Walker, path: string, xff = w.ip): Promise<request.Response> {
    const res = await request(pub.app.getHttpServer()).get(path).set('x-forwarded-for', xff).set('authorization', `Bearer ${w.key}`);
    await new Promise((resolve) => setImmediate(resolve));
    await observer.settled();
    return res;
  }

  /** Walks random invoice ids until the block: NOT_FOUND + 1 misses, then 429. */
  async function enumerate(w: Walker, ids: string[] = []): Promise<void> {
    for (let i = 0; i <= NOT_FOUND; i++) {
      const id = randomUUID();
      ids.push(id);
      const res = await partner(w, `/partner/v1/invoices/${id}`);
      expect(res.status, `guess ${i}: ${res.text}`).toBe(404);
    }
    const blocked = await partner(w, `/partner/v1/invoices/${randomUUID()}`);
    expect(blocked.status, `after the walk: ${blocked.text}`).toBe(429);
  }

  function signed(method: 'GET' | 'POST', path: string, operatorId: string, options: { body?: object; reason?: string } = {}): request.Test {
    const body = options.body === undefined ? undefined : JSON.stringify(options.body);
    const headers = signServiceRequest({
      method,
      url: path,
      keyId: dev.kid,
      secret: dev.secret,
      operatorId,
      ...(options.reason === undefined ? {} : { reason: options.reason }),
      ...(body === undefined ? {} : { body }),
    });
    let test = request(internal.app.getHttpServer())[method === 'GET' ? 'get' : 'post'](path);
    for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
    return body === undefined ? test : test.set('content-type', 'application/json').send(body);
  }

  async function platformAudit(res: request.Response): Promise<{ type: string; outcome: string; actor: string; subject: string | null; reason: string | null; data: Record<string, unknown> }[]> {
    const { rows } = await owner.query(`SELECT type, outcome, actor, subject, reason, data FROM platform_audit_events WHERE request_id = $1`, [res.headers['x-request-id']]);
    return rows;
  }

  it('the incident view of a blocked enumerating partner lists the block, the tenant and objects touched, and the credentials to revoke', async () => {
    expect((await partner(a, `/partner/v1/invoices/${readInvoiceId}`)).status).toBe(200);
    await enumerate(a, guessed);

    const path = `/internal/v1/incidents?principal=${encodeURIComponent(a.principal)}&from=${encodeURIComponent(start)}`;
    const res = await signed('GET', path, operators.security);
    expect(res.status, `${res.text}`).toBe(200);
    const view = res.body as {
      query: Record<string, string>;
      events: { tenantId: string; type: string; actor: string; subject: string }[];
      tenants: string[];
      touched: { subjects: string[]; objects: { principal: string; notFound: string[]; read: string[] }[] };
      blocks: { tenantId: string; principal: string; signal: string; active: boolean; ip: string }[];
      credentials: Credential[];
    };
    expect(view.query).toEqual({ principal: a.principal, from: start, to: expect.any(String) });
    // What happened: the block, recorded in the partner's tenant and audited there.
    expect(view.blocks).toEqual([expect.objectContaining({ tenantId: a.tenant.id, principal: a.principal, signal: 'not_found', active: true, ip: a.ip })]);
    expect(view.events).toEqual([expect.objectContaining({ tenantId: a.tenant.id, type: 'security.principal_blocked', actor: 'system:security', subject: a.principal })]);
    // Who was affected: the tenant, the ids guessed (404) and the invoice read (200).
    expect(view.tenants).toEqual([a.tenant.id]);
    expect(view.touched.objects).toHaveLength(1);
    expect(view.touched.objects[0]!.principal).toBe(a.principal);
    expect([...view.touched.objects[0]!.notFound].sort()).toEqual([...guessed].sort());
    expect(view.touched.objects[0]!.read).toEqual([readInvoiceId]);
    // What to revoke now: the client and its key, each with its revoke link.
    const link = (kind: string, id: string) => ({ method: 'POST', path: '/internal/v1/revocations', body: { kind, id, tenantId: a.tenant.id } });
    expect(view.credentials).toEqual([
      expect.objectContaining({ kind: 'partner_client', id: a.clientId, tenantId: a.tenant.id, principal: a.principal, revoke: link('partner_client', a.clientId) }),
      expect.objectContaining({ kind: 'partner_key', id: a.keyId, tenantId: a.tenant.id, principal: a.principal, revoke: link('partner_key', a.keyId) }),
    ]);
    expect(JSON.stringify(view)).not.toMatch(/hash|secret/i);
    // The look itself is on the platform record.
    expect(await platformAudit(res)).toEqual([
      expect.objectContaining({ type: 'internal.incident_viewed', outcome: 'success', actor: `operator:${operators.security}`, subject: a.principal }),
    ]);

    // By address: the same block, and the principal seen from it.
    const byIp = await signed('GET', `/internal/v1/incidents?ip=${a.ip}&from=${encodeURIComponent(start)}`, operators.admin);
    expect(byIp.status, `${byIp.text}`).toBe(200);
    expect((byIp.body as typeof view).blocks.map((bl) => bl.principal)).toEqual([a.principal]);
    expect((byIp.body as typeof view).credentials.map((c) => c.id).sort()).toEqual([a.clientId, a.keyId].sort());
  });

  it('refuses the incident tools to a support operator, and a view without exactly one of principal and ip', async () => {
    expect((await signed('GET', `/internal/v1/incidents?principal=${encodeURIComponent(a.principal)}`, operators.support)).status).toBe(403);
    expect((await signed('GET', '/internal/v1/blocks?active=true', operators.support)).status).toBe(403);
    expect((await signed('GET', '/internal/v1/audit', operators.support)).status).toBe(403);
    expect((await signed('GET', '/internal/v1/incidents', operators.security)).status).toBe(400);
    expect((await signed('GET', `/internal/v1/incidents?principal=${encodeURIComponent(a.principal)}&ip=${a.ip}`, operators.security)).status).toBe(400);
    expect((await signed('GET', '/internal/v1/incidents?principal=admin', operators.security)).status).toBe(400);
  });

  it('lifts the block (security operator, with a reason): recorded in the tenant and on the platform, and access is back; support may not', async () => {
    const denied = await signed('POST', '/internal/v1/blocks/lift', operators.support, { body: { principal: a.principal }, reason: 'INC-7: partner says it was a bug' });
    expect(denied.status, `${denied.text}`).toBe(403);
    expect((await partner(a, '/partner/v1/invoices')).status).toBe(429);

    const active = await signed('GET', '/internal/v1/blocks?active=true', operators.security);
    expect(active.status, `${active.text}`).toBe(200);
    const mine = (active.body as { items: { principal: string; tenantId: string; id: string }[] }).items.filter((i) => i.principal === a.principal);
    expect(mine).toEqual([expect.objectContaining({ tenantId: a.tenant.id, active: true })]);

    // A reason is mandatory on the lift.
    expect((await signed('POST', '/internal/v1/blocks/lift', operators.security, { body: { principal: a.principal } })).status).toBe(400);
    const lifted = await signed('POST', '/internal/v1/blocks/lift', operators.security, { body: { principal: a.principal }, reason: 'INC-7: partner fixed the integration' });
    expect(lifted.status, `${lifted.text}`).toBe(200);
    expect(lifted.body).toEqual({ principal: { redis: true, rows: [{ tenantId: a.tenant.id, id: mine[0]!.id }] } });

    const { rows } = await owner.query(`SELECT lifted_at, lifted_by FROM security_blocks WHERE tenant_id = $1 AND principal = $2`, [a.tenant.id, a.principal]);
    expect(rows).toEqual([{ lifted_at: expect.any(Date), lifted_by: `operator:${operators.security}` }]);
    const tenantAudit = await owner.query(`SELECT actor, subject, data FROM audit_events WHERE tenant_id = $1 AND type = 'security.block_lifted'`, [a.tenant.id]);
    expect(tenantAudit.rows).toEqual([{ actor: `operator:${operators.security}`, subject: a.principal, data: expect.objectContaining({ reason: 'INC-7: partner fixed the integration' }) }]);
    expect(await platformAudit(lifted)).toEqual([
      expect.objectContaining({ type: 'internal.block_lifted', actor: `operator:${operators.security}`, subject: a.principal, reason: 'INC-7: partner fixed the integration' }),
    ]);

    expect((await partner(a, '/partner/v1/invoices')).status).toBe(200);
    const after = await signed('GET', '/internal/v1/blocks?active=true', operators.admin);
    expect((after.body as { items: { principal: string }[] }).items.filter((i) => i.principal === a.principal)).toEqual([]);
  });

  it('revoking the key through its revoke link takes effect on the next request', async () => {
    const view = await signed('GET', `/internal/v1/incidents?principal=${encodeURIComponent(a.principal)}&from=${encodeURIComponent(start)}`, operators.security);
    const key = (view.body as { credentials: Credential[] }).credentials.find((c) => c.kind === 'partner_key')!;
    expect((await partner(a, '/partner/v1/invoices')).status).toBe(200);

    const res = await signed('POST', key.revoke.path, operators.security, { body: key.revoke.body, reason: 'INC-7: key used for enumeration' });
    expect(res.status, `${res.text}`).toBe(200);

    const next = await partner(a, '/partner/v1/invoices');
    expect(next.status, `${next.text}`).toBe(401);
    const again = await signed('GET', `/internal/v1/incidents?principal=${encodeURIComponent(a.principal)}&from=${encodeURIComponent(start)}`, operators.security);
    expect((again.body as { credentials: Credential[] }).credentials.map((c) => c.kind)).toEqual(['partner_client']);
  });

  it('searches the audit log across tenants, and records each search on the platform', async () => {
    await enumerate(b);
    const search = `/internal/v1/audit?type=security.principal_blocked&from=${encodeURIComponent(start)}&limit=500`;
    const res = await signed('GET', search, operators.security);
    expect(res.status, `${res.text}`).toBe(200);
    const items = (res.body as { items: { tenantId: string; subject: string; type: string; seq: number }[] }).items;
    const ours = items.filter((i) => i.subject === a.principal || i.subject === b.principal);
    expect(new Set(ours.map((i) => i.tenantId))).toEqual(new Set([a.tenant.id, b.tenant.id]));
    expect(ours.every((i) => i.type === 'security.principal_blocked')).toBe(true);
    expect(await platformAudit(res)).toEqual([
      expect.objectContaining({ type: 'internal.audit_searched', actor: `operator:${operators.security}`, data: expect.objectContaining({ auditType: 'security.principal_blocked', from: start }) }),
    ]);

    // One tenant, one actor.
    const one = await signed('GET', `/internal/v1/audit?tenantId=${b.tenant.id}&actor=system%3Asecurity`, operators.admin);
    expect(one.status, `${one.text}`).toBe(200);
    const oneItems = (one.body as { items: { tenantId: string; actor: string }[] }).items;
    expect(oneItems.length).toBeGreaterThan(0);
    expect(oneItems.every((i) => i.tenantId === b.tenant.id && i.actor === 'system:security')).toBe(true);
  });

  it('verifies a tenant chain: ok, then the first broken row after an owner-side tamper', async () => {
    const path = `/internal/v1/tenants/${b.tenant.id}/audit/verify`;
    const ok = await signed('POST', path, operators.security, { reason: 'INC-7: checking the audit trail' });
    expect(ok.status, `${ok.text}`).toBe(200);
    expect(ok.body).toMatchObject({ ok: true, count: expect.any(Number), head: { seq: expect.any(Number) } });
    expect(await platformAudit(ok)).toEqual([expect.objectContaining({ type: 'internal.audit_verified', subject: `tenant:${b.tenant.id}`, data: expect.objectContaining({ ok: true }) })]);

    const { rows } = await owner.query<{ seq: string }>(`SELECT seq::text FROM audit_events WHERE tenant_id = $1 AND type = 'security.principal_blocked'`, [b.tenant.id]);
    const seq = Number(rows[0]!.seq);
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      // Replica mode skips the append-only trigger for this transaction only (as test/integration/audit.spec.ts).
      await client.query('SET LOCAL session_replication_role = replica');
      await client.query(`UPDATE audit_events SET data = data || '{"observed": 1}'::jsonb WHERE tenant_id = $1 AND seq = $2`, [b.tenant.id, seq]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }

    const broken = await signed('POST', path, operators.admin, { reason: 'INC-7: checking the audit trail again' });
    expect(broken.status, `${broken.text}`).toBe(200);
    expect(broken.body).toEqual({ ok: false, count: seq - 1, seq, problem: 'hash_mismatch' });
    expect(await platformAudit(broken)).toEqual([expect.objectContaining({ type: 'internal.audit_verified', data: expect.objectContaining({ ok: false, seq, problem: 'hash_mismatch' }) })]);
    // Support may not verify.
    expect((await signed('POST', path, operators.support, { reason: 'INC-7: curious' })).status).toBe(403);
  });
});

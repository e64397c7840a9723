import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';
import { AccessRecorder, NOT_PERSONAL, RECORDED_COLLECTIONS } from '../../apps/api/src/http/access-recorder.js';
import { listRoutes } from '../../apps/api/src/http/route-catalog.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { addMembership, Caller, randomIp, SecretLedger, setPassword, type Session } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { tag } from '../security/support/controls.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey } from '../support/partners.js';

/**
 * Breach scoping on the internal listener (POST /internal/v1/incidents/breach-scope, docs/privacy.md):
 * activity is seeded through the real public and partner surfaces (two tenants, a user with a
 * session in each, a partner key, a second user sharing the partner's address, a bystander), the
 * access records are written by the API itself, and the answer is checked exactly for a session, an
 * API key, a user and an address: tenants, principals, data subjects, record types with counts,
 * audit events, and the notification deadline (detection + 72 hours).
 */
describe('breach scoping', () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const operators = { security: randomUUID(), support: randomUUID() };
  const detectedAt = '2026-12-07T09:30:00.000Z';
  const deadline = '2026-12-10T09:30:00.000Z';
  const sharedIp = randomIp();
  let pub: TestApi;
  let internal: TestApi;
  let a: TestTenant;
  let b: TestTenant;
  let from: string;
  let to: string;
  // Ua: a's owner, also a member of b; Ub: b's owner; Un: b's admin (the bystander).
  let ua: { id: string; inA: Session; inB: Session };
  let ub: { id: string; session: Session };
  let partner: { clientId: string; keyId: string; key: string };
  const invoices = {} as Record<'a1' | 'a2' | 'b1' | 'b2', string>;
  let ticketId: string;

  async function invoice(tenant: TestTenant, email: string): Promise<string> {
    const id = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
    await owner.query('UPDATE invoices SET customer_email = $3 WHERE tenant_id = $1 AND id = $2', [tenant.id, id, email]);
    return id;
  }

  async function ok(res: request.Response | Promise<request.Response>, status = 200): Promise<request.Response> {
    const r = await res;
    if (r.status !== status) throw new Error(`expected ${status}, got ${r.status}: ${r.text}`);
    return r;
  }

  beforeAll(async () => {
    for (const [id, roles] of [[operators.security, ['security']], [operators.support, ['support']]] as const) {
      await owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, 'Breach test operator', $3)`, [id, `op-${id}@benteng.example`, roles]);
    }
    a = await createTenant(owner, 'breach-a');
    b = await createTenant(owner, 'breach-b');
    invoices.a1 = await invoice(a, 'alice@customer.test');
    invoices.a2 = await invoice(a, 'carol@customer.test');
    invoices.b1 = await invoice(b, 'budi@customer.test');
    invoices.b2 = await invoice(b, 'dewi@customer.test');
    await addMembership(owner, b.id, a.users.owner.id, 'member');
    const client = await createPartnerClient(owner, a.id, a.users.owner.id, { scopes: ['invoices:read'] });
    const { key, keyId } = await createPartnerKey(owner, a.id, client.clientId, a.users.owner.id);
    partner = { clientId: client.clientId, keyId, key };
    ledger.add(key);

    pub = await buildApi({ env: { TRUSTED_PROXIES: '127.0.0.1' } });
    internal = await buildInternalApi();
    from = new Date(Date.now() - 1000).toISOString();

    // Ua, from its own address: a session in a and one in b.
    const uaCaller = new Caller(pub, ledger);
    const uaPassword = await setPassword(owner, ledger, a.users.owner.id);
    ua = { id: a.users.owner.id, inA: await uaCaller.loginOk(a.users.owner.email, uaPassword, a.slug), inB: await uaCaller.loginOk(a.users.owner.email, uaPassword, b.slug) };
    await ok(uaCaller.call('get', `/v1/invoices/${invoices.a1}`, { token: ua.inA.accessToken }));
    await ok(uaCaller.call('get', '/v1/invoices', { token: ua.inA.accessToken }));
    const ticket = await ok(uaCaller.call('post', '/v1/tickets', { token: ua.inA.accessToken, body: { subject: 'Printer', body: 'It jams.' } }), 201);
    ticketId = (ticket.body as { id: string }).id;
    await ok(uaCaller.me(ua.inA.accessToken));
    await ok(uaCaller.call('get', `/v1/invoices/${invoices.b1}`, { token: ua.inB.accessToken }));
    // A refused read is not a read: nothing recorded.
    await ok(uaCaller.call('get', `/v1/invoices/${randomUUID()}`, { token: ua.inA.accessToken }), 404);

    // The partner key, from the shared address.
    for (const id of [invoices.a2, invoices.a1]) {
      await ok(request(pub.app.getHttpServer()).get(`/partner/v1/invoices/${id}`).set('authorization', `Bearer ${partner.key}`).set('x-forwarded-for', sharedIp));
    }
    // Ub, from the shared address too.
    const ubCaller = new Caller(pub, ledger, sharedIp);
    const ubPassword = await setPassword(owner, ledger, b.users.owner.id);
    ub = { id: b.users.owner.id, session: await ubCaller.loginOk(b.users.owner.email, ubPassword, b.slug) };
    await ok(ubCaller.call('get', `/v1/invoices/${invoices.b2}`, { token: ub.session.accessToken }));
    // The bystander: b's admin, elsewhere, reading what Ua read.
    const bystander = new Caller(pub, ledger);
    const bystanderSession = await bystander.loginOk(b.users.admin.email, await setPassword(owner, ledger, b.users.admin.id), b.slug);
    await ok(bystander.call('get', `/v1/invoices/${invoices.b1}`, { token: bystanderSession.accessToken }));

    await pub.app.get(AccessRecorder).settled();
    to = new Date(Date.now() + 1000).toISOString();
  });

  afterAll(async () => {
    await internal?.close();
    await pub?.close();
  });

  function scope(body: object, operatorId = operators.security, reason: string | null = 'breach INC-21: scoping'): request.Test {
    const path = '/internal/v1/incidents/breach-scope';
    const text = JSON.stringify(body);
    const headers = signServiceRequest({ method: 'POST', url: path, keyId: dev.kid, secret: dev.secret, operatorId, body: text, ...(reason === null ? {} : { reason }) });
    let test = request(internal.app.getHttpServer()).post(path);
    for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
    return test.set('content-type', 'application/json').send(text);
  }


  it(tag('ACCESS-RECORD', 'a stolen session: its tenant, the records it read or changed, their data subjects, the login, and the deadline'), async () => {
    const res = await scope({ credential: `session:${ua.inA.sessionId}`, detectedAt });
    expect(res.status, `${res.text}`).toBe(200);
    expect(res.body).toEqual({
      query: { credential: `session:${ua.inA.sessionId}`, principals: [], ips: [], from: null, to: null },
      detectedAt,
      notificationDeadline: deadline,
      tenants: [
        {
          tenantId: a.id,
          principals: [`user:${ua.id}`],
          dataSubjects: ['customer:alice@customer.test', `user:${ua.id}`].sort(),
          recordTypes: [
            { recordType: 'invoice', read: 1, changed: 0, listReads: 1, records: 1 },
            { recordType: 'ticket', read: 0, changed: 1, listReads: 0, records: 1 },
            { recordType: 'user', read: 1, changed: 0, listReads: 0, records: 1 },
          ],
          auditEvents: [{ type: 'auth.login', count: 1 }],
        },
      ],
      totals: { tenants: 1, dataSubjects: 2, accessRecords: 4, auditEvents: 1 },
      truncated: false,
    });
    const { rows } = await owner.query(`SELECT record_id::text AS id FROM access_records WHERE tenant_id = $1 AND record_type = 'ticket'`, [a.id]);
    expect(rows).toEqual([{ id: ticketId }]);
  });

  it(tag('ACCESS-RECORD', 'a stolen API key: the partner reads in its tenant and whose data they held'), async () => {
    const res = await scope({ credential: `api_key:${partner.keyId}`, detectedAt });
    expect(res.status, `${res.text}`).toBe(200);
    expect(res.body.tenants).toEqual([
      {
        tenantId: a.id,
        principals: [`partner:${partner.clientId}`],
        dataSubjects: ['customer:alice@customer.test', 'customer:carol@customer.test'],
        recordTypes: [{ recordType: 'invoice', read: 2, changed: 0, listReads: 0, records: 2 }],
        auditEvents: [],
      },
    ]);
    expect(res.body.totals).toEqual({ tenants: 1, dataSubjects: 2, accessRecords: 2, auditEvents: 0 });
  });

  it('a compromised user: every tenant they acted in', async () => {
    const res = await scope({ credential: `user:${ua.id}`, detectedAt });
    expect(res.status, `${res.text}`).toBe(200);
    const tenants = [
      {
        tenantId: a.id,
        principals: [`user:${ua.id}`],
        dataSubjects: ['customer:alice@customer.test', `user:${ua.id}`].sort(),
        recordTypes: [
          { recordType: 'invoice', read: 1, changed: 0, listReads: 1, records: 1 },
          { recordType: 'ticket', read: 0, changed: 1, listReads: 0, records: 1 },
          { recordType: 'user', read: 1, changed: 0, listReads: 0, records: 1 },
        ],
        auditEvents: [{ type: 'auth.login', count: 1 }],
      },
      {
        tenantId: b.id,
        principals: [`user:${ua.id}`],
        dataSubjects: ['customer:budi@customer.test', `user:${ua.id}`].sort(),
        recordTypes: [{ recordType: 'invoice', read: 1, changed: 0, listReads: 0, records: 1 }],
        auditEvents: [{ type: 'auth.login', count: 1 }],
      },
    ].sort((x, y) => (x.tenantId < y.tenantId ? -1 : 1));
    expect(res.body.tenants).toEqual(tenants);
    expect(res.body.totals).toEqual({ tenants: 2, dataSubjects: 4, accessRecords: 5, auditEvents: 2 });
  });

  it(tag('ACCESS-RECORD', 'an address in a window: everyone who acted from it, in every tenant, and no one else'), async () => {
    const res = await scope({ ips: [sharedIp], from, to, detectedAt });
    expect(res.status, `${res.text}`).toBe(200);
    const tenants = [
      {
        tenantId: a.id,
        principals: [`partner:${partner.clientId}`],
        dataSubjects: ['customer:alice@customer.test', 'customer:carol@customer.test'],
        recordTypes: [{ recordType: 'invoice', read: 2, changed: 0, listReads: 0, records: 2 }],
        auditEvents: [],
      },
      {
        tenantId: b.id,
        principals: [`user:${ub.id}`],
        dataSubjects: ['customer:dewi@customer.test', `user:${ub.id}`].sort(),
        recordTypes: [{ recordType: 'invoice', read: 1, changed: 0, listReads: 0, records: 1 }],
        auditEvents: [{ type: 'auth.login', count: 1 }],
      },
    ].sort((x, y) => (x.tenantId < y.tenantId ? -1 : 1));
    expect(res.body.tenants).toEqual(tenants);
    expect(res.body.query).toEqual({ credential: null, principals: [], ips: [sharedIp], from, to });
    // A window that ends before the activity finds nothing.
    const before = await scope({ ips: [sharedIp], from: '2026-01-01T00:00:00.000Z', to: from, detectedAt });
    expect(before.body.tenants).toEqual([]);
  });

  it('is recorded in the platform audit log with the reason, needs read on the platform audit log, a reason and a target', async () => {
    const res = await scope({ credential: `api_key:${partner.keyId}`, detectedAt });
    const { rows } = await owner.query(`SELECT type, actor, subject, reason, data FROM platform_audit_events WHERE request_id = $1`, [res.headers['x-request-id']]);
    expect(rows).toEqual([
      {
        type: 'internal.breach_scoped',
        actor: `operator:${operators.security}`,
        subject: `api_key:${partner.keyId}`,
        reason: 'breach INC-21: scoping',
        data: { service: dev.service, principals: 0, ips: 0, from: null, to: null, detectedAt, tenants: 1, dataSubjects: 2, accessRecords: 2, auditEvents: 0 },
      },
    ]);
    expect((await scope({ credential: `api_key:${partner.keyId}`, detectedAt }, operators.support)).status).toBe(403);
    expect((await scope({ credential: `api_key:${partner.keyId}`, detectedAt }, operators.security, null)).status).toBe(400);
    for (const body of [{ detectedAt }, { principals: [`user:${ua.id}`], detectedAt }, { credential: `api_key:${partner.keyId}` }, { credential: 'password:x', detectedAt }, { ips: ['not-an-ip'], from, to, detectedAt }]) {
      const refused = await scope(body);
      expect(refused.status, `${JSON.stringify(body)}`).toBe(400);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it(tag('ACCESS-RECORD', 'every authenticated collection of /v1 and /partner/v1 is either recorded or declared free of personal data'), () => {
    const collections = new Set(
      listRoutes(pub.app)
        .filter((r) => (r.surface === 'public' || r.surface === 'partner') && r.access !== null && (r.access.auth === 'public-jwt' || r.access.auth === 'partner'))
        .map((r) => /^\/(?:partner\/)?v1\/([^/]+)/.exec(r.path)?.[1])
        .filter((c): c is string => c !== undefined),
    );
    expect([...collections].filter((c) => !(c in RECORDED_COLLECTIONS) && !NOT_PERSONAL.includes(c))).toEqual([]);
  });

  it('never logs a credential', () => {
    expect(ledger.leaks()).toEqual([]);
  });
});

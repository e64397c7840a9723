import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { JobQueue } from '@benteng/jobs';
import { signServiceRequest } from '@benteng/security';
import { buildInternalApi, type TestApi } from '../support/api.js';
import { buildAuthApi, Caller, SecretLedger, setPassword } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey, partnerCall, requestPartnerToken, type TestPartnerClient, type TestPartnerKey } from '../support/partners.js';
import { obliterateQueues, startReadyWorker, uniqueQueuePrefix, type WorkerProcess } from '../support/worker.js';

/**
 * Operator admin actions on the internal listener (issue #7): tenants (create, suspend,
 * reactivate), users (lock, unlock) and revocations, each taking effect on the next public,
 * partner or job request, and each audited in the platform audit log and the tenant's own log.
 */
describe('internal admin actions', () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const prefix = uniqueQueuePrefix('internal-admin');
  const operators = { admin: randomUUID(), security: randomUUID(), support: randomUUID() };
  let internal: TestApi;
  let pub: TestApi;
  let caller: Caller;
  let worker: WorkerProcess | undefined;

  beforeAll(async () => {
    const insert = (id: string, roles: string[]) =>
      owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, $3, $4)`, [id, `op-${id}@benteng.example`, 'Admin test operator', roles]);
    await insert(operators.admin, ['platform-admin']);
    await insert(operators.security, ['security']);
    await insert(operators.support, ['support']);
    internal = await buildInternalApi();
    pub = await buildAuthApi({ env: { QUEUE_PREFIX: prefix } });
    caller = new Caller(pub, ledger);
    ledger.watch(internal);
  });

  afterAll(async () => {
    await worker?.stop();
    await internal?.close();
    await pub?.close();
    await obliterateQueues(prefix);
  });

  /** A signed internal POST with a JSON body (or none) and, unless null, a reason. */
  function post(path: string, operatorId: string, reason: string | null, body?: object): request.Test {
    const raw = body === undefined ? undefined : JSON.stringify(body);
    const headers = signServiceRequest({ method: 'POST', url: path, keyId: dev.kid, secret: dev.secret, operatorId, ...(reason === null ? {} : { reason }), ...(raw === undefined ? {} : { body: raw }) });
    let test = request(internal.app.getHttpServer()).post(path);
    for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
    return raw === undefined ? test : test.set('content-type', 'application/json').send(raw);
  }

  async function ok(res: request.Response | Promise<request.Response>, status = 200): Promise<Record<string, unknown>> {
    const r = await res;
    expect(r.status, `${r.text}`).toBe(status);
    return r.body as Record<string, unknown>;
  }

  interface World {
    tenant: TestTenant;
    password: string;
    token: string;
    client: TestPartnerClient;
    key: TestPartnerKey;
  }

  async function world(label: string): Promise<World> {
    const tenant = await createTenant(owner, label);
    const password = await setPassword(owner, ledger, tenant.users.admin.id);
    const token = (await caller.loginOk(tenant.users.admin.email, password)).accessToken;
    const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'] });
    const key = await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id);
    ledger.add(client.clientSecret);
    ledger.add(key.key);
    return { tenant, password, token, client, key };
  }

  const me = async (token: string) => (await caller.me(token)).status;
  const partner = async (credential: string) => (await partnerCall(pub, 'get', '/partner/v1/invoices', { credential })).status;
  async function partnerToken(client: TestPartnerClient): Promise<request.Response> {
    const res = await requestPartnerToken(pub, client);
    if (res.status === 200) ledger.add((res.body as { access_token: string }).access_token);
    return res;
  }

  async function tenantAudit(tenantId: string, type: string): Promise<{ actor: string; subject: string; data: Record<string, unknown> }[]> {
    const { rows } = await owner.query(`SELECT actor, subject, data FROM audit_events WHERE tenant_id = $1 AND type = $2 ORDER BY seq`, [tenantId, type]);
    return rows;
  }

  async function platformAudit(requestId: string): Promise<{ type: string; actor: string; subject: string; reason: string }[]> {
    const { rows } = await owner.query(`SELECT type, actor, subject, reason FROM platform_audit_events WHERE request_id = $1`, [requestId]);
    return rows;
  }

  it('creates a tenant (platform-admin only), audited in the new tenant and the platform log', async () => {
    const slug = `created-${randomUUID().slice(0, 8)}`;
    const res = await post('/internal/v1/tenants', operators.admin, 'onboarding ticket 7', { slug, name: 'Created Co' });
    expect(res.status, `${res.text}`).toBe(201);
    const body = res.body as { id: string };
    expect(body).toEqual({ id: expect.any(String), slug, name: 'Created Co', status: 'active', createdAt: expect.any(String) });
    expect(await platformAudit(res.headers['x-request-id'] as string)).toEqual([{ type: 'operator.tenant_created', actor: `operator:${operators.admin}`, subject: `tenant:${body.id}`, reason: 'onboarding ticket 7' }]);
    expect(await tenantAudit(body.id, 'operator.tenant_created')).toEqual([expect.objectContaining({ actor: `operator:${operators.admin}`, data: expect.objectContaining({ reason: 'onboarding ticket 7', slug }) })]);

    expect((await post('/internal/v1/tenants', operators.admin, 'again', { slug, name: 'Twice' })).status).toBe(409);
    expect((await post('/internal/v1/tenants', operators.security, 'not mine', { slug: `${slug}-x`, name: 'No' })).status).toBe(403);
    expect((await post('/internal/v1/tenants', operators.admin, 'bad slug', { slug: 'Not A Slug', name: 'No' })).status).toBe(400);
  });

  it('suspends a tenant: its next user, partner and queued-job request is refused; reactivation restores access; both audited', async () => {
    const w = await world('adm-suspend');
    const partnerAccess = (await partnerToken(w.client)).body as { access_token: string };
    expect(await me(w.token)).toBe(200);
    expect(await partner(w.key.key)).toBe(200);
    expect(await partner(partnerAccess.access_token)).toBe(200);

    // A job queued before the suspension, with no worker running yet.
    const jobId = await pub.app.get(JobQueue).enqueueTenantJob(w.tenant.scope('admin'), 'jobs.probe', {});

    const reason = 'incident 12: tenant compromised';
    const suspended = await post(`/internal/v1/tenants/${w.tenant.id}/suspend`, operators.security, reason);
    expect(suspended.status, `${suspended.text}`).toBe(200);
    expect(suspended.body).toEqual({ id: w.tenant.id, status: 'suspended', previousStatus: 'active' });

    expect(await me(w.token)).toBe(401);
    expect(await partner(w.key.key)).toBe(401);
    expect(await partner(partnerAccess.access_token)).toBe(401);
    expect((await partnerToken(w.client)).status).toBe(401);
    expect((await caller.login(w.tenant.users.admin.email, w.password)).status).not.toBe(200);

    worker = await startReadyWorker(prefix);
    await worker.waitFor((l) => l.jobId === jobId && l.msg === 'job refused', 20_000);
    expect(worker.lines().find((l) => l.jobId === jobId && l.msg === 'job refused')).toMatchObject({ reason: 'tenant_suspended' });
    await worker.stop();
    worker = undefined;

    // The Postgres fallback agrees with the marker.
    const { rows } = await owner.query(`SELECT kind, id::text AS id FROM auth_active_revocations(now() - interval '1 hour') WHERE id = $1`, [w.tenant.id]);
    expect(rows).toEqual([{ kind: 'tenant', id: w.tenant.id }]);

    const reactivated = await post(`/internal/v1/tenants/${w.tenant.id}/reactivate`, operators.admin, 'incident 12 resolved');
    expect(reactivated.status, `${reactivated.text}`).toBe(200);
    expect(await me(w.token)).toBe(200);
    expect(await partner(w.key.key)).toBe(200);
    expect((await partnerToken(w.client)).status).toBe(200);

    expect(await platformAudit(suspended.headers['x-request-id'] as string)).toEqual([{ type: 'operator.tenant_suspended', actor: `operator:${operators.security}`, subject: `tenant:${w.tenant.id}`, reason }]);
    expect(await platformAudit(reactivated.headers['x-request-id'] as string)).toEqual([
      { type: 'operator.tenant_reactivated', actor: `operator:${operators.admin}`, subject: `tenant:${w.tenant.id}`, reason: 'incident 12 resolved' },
    ]);
    expect(await tenantAudit(w.tenant.id, 'operator.tenant_suspended')).toEqual([
      { actor: `operator:${operators.security}`, subject: `tenant:${w.tenant.id}`, data: { reason, previousStatus: 'active', service: 'ops-cli' } },
    ]);
    expect(await tenantAudit(w.tenant.id, 'operator.tenant_reactivated')).toEqual([
      { actor: `operator:${operators.admin}`, subject: `tenant:${w.tenant.id}`, data: { reason: 'incident 12 resolved', previousStatus: 'suspended', service: 'ops-cli' } },
    ]);
  });

  it('locks a user (next request 401, in every tenant, audited in each); unlocking restores access through a new login', async () => {
    const w = await world('adm-lock');
    const other = await createTenant(owner, 'adm-lock-other');
    await owner.query(`INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, 'member')`, [other.id, randomUUID(), w.tenant.users.admin.id]);
    expect(await me(w.token)).toBe(200);

    const locked = await post(`/internal/v1/users/${w.tenant.users.admin.id}/lock`, operators.security, 'account takeover suspected');
    expect(locked.status, `${locked.text}`).toBe(200);
    expect(locked.body).toMatchObject({ id: w.tenant.users.admin.id, status: 'locked', previousStatus: 'active', sessionsRevoked: 1 });
    expect(await me(w.token)).toBe(401);
    expect((await caller.login(w.tenant.users.admin.email, w.password)).status).not.toBe(200);
    for (const tenantId of [w.tenant.id, other.id]) {
      expect(await tenantAudit(tenantId, 'operator.user_locked')).toEqual([
        { actor: `operator:${operators.security}`, subject: `user:${w.tenant.users.admin.id}`, data: { reason: 'account takeover suspected', previousStatus: 'active', sessionsRevoked: 1, service: 'ops-cli' } },
      ]);
    }
    expect(await platformAudit(locked.headers['x-request-id'] as string)).toEqual([
      { type: 'operator.user_locked', actor: `operator:${operators.security}`, subject: `user:${w.tenant.users.admin.id}`, reason: 'account takeover suspected' },
    ]);

    const unlocked = await post(`/internal/v1/users/${w.tenant.users.admin.id}/unlock`, operators.admin, 'owner verified by phone');
    expect(unlocked.status, `${unlocked.text}`).toBe(200);
    // The old session stays revoked; a new login works.
    expect(await me(w.token)).toBe(401);
    const fresh = await caller.loginOk(w.tenant.users.admin.email, w.password);
    expect(await me(fresh.accessToken)).toBe(200);
    expect(await tenantAudit(other.id, 'operator.user_unlocked')).toEqual([expect.objectContaining({ actor: `operator:${operators.admin}`, data: expect.objectContaining({ reason: 'owner verified by phone' }) })]);

    expect((await post(`/internal/v1/users/${randomUUID()}/lock`, operators.admin, 'nobody')).status).toBe(404);
  });

  it('revokes a partner key, a partner client and a session: each refused on its next request, and audited', async () => {
    const w = await world('adm-revoke');
    const otherKey = await createPartnerKey(owner, w.tenant.id, w.client.clientId, w.tenant.users.owner.id);
    ledger.add(otherKey.key);
    expect(await partner(w.key.key)).toBe(200);

    const key = await ok(post('/internal/v1/revocations', operators.security, 'key leaked on a public repo', { kind: 'partner_key', id: w.key.keyId, tenantId: w.tenant.id }));
    expect(key).toEqual({ kind: 'partner_key', id: w.key.keyId, revoked: true });
    expect(await partner(w.key.key)).toBe(401);
    expect(await partner(otherKey.key)).toBe(200);
    // Again: nothing left to revoke.
    expect(await ok(post('/internal/v1/revocations', operators.security, 'double check', { kind: 'partner_key', id: w.key.keyId, tenantId: w.tenant.id }))).toMatchObject({ revoked: false });

    const token = ((await partnerToken(w.client)).body as { access_token: string }).access_token;
    expect(await partner(token)).toBe(200);
    await ok(post('/internal/v1/revocations', operators.admin, 'client compromised', { kind: 'partner_client', id: w.client.clientId, tenantId: w.tenant.id }));
    expect(await partner(otherKey.key)).toBe(401);
    expect(await partner(token)).toBe(401);
    expect((await partnerToken(w.client)).status).toBe(401);

    const login = await caller.loginOk(w.tenant.users.admin.email, w.password);
    const session = login.accessToken;
    const sid = { sid: login.sessionId };
    expect(await me(session)).toBe(200);
    const revoked = await post('/internal/v1/revocations', operators.security, 'stolen laptop', { kind: 'session', id: sid.sid, tenantId: w.tenant.id });
    expect(revoked.status, `${revoked.text}`).toBe(200);
    expect(await me(session)).toBe(401);
    expect(await me(w.token)).toBe(200);

    const audited = await tenantAudit(w.tenant.id, 'operator.credential_revoked');
    expect(audited.map((r) => [r.subject, r.data.kind, r.data.reason, r.actor])).toEqual([
      [`partner_key:${w.key.keyId}`, 'partner_key', 'key leaked on a public repo', `operator:${operators.security}`],
      [`partner_key:${w.key.keyId}`, 'partner_key', 'double check', `operator:${operators.security}`],
      [`partner_client:${w.client.clientId}`, 'partner_client', 'client compromised', `operator:${operators.admin}`],
      [`session:${sid.sid}`, 'session', 'stolen laptop', `operator:${operators.security}`],
    ]);
    expect(await platformAudit(revoked.headers['x-request-id'] as string)).toEqual([{ type: 'operator.credential_revoked', actor: `operator:${operators.security}`, subject: `session:${sid.sid}`, reason: 'stolen laptop' }]);

    // A credential of another tenant is not found through this one.
    const stranger = await createTenant(owner, 'adm-revoke-stranger');
    expect((await post('/internal/v1/revocations', operators.security, 'wrong tenant', { kind: 'partner_key', id: otherKey.keyId, tenantId: stranger.id })).status).toBe(404);
    // Sessions and partner credentials need their tenant.
    expect((await post('/internal/v1/revocations', operators.security, 'no tenant', { kind: 'session', id: sid.sid })).status).toBe(400);
  });

  it('revokes every session of a user, or of a tenant', async () => {
    const w = await world('adm-revoke-all');
    const res = await ok(post('/internal/v1/revocations', operators.security, 'user sessions', { kind: 'user', id: w.tenant.users.admin.id }));
    expect(res).toEqual({ kind: 'user', id: w.tenant.users.admin.id, revoked: true, sessionsRevoked: 1 });
    expect(await me(w.token)).toBe(401);

    const again = (await caller.loginOk(w.tenant.users.admin.email, w.password)).accessToken;
    expect(await me(again)).toBe(200);
    expect(await ok(post('/internal/v1/revocations', operators.admin, 'tenant sessions', { kind: 'tenant', id: w.tenant.id }))).toMatchObject({ revoked: true, sessionsRevoked: 1 });
    expect(await me(again)).toBe(401);
    expect((await post('/internal/v1/revocations', operators.admin, 'unknown tenant', { kind: 'tenant', id: randomUUID() })).status).toBe(404);
  });

  it('refuses a support operator (403) and a call without a reason (400), changing nothing', async () => {
    const tenant = await createTenant(owner, 'adm-refuse');
    const paths = [`/internal/v1/tenants/${tenant.id}/suspend`, `/internal/v1/tenants/${tenant.id}/reactivate`, `/internal/v1/users/${tenant.users.owner.id}/lock`, `/internal/v1/users/${tenant.users.owner.id}/unlock`];
    for (const path of paths) {
      expect((await post(path, operators.support, 'I would like to')).status, `${path}`).toBe(403);
      const noReason = await post(path, operators.admin, null);
      expect(noReason.status, `${path}`).toBe(400);
      expect(noReason.body).toMatchObject({ errors: [{ pointer: '/headers/x-benteng-reason', rules: ['required'] }] });
    }
    expect((await post('/internal/v1/revocations', operators.support, 'I would like to', { kind: 'tenant', id: tenant.id })).status).toBe(403);
    expect((await post('/internal/v1/revocations', operators.admin, null, { kind: 'tenant', id: tenant.id })).status).toBe(400);
    const { rows } = await owner.query(`SELECT t.status AS tenant, u.status AS user FROM tenants t, users u WHERE t.id = $1 AND u.id = $2`, [tenant.id, tenant.users.owner.id]);
    expect(rows).toEqual([{ tenant: 'active', user: 'active' }]);
  });

  it('never logs a credential', () => {
    expect(ledger.counts.secrets).toBeGreaterThan(0);
    expect(ledger.leaks()).toEqual([]);
  });
});

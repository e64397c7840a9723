import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest, type SignServiceRequestInput } from '@benteng/security';
import { RedisNonceStore } from '../../apps/api/src/internal/redis-nonce-store.js';
import { buildInternalApi, type TestApi } from '../support/api.js';
import { buildAuthApi, Caller, PROBLEM_JSON, SecretLedger, setPassword } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey } from '../support/partners.js';
import { tag } from '../security/support/controls.js';

/**
 * The internal surface (issue #7): its own listener (a separate Nest application), its own
 * authentication (signed service requests + operator records), its own OpenAPI document. Both
 * applications are built in-process, as production builds them in apps/api/src/main.ts.
 */
describe(tag('AUTHN-SERVICE-SIGNATURE', 'internal surface'), () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  let internal: TestApi;
  let pub: TestApi;
  let tenant: TestTenant;
  let userToken: string;
  let partnerKey: string;
  const operators = { admin: randomUUID(), support: randomUUID(), disabled: randomUUID(), roleless: randomUUID() };

  beforeAll(async () => {
    const insert = (id: string, roles: string[], status = 'active') =>
      owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, $3, $4, $5)`, [id, `op-${id}@benteng.example`, 'Test operator', roles, status]);
    await insert(operators.admin, ['platform-admin']);
    await insert(operators.support, ['support']);
    await insert(operators.disabled, ['security'], 'disabled');
    await insert(operators.roleless, []);
    tenant = await createTenant(owner, 'internal');
    internal = await buildInternalApi();
    pub = await buildAuthApi();
    const password = await setPassword(owner, ledger, tenant.users.owner.id);
    userToken = (await new Caller(pub, ledger).loginOk(tenant.users.owner.email, password)).accessToken;
    const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'] });
    partnerKey = (await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id)).key;
  });

  afterAll(async () => {
    await internal?.close();
    await pub?.close();
  });

  type Signed = Partial<SignServiceRequestInput> & { headers?: Record<string, string>; sendBody?: string; sendPath?: string };

  /** A signed request: signs what `input` says, then sends `sendPath`/`sendBody` (default: the same). */
  function signed(api: TestApi, method: 'GET' | 'POST', path: string, input: Signed = {}): request.Test {
    const body = input.body === undefined ? undefined : String(input.body);
    const headers = signServiceRequest({ method, url: path, keyId: dev.kid, secret: dev.secret, ...input, body } as SignServiceRequestInput);
    let test = request(api.app.getHttpServer())[method === 'GET' ? 'get' : 'post'](input.sendPath ?? path);
    for (const [name, value] of Object.entries({ ...headers, ...input.headers })) test = test.set(name, value);
    const sent = input.sendBody ?? body;
    return sent === undefined ? test : test.set('content-type', 'application/json').send(sent);
  }

  async function platformAudit(requestId: string): Promise<{ type: string; outcome: string; actor: string; reason: string | null; data: Record<string, unknown> }[]> {
    const { rows } = await owner.query(`SELECT type, outcome, actor, reason, data FROM platform_audit_events WHERE request_id = $1`, [requestId]);
    return rows;
  }

  /** The one 401 body every signature refusal gets (requestId aside). */
  function expectSignatureRefusal(res: request.Response): void {
    expect(res.status, `${res.text}`).toBe(401);
    expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
    expect(res.headers['www-authenticate']).toBe('BENTENG-HMAC-SHA256');
    const { requestId, ...rest } = res.body as Record<string, unknown>;
    expect(typeof requestId).toBe('string');
    expect(rest).toEqual({ type: 'urn:benteng:problem:http.unauthenticated', title: 'Unauthorized', status: 401, code: 'http.unauthenticated' });
  }

  /** Checks the one 401 body, and returns the refusal reason the platform audit log recorded for it. */
  async function refusalOf(res: request.Response): Promise<unknown> {
    expectSignatureRefusal(res);
    const rows = await platformAudit(res.headers['x-request-id'] as string);
    expect(rows).toEqual([expect.objectContaining({ type: 'internal.auth_refused', outcome: 'denied' })]);
    return rows[0]!.data.refusal;
  }

  it('answers a valid signed request: who is calling, as which operator', async () => {
    const res = await signed(internal, 'GET', '/internal/v1/whoami', { operatorId: operators.admin });
    expect(res.status, `${res.text}`).toBe(200);
    expect(res.body).toEqual({ service: 'ops-cli', keyId: 'derived', operator: { id: operators.admin, email: `op-${operators.admin}@benteng.example`, displayName: 'Test operator', roles: ['platform-admin'] } });
  });

  it('lists tenants across the platform, with id, slug, name, status and creation time only', async () => {
    for (const operatorId of [operators.admin, operators.support]) {
      const res = await signed(internal, 'GET', '/internal/v1/tenants', { operatorId });
      expect(res.status, `${res.text}`).toBe(200);
      const mine = (res.body as { items: Record<string, unknown>[] }).items.find((t) => t.id === tenant.id);
      expect(mine).toEqual({ id: tenant.id, slug: tenant.slug, name: expect.any(String), status: 'active', createdAt: expect.any(String) });
    }
  });

  it('refuses a public access token and a partner API key on the internal listener (401)', async () => {
    for (const credential of [userToken, partnerKey]) {
      const res = await request(internal.app.getHttpServer()).get('/internal/v1/whoami').set('authorization', `Bearer ${credential}`);
      expect(await refusalOf(res)).toBe('missing_headers');
    }
  });

  it('refuses an internal signature on the public listener (401), where no internal route exists', async () => {
    expect((await signed(pub, 'GET', '/v1/me', { operatorId: operators.admin })).status).toBe(401);
    expect((await signed(pub, 'GET', '/partner/v1/invoices', { operatorId: operators.admin })).status).toBe(401);
    expect((await signed(pub, 'GET', '/internal/v1/whoami', { operatorId: operators.admin })).status).toBe(404);
    // and no public route exists on the internal listener
    expect((await request(internal.app.getHttpServer()).get('/v1/me').set('authorization', `Bearer ${userToken}`)).status).toBe(404);
    expect((await request(internal.app.getHttpServer()).get('/health/live')).status).toBe(404);
  });

  it('refuses a replayed nonce', async () => {
    const nonce = randomBytes(18).toString('base64url');
    const first = await signed(internal, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, nonce, now: Math.floor(Date.now() / 1000) });
    expect(first.status).toBe(200);
    const replay = await signed(internal, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, nonce, now: Math.floor(Date.now() / 1000) });
    expect(await refusalOf(replay)).toBe('replayed_nonce');
    // and logged at warn with a stable event name (nestjs-pino writes through the first app's capture)
    const lines = [...internal.logs.lines, ...pub.logs.lines];
    expect(lines.find((l) => l.event === 'internal.auth_refused' && l.refusal === 'replayed_nonce' && l.requestId === replay.headers['x-request-id'])).toMatchObject({ level: 40, keyId: 'derived', callerService: 'ops-cli', service: 'benteng-api' });
  });

  it('refuses stale and future timestamps (outside ±INTERNAL_SIGNATURE_TOLERANCE_S)', async () => {
    // A few seconds beyond the 300 s tolerance: the server reads its clock later than this line, and
    // one second boundary in between turned "now + 301" into an accepted +300 on a loaded machine.
    const now = Math.floor(Date.now() / 1000);
    expect(await refusalOf(await signed(internal, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, now: now - 305 }))).toBe('stale_timestamp');
    expect(await refusalOf(await signed(internal, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, now: now + 305 }))).toBe('future_timestamp');
  });

  it('refuses a body or a query altered after signing', async () => {
    const ping = { operatorId: operators.admin, reason: 'checking the signature' };
    expect(await refusalOf(await signed(internal, 'POST', '/internal/v1/operators/me/ping', { ...ping, body: '{"note":"a"}', sendBody: '{"note":"b"}' }))).toBe('signature_mismatch');
    expect(await refusalOf(await signed(internal, 'POST', '/internal/v1/operators/me/ping', { ...ping, body: '{"note":"a"}', sendBody: '{"note":"a"} ' }))).toBe('signature_mismatch');
    expect(await refusalOf(await signed(internal, 'GET', '/internal/v1/tenants?limit=1', { operatorId: operators.admin, sendPath: '/internal/v1/tenants?limit=2' }))).toBe('signature_mismatch');
  });

  it('refuses an unknown key id and a wrong secret', async () => {
    expect(await refusalOf(await signed(internal, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, keyId: 'nobody' }))).toBe('unknown_key');
    expect(await refusalOf(await signed(internal, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, secret: 'x'.repeat(40) }))).toBe('signature_mismatch');
  });

  it('rotates keys with overlap: both kids during the overlap, the old one refused once removed', async () => {
    const [oldSecret, newSecret] = ['o', 'n'].map((c) => c.repeat(24) + randomBytes(8).toString('hex'));
    const overlap = await buildInternalApi({ env: { INTERNAL_SERVICE_KEYS: `ops-cli:k-old:${oldSecret},ops-cli:k-new:${newSecret}` } });
    try {
      expect((await signed(overlap, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, keyId: 'k-old', secret: oldSecret })).status).toBe(200);
      expect((await signed(overlap, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, keyId: 'k-new', secret: newSecret })).status).toBe(200);
    } finally {
      await overlap.close();
    }
    const rotated = await buildInternalApi({ env: { INTERNAL_SERVICE_KEYS: `ops-cli:k-new:${newSecret}` } });
    try {
      expect(await refusalOf(await signed(rotated, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, keyId: 'k-old', secret: oldSecret }))).toBe('unknown_key');
      expect((await signed(rotated, 'GET', '/internal/v1/whoami', { operatorId: operators.admin, keyId: 'k-new', secret: newSecret })).status).toBe(200);
    } finally {
      await rotated.close();
    }
  });

  it('refuses (403, one body, audited with the cause) a missing, unknown, disabled or role-less operator', async () => {
    const cases: [string | undefined, string][] = [
      [undefined, 'missing_operator'],
      [randomUUID(), 'unknown_operator'],
      [operators.disabled, 'disabled_operator'],
      [operators.roleless, 'ability'],
    ];
    const bodies = new Set<string>();
    for (const [operatorId, cause] of cases) {
      const res = await signed(internal, 'GET', '/internal/v1/whoami', operatorId ? { operatorId } : {});
      expect(res.status, `${cause}: ${res.text}`).toBe(403);
      expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
      const { requestId: _requestId, ...rest } = res.body as Record<string, unknown>;
      bodies.add(JSON.stringify(rest));
      expect(await platformAudit(res.headers['x-request-id'] as string)).toEqual([expect.objectContaining({ type: 'internal.authz_denied', outcome: 'denied', data: expect.objectContaining({ cause }) })]);
    }
    expect(bodies.size).toBe(1);
  });

  it('requires a reason on state-changing calls (400), and records it with the action', async () => {
    const noReason = await signed(internal, 'POST', '/internal/v1/operators/me/ping', { operatorId: operators.support, body: '{}' });
    expect(noReason.status, `${noReason.text}`).toBe(400);
    expect(noReason.body).toMatchObject({ errors: [{ pointer: '/headers/x-benteng-reason', rules: ['required'] }] });
    expect((await signed(internal, 'POST', '/internal/v1/operators/me/ping', { operatorId: operators.support, reason: 'no', body: '{}' })).status).toBe(400);
    expect((await signed(internal, 'POST', '/internal/v1/operators/me/ping', { operatorId: operators.support, reason: 'x'.repeat(501), body: '{}' })).status).toBe(400);

    const reason = 'Tiket #42: memeriksa akses — ok';
    const ok = await signed(internal, 'POST', '/internal/v1/operators/me/ping', { operatorId: operators.support, reason, body: '{"note":"hello"}' });
    expect(ok.status, `${ok.text}`).toBe(200);
    expect(await platformAudit(ok.headers['x-request-id'] as string)).toEqual([
      { type: 'operator.ping', outcome: 'success', actor: `operator:${operators.support}`, reason, data: { service: 'ops-cli', note: 'hello' } },
    ]);
  });

  it('covers the reason with the signature: a reason swapped in transit is refused', async () => {
    const res = await signed(internal, 'POST', '/internal/v1/operators/me/ping', { operatorId: operators.admin, reason: 'original reason', body: '{}', headers: { 'x-benteng-reason': 'forged%20reason' } });
    expect(await refusalOf(res)).toBe('signature_mismatch');
  });

  it('fails closed when the nonce store (Redis) cannot answer: 503, audited', async () => {
    const down = await buildInternalApi({ overrides: [{ token: RedisNonceStore, value: { remember: () => Promise.reject(new Error('redis down')) } }] });
    try {
      const res = await signed(down, 'GET', '/internal/v1/whoami', { operatorId: operators.admin });
      expect(res.status).toBe(503);
      expect(await platformAudit(res.headers['x-request-id'] as string)).toEqual([expect.objectContaining({ data: expect.objectContaining({ refusal: 'nonce_store_unavailable' }) })]);
    } finally {
      await down.close();
    }
  });

  it('publishes its own OpenAPI document (signed), with internal routes only; the public documents have none', async () => {
    expect((await request(internal.app.getHttpServer()).get('/internal/v1/openapi.json')).status).toBe(401);
    const doc = await signed(internal, 'GET', '/internal/v1/openapi.json');
    expect(doc.status, `${doc.text}`).toBe(200);
    const internalPaths = Object.keys((doc.body as { paths: object }).paths);
    // The exact list of internal routes is the route catalog's snapshot (route-catalog.spec.ts).
    // Every route under /internal/v1, except the Prometheus scrape at its conventional place (docs/metrics.md).
    expect(internalPaths.filter((p) => !p.startsWith('/internal/v1/') && p !== '/internal/metrics')).toEqual([]);
    expect(internalPaths).toEqual(expect.arrayContaining(['/internal/v1/openapi.json', '/internal/v1/operators/me/ping', '/internal/v1/tenants', '/internal/v1/whoami', '/internal/v1/tenants/{id}/suspend', '/internal/v1/revocations']));
    for (const path of ['/v1/openapi.json', '/partner/v1/openapi.json']) {
      const res = await request(pub.app.getHttpServer()).get(path);
      expect(res.status).toBe(200);
      const paths = Object.keys((res.body as { paths: object }).paths);
      expect(paths.length).toBeGreaterThan(0);
      expect(paths.filter((p) => p.startsWith('/internal'))).toEqual([]);
    }
  });

  it('never logs a signature or a secret', () => {
    const raw = [internal.logs.raw, pub.logs.raw].join('\n');
    expect(raw).not.toContain(dev.secret.toString('utf8'));
    expect(raw).not.toMatch(/x-benteng-signature"?\s*:\s*"[A-Za-z0-9_-]{43}"/i);
  });
});

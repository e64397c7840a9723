import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';
import { buildInternalApi, type TestApi } from '../support/api.js';
import { buildAuthApi, Caller, PROBLEM_JSON, SecretLedger, setPassword } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';

/**
 * Prometheus metrics (issue #7, item 6): recorded by the public application, served by the
 * internal listener at GET /internal/metrics to signed operator requests only. Both applications
 * are built in this process, as apps/api/src/main.ts builds them, so they share one registry.
 * Also: the internal listener's own rate limit (principal class 'operator').
 */
describe('internal metrics', () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const operators = { admin: randomUUID(), support: randomUUID(), roleless: randomUUID(), limited: randomUUID() };
  let internal: TestApi;
  let limitedInternal: TestApi;
  let pub: TestApi;
  let tenant: TestTenant;
  let userToken: string;

  beforeAll(async () => {
    const insert = (id: string, roles: string[]) =>
      owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, $3, $4, 'active')`, [id, `op-${id}@benteng.example`, 'Metrics test operator', roles]);
    await insert(operators.admin, ['platform-admin']);
    await insert(operators.support, ['support']);
    await insert(operators.roleless, []);
    await insert(operators.limited, ['support']);
    tenant = await createTenant(owner, 'metrics');
    internal = ledger.watch(await buildInternalApi());
    limitedInternal = ledger.watch(await buildInternalApi({ env: { RATE_LIMIT_POLICY: JSON.stringify({ operator: { read: [3, 60] } }) } }));
    pub = ledger.watch(await buildAuthApi());
    const password = await setPassword(owner, ledger, tenant.users.owner.id);
    userToken = (await new Caller(pub, ledger).loginOk(tenant.users.owner.email, password)).accessToken;
  });

  afterAll(async () => {
    await internal?.close();
    await limitedInternal?.close();
    await pub?.close();
  });

  function signedGet(api: TestApi, path: string, operatorId?: string): request.Test {
    const headers = signServiceRequest({ method: 'GET', url: path, keyId: dev.kid, secret: dev.secret, ...(operatorId ? { operatorId } : {}) });
    let test = request(api.app.getHttpServer()).get(path);
    for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
    return test;
  }

  /** The value of one sample line, or undefined when the series is absent. */
  function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
    const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
    for (const line of text.split('\n')) {
      if (!line.startsWith(`${name}{`)) continue;
      const labelPart = line.slice(name.length + 1, line.lastIndexOf('}'));
      const present = labelPart.split(/,(?=[a-z_]+=")/);
      if (wanted.every((pair) => present.includes(pair))) return Number(line.slice(line.lastIndexOf(' ') + 1));
    }
    return undefined;
  }

  it('serves Prometheus text to a signed operator: request counter by route pattern, 401s, queue depths', async () => {
    const invoiceId = randomUUID();
    const read = await request(pub.app.getHttpServer()).get(`/v1/invoices/${invoiceId}`).set('authorization', `Bearer ${userToken}`);
    expect(read.status, `${read.text}`).toBe(404);
    const unauthenticated = await request(pub.app.getHttpServer()).get('/v1/invoices');
    expect(unauthenticated.status).toBe(401);

    const res = await signedGet(internal, '/internal/metrics', operators.support);
    expect(res.status, `${res.text}`).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = res.text;
    expect(sample(text, 'benteng_http_requests_total', { surface: 'public', route: '/v1/invoices/:id', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'benteng_http_request_duration_seconds_count', { surface: 'public', route: '/v1/invoices/:id', method: 'GET', status: '404' })).toBeGreaterThanOrEqual(1);
    // The route pattern, never the raw path with its id.
    expect(text).not.toContain(invoiceId);
    expect(sample(text, 'benteng_http_requests_total', { surface: 'public', route: '/v1/invoices', method: 'GET', status: '401' })).toBeGreaterThanOrEqual(1);
    expect(sample(text, 'benteng_auth_failures_total', { surface: 'public' })).toBeGreaterThanOrEqual(1);
    for (const queue of ['jobs', 'platform']) {
      for (const state of ['waiting', 'active', 'delayed', 'failed']) {
        const depth = sample(text, 'benteng_queue_jobs', { queue, state });
        expect(depth, `${queue}/${state}`).toBeGreaterThanOrEqual(0);
      }
    }
    expect(sample(text, 'benteng_queue_scrape_errors_total', { queue: 'jobs' }), 'queue depths were read').toBeUndefined();
    expect(text).toContain('# TYPE benteng_rate_limit_refusals_total counter');
    expect(text).toContain('# TYPE benteng_abuse_blocks_placed_total counter');
  });

  it('answers an unsigned scrape with 401, and a role without read on it with 403', async () => {
    const unsigned = await request(internal.app.getHttpServer()).get('/internal/metrics');
    expect(unsigned.status).toBe(401);
    expect(unsigned.headers['content-type']).toMatch(PROBLEM_JSON);
    expect(unsigned.headers['www-authenticate']).toBe('BENTENG-HMAC-SHA256');
    const bearer = await request(internal.app.getHttpServer()).get('/internal/metrics').set('authorization', `Bearer ${userToken}`);
    expect(bearer.status).toBe(401);
    const serviceOnly = await signedGet(internal, '/internal/metrics');
    expect(serviceOnly.status).toBe(403);
    const roleless = await signedGet(internal, '/internal/metrics', operators.roleless);
    expect(roleless.status).toBe(403);
    const admin = await signedGet(internal, '/internal/metrics', operators.admin);
    expect(admin.status).toBe(200);
    // The internal listener counts its own refusals too.
    const after = await signedGet(internal, '/internal/metrics', operators.admin);
    expect(sample(after.text, 'benteng_auth_failures_total', { surface: 'internal' })).toBeGreaterThanOrEqual(2);
  });

  it('does not exist on the public listener', async () => {
    const res = await request(pub.app.getHttpServer()).get('/internal/metrics');
    expect(res.status).toBe(404);
    const signed = await signedGet(pub, '/internal/metrics', operators.admin);
    expect(signed.status).toBe(404);
  });

  it('rate-limits the internal listener per operator: the 4th read in the window is a 429', async () => {
    for (let i = 0; i < 3; i += 1) {
      const ok = await signedGet(limitedInternal, '/internal/v1/whoami', operators.limited);
      expect(ok.status, `${ok.text}`).toBe(200);
      expect(ok.headers['ratelimit-policy'], 'RateLimit-Policy header').toBeDefined();
      expect(ok.headers['ratelimit'], 'RateLimit header').toBeDefined();
    }
    const refused = await signedGet(limitedInternal, '/internal/v1/whoami', operators.limited);
    expect(refused.status, `${refused.text}`).toBe(429);
    expect(refused.headers['content-type']).toMatch(PROBLEM_JSON);
    expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
    expect(refused.headers['ratelimit']).toBeDefined();
    // Another operator has their own budget.
    const other = await signedGet(limitedInternal, '/internal/v1/whoami', operators.support);
    expect(other.status).toBe(200);
    const scrape = await signedGet(limitedInternal, '/internal/metrics', operators.admin);
    expect(sample(scrape.text, 'benteng_rate_limit_refusals_total', { surface: 'internal', principal_class: 'operator' })).toBeGreaterThanOrEqual(1);
  });

  it('never logged a credential', () => {
    expect(ledger.counts.secrets).toBeGreaterThan(0);
    expect(ledger.leaks()).toEqual([]);
  });
});

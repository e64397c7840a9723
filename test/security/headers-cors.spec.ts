import { randomUUID } from 'node:crypto';
import { Controller, Get } from '@nestjs/common';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { REDIS } from '@benteng/redis';
import { signServiceRequest } from '@benteng/security';
import { Anonymous } from '../../apps/api/src/http/access.decorator.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey, type TestPartnerClient } from '../support/partners.js';
import { PublicClient, setPasswords, testPassword } from '../support/public-api.js';
import { tag } from './support/controls.js';

/** A route that fails unexpectedly, for the headers of a 500. */
@Controller('probe/headers')
@Anonymous('headers probe: an unexpected error')
class FailingController {
  @Get('boom')
  boom(): never {
    throw new Error('unexpected failure');
  }
}

/** The API's CSP (HELMET_OPTIONS), exactly. */
const API_CSP = /^default-src 'none';frame-ancestors 'none';base-uri 'none';form-action 'none'$/;
/** The docs page's CSP: nothing by default, scripts and styles from self only, never framed. */
const DOCS_CSP = /^default-src 'none';(?!.*unsafe-)(?!.*\*).*frame-ancestors 'none'/;
const HOSTILE_ORIGIN = 'https://evil.example';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | number | undefined>;
}

interface Case {
  name: string;
  app: () => TestApi;
  method?: 'GET' | 'POST' | 'OPTIONS';
  url: string;
  headers?: () => Record<string, string>;
  payload?: () => string;
  status: number;
  /** The docs page sends its own CSP (scripts and styles from self), still with default-src and frame-ancestors 'none'. */
  docs?: boolean;
  /** Carries a credential or data only its caller may see: never stored by a cache. */
  noStore?: boolean;
}

function send(api: TestApi, c: Case): Promise<Answer> {
  return api.app
    .getHttpAdapter()
    .getInstance()
    .inject({ method: c.method ?? 'GET', url: c.url, headers: { origin: HOSTILE_ORIGIN, ...c.headers?.() }, ...(c.payload ? { payload: c.payload() } : {}) })
    .then((res) => ({ status: res.statusCode, headers: res.headers }));
}

/** Every security header a Benteng listener sends, on any answer. */
function expectSecurityHeaders(res: Answer, c: Case): void {
  expect(String(res.headers['content-security-policy'])).toMatch(c.docs ? DOCS_CSP : API_CSP);
  expect(res.headers['x-content-type-options']).toBe('nosniff');
  expect(res.headers['x-frame-options']).toBe('DENY');
  expect(res.headers['referrer-policy']).toBe('no-referrer');
  // HELMET_OPTIONS leaves HSTS at helmet's default: one year, subdomains included.
  expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
  expect(res.headers['cross-origin-resource-policy']).toBe('same-site');
  expect(res.headers['x-powered-by']).toBeUndefined();
  expect(res.headers['server']).toBeUndefined();
  // No CORS grant, whatever the Origin.
  expect(res.headers['access-control-allow-origin']).toBeUndefined();
  expect(res.headers['access-control-allow-credentials']).toBeUndefined();
}

describe(tag('SECURITY-HEADERS', 'security headers and CORS on every listener, for success, 4xx and 5xx answers'), () => {
  const owner = ownerPool();
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const operatorId = randomUUID();
  const deadRedis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
  deadRedis.on('error', () => undefined);
  let pub: TestApi;
  let internal: TestApi;
  let internalNoRedis: TestApi;
  let tenant: TestTenant;
  let password: string;
  let accessToken: string;
  let partner: TestPartnerClient;
  let partnerKey: string;

  beforeAll(async () => {
    tenant = await createTenant(owner, 'headers');
    password = testPassword();
    await setPasswords(owner, [tenant.users.owner.id], password);
    partner = await createPartnerClient(owner, tenant.id, tenant.users.owner.id);
    partnerKey = (await createPartnerKey(owner, tenant.id, partner.clientId, tenant.users.owner.id)).key;
    await owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, $3, $4, 'active')`, [
      operatorId,
      `op-${operatorId}@benteng.example`,
      'Headers test operator',
      ['support'],
    ]);
    pub = await buildApi({ controllers: [FailingController] });
    internal = await buildInternalApi();
    internalNoRedis = await buildInternalApi({ overrides: [{ token: REDIS, value: deadRedis }] });
    accessToken = (await new PublicClient(pub).login(tenant.users.owner.email, password)).accessToken;
  });

  afterAll(async () => {
    await pub?.close();
    await internal?.close();
    await internalNoRedis?.close();
  });

  const signed = (path: string) => () => signServiceRequest({ method: 'GET', url: path, keyId: dev.kid, secret: dev.secret, operatorId });
  const basic = () => ({ authorization: `Basic ${Buffer.from(`${partner.clientId}:${partner.clientSecret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' });

  const cases: Case[] = [
    // Public listener: /v1
    { name: '/v1 authenticated read', app: () => pub, url: '/v1/me', headers: () => ({ authorization: `Bearer ${accessToken}` }), status: 200, noStore: true },
    { name: '/v1 refused token', app: () => pub, url: '/v1/me', headers: () => ({ authorization: 'Bearer not-a-token' }), status: 401, noStore: true },
    { name: '/v1 login (credential response)', app: () => pub, method: 'POST', url: '/v1/auth/login', headers: () => ({ 'content-type': 'application/json' }), payload: () => JSON.stringify({ email: tenant.users.owner.email, password }), status: 200, noStore: true },
    { name: '/v1 refused login', app: () => pub, method: 'POST', url: '/v1/auth/login', headers: () => ({ 'content-type': 'application/json' }), payload: () => JSON.stringify({ email: tenant.users.owner.email, password: 'wrong-password-123' }), status: 401, noStore: true },
    { name: '/v1 without a token', app: () => pub, url: '/v1/me', status: 401 },
    { name: '/v1 unknown route', app: () => pub, url: '/v1/no-such-route', status: 404 },
    { name: 'public listener unexpected error', app: () => pub, url: '/probe/headers/boom', status: 500 },
    // Public listener: /partner/v1
    { name: '/partner/v1 read with an API key', app: () => pub, url: '/partner/v1/invoices', headers: () => ({ authorization: `Bearer ${partnerKey}` }), status: 200, noStore: true },
    { name: '/partner/oauth/token (credential response)', app: () => pub, method: 'POST', url: '/partner/oauth/token', headers: basic, payload: () => 'grant_type=client_credentials', status: 200, noStore: true },
    { name: '/partner/v1 without a credential', app: () => pub, url: '/partner/v1/invoices', status: 401 },
    // Public listener: health and docs
    { name: '/health/live', app: () => pub, url: '/health/live', status: 200 },
    { name: '/health unknown', app: () => pub, url: '/health/nope', status: 404 },
    { name: '/v1/openapi.json', app: () => pub, url: '/v1/openapi.json', status: 200 },
    { name: '/v1/docs page', app: () => pub, url: '/v1/docs', status: 200, docs: true },
    { name: '/v1/docs script', app: () => pub, url: '/v1/docs/init.js', status: 200 },
    { name: '/v1/docs unknown file', app: () => pub, url: '/v1/docs/evil.js', status: 404 },
    { name: '/partner/v1/openapi.json', app: () => pub, url: '/partner/v1/openapi.json', status: 200 },
    { name: '/partner/v1/docs page', app: () => pub, url: '/partner/v1/docs', status: 200, docs: true },
    // Internal listener
    { name: '/internal/v1 signed read', app: () => internal, url: '/internal/v1/openapi.json', headers: signed('/internal/v1/openapi.json'), status: 200, noStore: true },
    { name: '/internal/v1 unsigned', app: () => internal, url: '/internal/v1/openapi.json', status: 401 },
    { name: '/internal/v1 signed list', app: () => internal, url: '/internal/v1/tenants', headers: signed('/internal/v1/tenants'), status: 200, noStore: true },
    { name: '/internal/v1 unknown route', app: () => internal, url: '/internal/v1/no-such-route', status: 404 },
    { name: '/internal/metrics signed', app: () => internal, url: '/internal/metrics', headers: signed('/internal/metrics'), status: 200, noStore: true },
    { name: '/internal/metrics unsigned', app: () => internal, url: '/internal/metrics', status: 401 },
    { name: '/internal/v1 with its nonce store down (fails closed)', app: () => internalNoRedis, url: '/internal/v1/openapi.json', headers: signed('/internal/v1/openapi.json'), status: 503, noStore: true },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.status} with CSP, nosniff, frame denial, referrer policy, HSTS, no X-Powered-By, no CORS grant${c.noStore ? ', no-store' : ''}`, async () => {
      const res = await send(c.app(), c);
      expect(res.status, `${c.method ?? 'GET'} ${c.url}`).toBe(c.status);
      expectSecurityHeaders(res, c);
      expect(String(res.headers['cache-control'])).toMatch(c.noStore ? /no-store/ : /.*/);
    });
  }

  describe('CORS: a hostile origin gets no grant', () => {
    const preflight = (path: string) => ({
      name: `preflight ${path}`,
      method: 'OPTIONS' as const,
      url: path,
      headers: () => ({ 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' }),
      status: 0,
    });

    for (const [listener, app, path] of [
      ['public', () => pub, '/v1/auth/login'],
      ['public', () => pub, '/v1/me'],
      ['public', () => pub, '/partner/v1/invoices'],
      ['internal', () => internal, '/internal/v1/openapi.json'],
    ] as const) {
      it(`${listener} listener: a preflight for ${path} from ${HOSTILE_ORIGIN} is not granted`, async () => {
        const res = await send(app(), { ...preflight(path), app });
        expect(res.status).toBeGreaterThanOrEqual(400);
        for (const header of ['access-control-allow-origin', 'access-control-allow-credentials', 'access-control-allow-methods', 'access-control-allow-headers']) {
          expect(res.headers[header], 'a CORS grant header').toBeUndefined();
        }
        expectSecurityHeaders(res, { ...preflight(path), app });
      });
    }

    it('public listener: a simple credentialed request from a hostile origin is answered without any CORS grant (the page cannot read it)', async () => {
      const res = await send(pub, { name: 'simple', app: () => pub, url: '/v1/me', headers: () => ({ authorization: `Bearer ${accessToken}`, cookie: 'sid=x' }), status: 200 });
      expect(res.status).toBe(200);
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
      expect(res.headers['access-control-allow-credentials']).toBeUndefined();
      expect(String(res.headers.vary ?? '')).not.toMatch(/origin/i);
    });
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbuseDetector } from '@benteng/security';
import type { RouteAccess } from '../../apps/api/src/http/access.decorator.js';
import { AbuseObserver } from '../../apps/api/src/http/abuse-observer.js';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import type { TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { createPartnerClient, createPartnerKey, type TestPartnerClient } from '../support/partners.js';
import { testPassword } from '../support/public-api.js';
import { tag } from './support/controls.js';

/**
 * Shared addresses, for every route the API serves (the list comes from the router's own metadata,
 * listRoutes, so a route added tomorrow is in this matrix without anyone editing it): once the
 * abuse detector has blocked an address for failures that came without a valid credential, the
 * address's unauthenticated traffic is refused (429 security.blocked), and every valid credential
 * of every kind behind it is still judged by its own principal, never by the address.
 *
 * The credential kinds come from CREDENTIALS, keyed by the route's auth kind: a route whose auth
 * kind has no entry fails the matrix by name (and does not compile), so a new surface or
 * credential kind is taught here before its routes count as covered.
 */
const AUTH_FAILURES = 3;
const api = await buildApi({ env: { ABUSE_MAX_AUTH_FAILURES: String(AUTH_FAILURES), ABUSE_WINDOW_S: '60' } });
afterAll(() => api.close());

/** Auth kinds of the internal listener: HMAC-signed service requests, outside the abuse detector. */
const INTERNAL_AUTH = ['internal-operator', 'internal-service'] as const;
type GateAuth = Exclude<RouteAccess['auth'], 'none' | (typeof INTERNAL_AUTH)[number]>;
type GatedRoute = RouteEntry & { access: Extract<RouteAccess, { auth: GateAuth }> };
type OpenRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'none' }> };

interface Principals {
  tenant: TestTenant;
  password: string;
  partner: TestPartnerClient & { key: string };
}

/**
 * Every valid credential kind of every auth kind the gate authenticates. A user token is minted per
 * call (a cell may end its session: logout, logout-all); partner credentials are reusable.
 */
const CREDENTIALS: Record<GateAuth, { name: string; issue(p: Principals): Promise<string> }[]> = {
  'public-jwt': [{ name: "tenant owner's access token", issue: (p) => loginToken(p.tenant.users.owner.email, p.password) }],
  partner: [
    { name: 'partner API key', issue: (p) => Promise.resolve(p.partner.key) },
    { name: 'partner client-credentials token', issue: (p) => clientToken(p.partner) },
  ],
};

const routes = listRoutes(api.app);
const gated = routes.filter((r): r is GatedRoute => r.access !== null && r.access.auth in CREDENTIALS);
const open = routes.filter((r): r is OpenRoute => r.access?.auth === 'none');
const label = (r: RouteEntry) => `${r.method} ${r.path}`;
const concretePath = (path: string) => path.replace(/:[A-Za-z0-9_]+/g, () => randomUUID());
const minimalBody = (method: string) => (['POST', 'PUT', 'PATCH'].includes(method) ? {} : undefined);

/** The blocked address every cell calls from, and a clean one for arranging (logins, tokens). */
const office = `198.18.${randomBytes(1)[0]!}.${randomBytes(1)[0]!}`;
const clean = () => `198.19.${randomBytes(1)[0]!}.${randomBytes(1)[0]!}`;

interface Answer {
  status: number;
  code?: string;
  /** The body's start, for failure messages. */
  text: string;
  body: unknown;
}

/** One request through Fastify inject from the given socket address (no proxy involved). */
async function call(method: string, url: string, options: { ip: string; token?: string; body?: unknown; headers?: Record<string, string> }): Promise<Answer> {
  const res = await api.app
    .getHttpAdapter()
    .getInstance()
    .inject({
      method: method as 'GET',
      url,
      remoteAddress: options.ip,
      headers: { ...(options.token === undefined ? {} : { authorization: `Bearer ${options.token}` }), ...options.headers },
      ...(options.body === undefined ? {} : { payload: options.body as object }),
    });
  let body: unknown;
  try {
    body = JSON.parse(res.body);
  } catch {
    body = undefined;
  }
  const code = (body as { code?: unknown } | undefined)?.code;
  return { status: res.statusCode, ...(typeof code === 'string' ? { code } : {}), text: res.body.slice(0, 300), body };
}

const refusedAsBlocked = (a: Answer) => a.status === 429 && a.code === 'security.blocked';

async function loginToken(email: string, password: string): Promise<string> {
  const res = await call('POST', '/v1/auth/login', { ip: clean(), body: { email, password } });
  if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.text}`);
  return (res.body as { accessToken: string }).accessToken;
}

async function clientToken(client: TestPartnerClient): Promise<string> {
  const res = await call('POST', '/partner/oauth/token', {
    ip: clean(),
    body: { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret },
  });
  if (res.status !== 200) throw new Error(`token request answered ${res.status}: ${res.text}`);
  return (res.body as { access_token: string }).access_token;
}

describe(tag('ABUSE-SHARED-ADDRESS', 'shared-address matrix: an automatically blocked address refuses unauthenticated traffic only'), () => {
  const owner = ownerPool();
  let principals: Principals;

  beforeAll(async () => {
    const password = testPassword();
    const tenant = await createTenantWithLogins(owner, 'shared-address', password);
    const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id);
    const { key } = await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id);
    principals = { tenant, password, partner: { ...client, key } };

    // An anonymous client behind the office address presents bad tokens until the detector blocks it.
    const observer = api.app.get(AbuseObserver);
    for (let i = 0; i <= AUTH_FAILURES; i++) {
      await call('GET', '/v1/me', { ip: office, token: `junk-${randomBytes(8).toString('hex')}` });
      await observer.settled();
    }
    const block = await api.app.get(AbuseDetector).blockedFor(office);
    if (block?.source !== 'detector') throw new Error(`expected an automatic block on the office address, found ${JSON.stringify(block)}`);
  });

  it('knows every auth kind the routes declare, so no route escapes the matrix', () => {
    const known = new Set<string>(['none', ...INTERNAL_AUTH, ...Object.keys(CREDENTIALS)]);
    expect(routes.filter((r) => !known.has(r.access?.auth ?? '(none declared)')).map(label)).toEqual([]);
    for (const auth of Object.keys(CREDENTIALS)) expect(gated.some((r) => r.access.auth === auth), `routes with auth ${auth}`).toBe(true);
    expect(open.some((r) => r.access.credential === undefined)).toBe(true);
    expect(open.some((r) => r.access.credential !== undefined)).toBe(true);
  });

  describe.each(gated.map((r) => [label(r), r] as const))('%s', (_, route) => {
    for (const credential of CREDENTIALS[route.access.auth]) {
      it(`a valid ${credential.name} from the blocked address is served (judged by its own principal)`, async () => {
        const token = await credential.issue(principals);
        const res = await call(route.method, concretePath(route.path), { ip: office, token, body: minimalBody(route.method) });
        expect(refusedAsBlocked(res), `${label(route)} -> ${res.status} ${res.text}`).toBe(false);
        expect(res.status, `${label(route)} -> ${res.text}`).not.toBe(401);
      });
    }

    it('without a credential, or with one that does not verify, the blocked address is refused (429 security.blocked)', async () => {
      // No body: the gate needs none, and a JSON body on an upload route is refused (415) before it.
      const path = concretePath(route.path);
      const answers = [
        await call(route.method, path, { ip: office }),
        await call(route.method, path, { ip: office, token: `junk-${randomBytes(8).toString('hex')}` }),
        await call(route.method, path, { ip: office, token: `bt_test_${'a'.repeat(12)}_${randomBytes(32).toString('base64url')}` }),
      ];
      expect(answers.map((a) => [a.status, a.code])).toEqual(answers.map(() => [429, 'security.blocked']));
    });
  });

  const anonymous = open.filter((r) => r.access.credential === undefined);
  const ownCredential = open.filter((r) => r.access.credential !== undefined);

  describe.each(anonymous.map((r) => [label(r), r] as const))('%s (no credential at all)', (_, route) => {
    it('is refused at the blocked address, with or without a bearer token: it is unauthenticated traffic', async () => {
      const path = concretePath(route.path);
      const answers = [await call(route.method, path, { ip: office }), await call(route.method, path, { ip: office, token: `junk-${randomBytes(8).toString('hex')}` })];
      expect(answers.map((a) => [a.status, a.code])).toEqual([
        [429, 'security.blocked'],
        [429, 'security.blocked'],
      ]);
    });
  });

  describe.each(ownCredential.map((r) => [label(r), r] as const))('%s (checks a credential of its own)', (_, route) => {
    it(`is left to its own ${route.access.credential ?? ''} check at the blocked address (the people behind it sign in, refresh, fetch through it)`, async () => {
      const res = await call(route.method, concretePath(route.path), { ip: office, body: minimalBody(route.method) });
      expect(refusedAsBlocked(res), `${label(route)} -> ${res.status} ${res.text}`).toBe(false);
    });
  });

  it('signs the owner in at the blocked address with the right password', async () => {
    const res = await call('POST', '/v1/auth/login', { ip: office, body: { email: principals.tenant.users.owner.email, password: principals.password } });
    expect(res.status, `${res.text}`).toBe(200);
  });
});

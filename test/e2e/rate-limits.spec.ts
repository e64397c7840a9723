import type { AddressInfo } from 'node:net';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PartnerTier } from '@benteng/authz';
import type { MembershipRole } from '@benteng/database';
import { buildApi, type TestApi } from '../support/api.js';
import { PROBLEM_JSON, randomIp } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenantLogins, type TenantLogins } from '../support/tenants.js';
import { createPartnerClient, createPartnerKey, requestPartnerToken } from '../support/partners.js';
import { tag } from '../security/support/controls.js';

/**
 * Rate limits (libs/security/src/rate-limiter.ts, apps/api/src/http/gate/rate-limit.stage.ts): one budget per
 * principal class × route sensitivity and credential owner, one aggregate cap per tenant, counted in
 * Redis so every instance shares them, announced in draft-10 RateLimit-Policy / RateLimit headers,
 * refused as 429 rate_limit.exceeded with Retry-After, and audited once per window.
 *
 * The limits are exact: with a budget of N, exactly N requests of a window are admitted, sequential
 * or concurrent, whatever instance answers. Each class gets its own budget so a test also proves the
 * right row of the policy table was picked (a free partner is not counted as premium).
 */
const WINDOW_S = 60;
const GENEROUS: [number, number] = [1_000_000, WINDOW_S];
const LIMIT = { anonymous: 6, user: 7, 'partner:free': 4, 'partner:standard': 6, 'partner:premium': 8 } as const;
const USER_WRITE = 3;
const USER_SEARCH = 2;
const TENANT_CAP = 5_000;

const POLICY = JSON.stringify({
  anonymous: { auth: GENEROUS, write: GENEROUS, read: [LIMIT.anonymous, WINDOW_S], search: GENEROUS, export: GENEROUS },
  user: { read: [LIMIT.user, WINDOW_S], write: [USER_WRITE, WINDOW_S], search: [USER_SEARCH, WINDOW_S] },
  'partner:free': { read: [LIMIT['partner:free'], WINDOW_S] },
  'partner:standard': { read: [LIMIT['partner:standard'], WINDOW_S] },
  'partner:premium': { read: [LIMIT['partner:premium'], WINDOW_S] },
  tenant: [TENANT_CAP, WINDOW_S],
});

/** Where a request goes: an app (supertest binds its server) or the base URL of a listening one. */
type Target = TestApi | string;

interface Send {
  /** Sent as X-Forwarded-For (the test apps trust the loopback peer unless said otherwise). */
  xff?: string;
  token?: string;
  body?: object;
  headers?: Record<string, string>;
}

async function send(target: Target, method: 'get' | 'post' | 'head', path: string, options: Send = {}): Promise<request.Response> {
  let test = request(typeof target === 'string' ? target : target.app.getHttpServer())[method](path);
  if (options.xff !== undefined) test = test.set('x-forwarded-for', options.xff);
  if (options.token !== undefined) test = test.set('authorization', `Bearer ${options.token}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) test = test.set(name, value);
  return options.body === undefined ? await test : await test.send(options.body);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A draft-ietf-httpapi-ratelimit-headers-10 field: a structured-field list (RFC 9651) of items,
 * each a string naming a policy with integer parameters. Anything else fails the test.
 */
function parseField(value: unknown, field: string): Map<string, Record<string, number>> {
  if (typeof value !== 'string') throw new Error(`${field} header missing`);
  const items = new Map<string, Record<string, number>>();
  for (const member of value.split(/[ \t]*,[ \t]*/)) {
    const match = /^"([a-z0-9][a-z0-9-]*)"((?:;[a-z][a-z0-9_.*-]*=-?\d{1,15})+)$/.exec(member);
    if (!match) throw new Error(`${field} member is not a string item with integer parameters: ${member}`);
    if (items.has(match[1]!)) throw new Error(`${field} names ${match[1]} twice`);
    items.set(match[1]!, Object.fromEntries([...match[2]!.matchAll(/;([a-z][a-z0-9_.*-]*)=(-?\d+)/g)].map(([, key, n]) => [key!, Number(n)])));
  }
  return items;
}

/**
 * Checks both rate-limit headers of an answer against the expected policy (and the tenant item,
 * for principals with a tenant) and returns what the RateLimit field says of the policy.
 */
function rateLimitOf(res: request.Response, policy: string, limit: number, tenant?: { q: number }): { r: number; t: number; tenant?: { r: number; t: number } } {
  const policies = parseField(res.headers['ratelimit-policy'], 'RateLimit-Policy');
  const state = parseField(res.headers['ratelimit'], 'RateLimit');
  const names = tenant ? [policy, 'tenant'] : [policy];
  expect([...policies.keys()], 'RateLimit-Policy items').toEqual(names);
  expect([...state.keys()], 'RateLimit items').toEqual(names);
  expect(policies.get(policy), 'RateLimit-Policy of the principal').toEqual({ q: limit, w: WINDOW_S });
  expect(policies.get('tenant'), 'RateLimit-Policy of the tenant').toEqual(tenant ? { q: tenant.q, w: WINDOW_S } : undefined);
  for (const name of names) {
    const item = state.get(name)!;
    expect(Object.keys(item).sort(), `RateLimit ${name} parameters`).toEqual(['r', 't']);
    expect(item.r, `RateLimit ${name} r`).toBeGreaterThanOrEqual(0);
    expect(item.t, `RateLimit ${name} t`).toBeGreaterThanOrEqual(0);
    expect(item.t, `RateLimit ${name} t`).toBeLessThanOrEqual(WINDOW_S);
  }
  const own = state.get(policy)!;
  const tenantState = state.get('tenant');
  return { r: own.r!, t: own.t!, ...(tenantState ? { tenant: { r: tenantState.r!, t: tenantState.t! } } : {}) };
}

/** A 429 of the rate limiter: problem+json, code rate_limit.exceeded, a Retry-After of 1 s to the window. */
function expectRateLimited(res: request.Response, label: string): void {
  expect(res.status, `${label}: status`).toBe(429);
  expect(res.headers['content-type'], `${label}: content type`).toMatch(PROBLEM_JSON);
  expect(res.body, `${label}: problem`).toMatchObject({ status: 429, code: 'rate_limit.exceeded' });
  expect(res.headers['retry-after'], `${label}: Retry-After`).toMatch(/^\d+$/);
  const retryAfter = Number(res.headers['retry-after']);
  expect(retryAfter, `${label}: Retry-After`).toBeGreaterThanOrEqual(1);
  expect(retryAfter, `${label}: Retry-After`).toBeLessThanOrEqual(WINDOW_S);
}

/** One answer as far as a budget is concerned: its status and what its RateLimit header says remains. */
interface Spend {
  status: number;
  r: number;
}

/**
 * What a run of answers says of one budget, in order. Checks on the way that every answer carries
 * well-formed headers for the policy, that every refusal is a proper rate-limit 429 and that no
 * admitted answer carries Retry-After.
 */
function spendOf(responses: request.Response[], policy: string, limit: number, tenant?: { q: number }): Spend[] {
  for (const res of responses.filter((each) => each.status !== 200)) expectRateLimited(res, `refusal under ${policy}`);
  for (const res of responses.filter((each) => each.status === 200)) expect(res.headers['retry-after'], 'Retry-After on an admitted answer').toBeUndefined();
  return responses.map((res) => ({ status: res.status, r: rateLimitOf(res, policy, limit, tenant).r }));
}

/** The exact run of a budget of `limit` asked `limit + extra` times: 200s counting r down to 0, then 429s with r = 0. */
function exactly(limit: number, extra = 5): Spend[] {
  return [...Array.from({ length: limit }, (_, i) => ({ status: 200, r: limit - 1 - i })), ...Array.from({ length: extra }, () => ({ status: 429, r: 0 }))];
}

/** `count` requests one after another. */
async function sequence(count: number, call: (i: number) => Promise<request.Response>): Promise<request.Response[]> {
  const responses: request.Response[] = [];
  for (let i = 0; i < count; i++) responses.push(await call(i));
  return responses;
}

/** `count` requests at once; their answers ordered admitted first, by remaining count, for comparison with exactly(). */
async function burst(count: number, call: (i: number) => Promise<request.Response>): Promise<request.Response[]> {
  const responses = await Promise.all(Array.from({ length: count }, (_, i) => call(i)));
  const remaining = (res: request.Response) => Number(/;r=(\d+)/.exec(String(res.headers['ratelimit']))?.[1] ?? -1);
  return responses.sort((a, b) => a.status - b.status || remaining(b) - remaining(a));
}

/** Every log line of every app this file built (nestjs-pino writes all of them into the first app's capture). */
const apps: TestApi[] = [];
const logLines = () => apps.flatMap((api) => api.logs.lines);

async function build(env: Record<string, string>): Promise<TestApi> {
  const api = await buildApi({ env });
  apps.push(api);
  return api;
}

describe(tag('RATE-LIMIT', 'rate limits'), () => {
  const owner = ownerPool();
  let api: TestApi;

  beforeAll(async () => {
    api = await build({ TRUSTED_PROXIES: '127.0.0.1', RATE_LIMIT_POLICY: POLICY });
  });
  afterAll(async () => {
    for (const each of apps) await each.close();
  });

  /** A fresh tenant whose users can log in, each login from its own address. */
  const tenantLogins = (label: string) => createTenantLogins(owner, label);
  async function login(target: Target, logins: TenantLogins, role: MembershipRole): Promise<string> {
    const res = await send(target, 'post', '/v1/auth/login', { xff: randomIp(), body: { email: logins.tenant.users[role].email, password: logins.password } });
    if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.text}`);
    return (res.body as { accessToken: string }).accessToken;
  }

  /** A partner client of the tenant (invoices:read) with `keys` API keys. */
  async function partner(logins: TenantLogins, tier: PartnerTier, keys = 1) {
    const creator = logins.tenant.users.owner.id;
    const client = await createPartnerClient(owner, logins.tenant.id, creator, { tier, scopes: ['invoices:read'] });
    const made = [];
    for (let i = 0; i < keys; i++) made.push(await createPartnerKey(owner, logins.tenant.id, client.clientId, creator));
    return { ...client, keys: made.map((k) => k.key) };
  }

  describe('each principal class holds its own limit', () => {
    it(`anonymous (GET /health/live per client address): exactly ${LIMIT.anonymous} of ${LIMIT.anonymous + 5}`, async () => {
      const ip = randomIp();
      expect(spendOf(await sequence(LIMIT.anonymous + 5, () => send(api, 'get', '/health/live', { xff: ip })), 'anonymous-read', LIMIT.anonymous)).toEqual(exactly(LIMIT.anonymous));
      // Another address has its own budget.
      const other = await send(api, 'get', '/health/live', { xff: randomIp() });
      expect(other.status).toBe(200);
      expect(rateLimitOf(other, 'anonymous-read', LIMIT.anonymous).r).toBe(LIMIT.anonymous - 1);
    });

    it(`user (GET /v1/invoices): exactly ${LIMIT.user} of ${LIMIT.user + 5}, with the tenant item in both headers`, async () => {
      const logins = await tenantLogins('rl-user');
      const token = await login(api, logins, 'member');
      expect(spendOf(await sequence(LIMIT.user + 5, () => send(api, 'get', '/v1/invoices', { xff: randomIp(), token })), 'user-read', LIMIT.user, { q: TENANT_CAP })).toEqual(exactly(LIMIT.user));
      // Another user of the same tenant has a budget of their own.
      const admin = await login(api, logins, 'admin');
      const res = await send(api, 'get', '/v1/invoices', { xff: randomIp(), token: admin });
      expect(res.status).toBe(200);
      const state = rateLimitOf(res, 'user-read', LIMIT.user, { q: TENANT_CAP });
      expect(state.r).toBe(LIMIT.user - 1);
      // The tenant aggregate counted the member's admitted requests and this one, never the refused ones.
      expect(state.tenant?.r).toBe(TENANT_CAP - LIMIT.user - 1);
    });

    it(`user, concurrently: exactly ${LIMIT.user} of ${LIMIT.user + 5} requests sent at once`, async () => {
      const logins = await tenantLogins('rl-user-burst');
      const token = await login(api, logins, 'member');
      expect(spendOf(await burst(LIMIT.user + 5, () => send(api, 'get', '/v1/invoices', { xff: randomIp(), token })), 'user-read', LIMIT.user, { q: TENANT_CAP })).toEqual(exactly(LIMIT.user));
    });

    for (const tier of ['free', 'standard', 'premium'] as const) {
      const limit = LIMIT[`partner:${tier}`];
      it(`partner ${tier} (GET /partner/v1/invoices): exactly ${limit} of ${limit + 5}`, async () => {
        const logins = await tenantLogins(`rl-partner-${tier}`);
        const client = await partner(logins, tier);
        const key = client.keys[0]!;
        expect(spendOf(await sequence(limit + 5, () => send(api, 'get', '/partner/v1/invoices', { xff: randomIp(), token: key })), `partner-${tier}-read`, limit, { q: TENANT_CAP })).toEqual(exactly(limit));
        // Another client of the same tier and tenant has its own budget.
        const other = await partner(logins, tier);
        const res = await send(api, 'get', '/partner/v1/invoices', { xff: randomIp(), token: other.keys[0]! });
        expect(res.status, `${res.text}`).toBe(200);
        expect(rateLimitOf(res, `partner-${tier}-read`, limit, { q: TENANT_CAP }).r).toBe(limit - 1);
      });
    }

    it(`partner premium, concurrently: exactly ${LIMIT['partner:premium']} of ${LIMIT['partner:premium'] + 5} requests sent at once`, async () => {
      const logins = await tenantLogins('rl-partner-burst');
      const { keys } = await partner(logins, 'premium');
      expect(spendOf(await burst(LIMIT['partner:premium'] + 5, () => send(api, 'get', '/partner/v1/invoices', { xff: randomIp(), token: keys[0]! })), 'partner-premium-read', LIMIT['partner:premium'], { q: TENANT_CAP })).toEqual(exactly(LIMIT['partner:premium']));
    });
  });

  describe('sensitivities are separate budgets', () => {
    it('search counts in the search column, read in the read column, writes in the write column', async () => {
      const logins = await tenantLogins('rl-sensitivity');
      const token = await login(api, logins, 'owner');
      const xff = randomIp();
      const tenant = { q: TENANT_CAP };

      // GET /v1/tickets/search is a search: its own, smaller budget.
      for (let i = 0; i < USER_SEARCH; i++) {
        const res = await send(api, 'get', '/v1/tickets/search?q=lintas', { xff, token });
        expect(res.status, `${res.text}`).toBe(200);
        expect(rateLimitOf(res, 'user-search', USER_SEARCH, tenant).r).toBe(USER_SEARCH - 1 - i);
      }
      const search = await send(api, 'get', '/v1/tickets/search?q=lintas', { xff, token });
      expectRateLimited(search, 'search over its budget');
      expect(rateLimitOf(search, 'user-search', USER_SEARCH, tenant).r).toBe(0);

      // The searches did not spend the read budget, and the refused search did not either.
      expect(spendOf(await sequence(LIMIT.user + 5, () => send(api, 'get', '/v1/invoices', { xff, token })), 'user-read', LIMIT.user, tenant)).toEqual(exactly(LIMIT.user));

      // With read and search spent, a write still has its whole budget.
      const write = await send(api, 'post', '/v1/tickets', { xff, token, body: { subject: 'Printer', body: 'Out of toner' } });
      expect(write.status, `${write.text}`).toBe(201);
      expect(rateLimitOf(write, 'user-write', USER_WRITE, tenant).r).toBe(USER_WRITE - 1);
      // ...and reads stay refused.
      expectRateLimited(await send(api, 'get', '/v1/invoices', { xff, token }), 'read after the write');
    });
  });

  describe('tenant aggregate cap', () => {
    const CAP = 10;
    let capped: TestApi;
    beforeAll(async () => {
      capped = await build({
        TRUSTED_PROXIES: '127.0.0.1',
        RATE_LIMIT_POLICY: JSON.stringify({ user: { read: [1_000, WINDOW_S] }, 'partner:standard': { read: [1_000, WINDOW_S] }, tenant: [CAP, WINDOW_S] }),
      });
    });

    it(`two users and a partner of one tenant share its cap of ${CAP}; a user of another tenant is unaffected`, async () => {
      const first = await tenantLogins('rl-cap');
      const other = await tenantLogins('rl-cap-other');
      const ownerToken = await login(capped, first, 'owner');
      const memberToken = await login(capped, first, 'member');
      const outsider = await login(capped, other, 'member');
      const tenant = { q: CAP };

      for (let i = 0; i < 6; i++) {
        const res = await send(capped, 'get', '/v1/invoices', { xff: randomIp(), token: ownerToken });
        expect(res.status, `${res.text}`).toBe(200);
        expect(rateLimitOf(res, 'user-read', 1_000, tenant).tenant?.r).toBe(CAP - 1 - i);
      }
      for (let i = 0; i < 4; i++) {
        const res = await send(capped, 'get', '/v1/invoices', { xff: randomIp(), token: memberToken });
        expect(res.status, `${res.text}`).toBe(200);
        const state = rateLimitOf(res, 'user-read', 1_000, tenant);
        expect(state.r, "the member's own budget").toBe(1_000 - 1 - i);
        expect(state.tenant?.r, 'the shared tenant budget').toBe(CAP - 7 - i);
      }
      // The tenant's 10 are spent: both users are refused, though each has plenty of their own.
      for (const [who, token] of [['member', memberToken], ['owner', ownerToken], ['member again', memberToken]] as const) {
        const res = await send(capped, 'get', '/v1/invoices', { xff: randomIp(), token });
        expectRateLimited(res, `${who} over the tenant cap`);
        expect(rateLimitOf(res, 'user-read', 1_000, tenant).tenant?.r, `${who}: tenant remaining`).toBe(0);
      }
      // A partner client of the tenant is inside the same cap.
      const partnerClient = await partner(first, 'standard');
      const partnerRes = await send(capped, 'get', '/partner/v1/invoices', { xff: randomIp(), token: partnerClient.keys[0]! });
      expectRateLimited(partnerRes, 'partner over the tenant cap');
      expect(rateLimitOf(partnerRes, 'partner-standard-read', 1_000, tenant)).toMatchObject({ r: 1_000, tenant: { r: 0 } });

      // A request the tenant cap refused costs the principal nothing: the member's point came back.
      const refused = await send(capped, 'get', '/v1/invoices', { xff: randomIp(), token: memberToken });
      expect(rateLimitOf(refused, 'user-read', 1_000, tenant).r).toBe(1_000 - 4);

      const { rows } = await owner.query<{ actor: string; data: { policy: string; exceeded: string } }>(
        "SELECT actor, data FROM audit_events WHERE tenant_id = $1 AND type = 'security.rate_limited' ORDER BY seq",
        [first.tenant.id],
      );
      expect(rows.map((r) => ({ actor: r.actor, policy: r.data.policy, exceeded: r.data.exceeded }))).toEqual([
        { actor: `user:${first.tenant.users.member.id}`, policy: 'user-read', exceeded: 'tenant' },
        { actor: `user:${first.tenant.users.owner.id}`, policy: 'user-read', exceeded: 'tenant' },
        { actor: `partner:${partnerClient.clientId}`, policy: 'partner-standard-read', exceeded: 'tenant' },
      ]);

      // Another tenant's user is not counted against the first tenant's cap.
      const res = await send(capped, 'get', '/v1/invoices', { xff: randomIp(), token: outsider });
      expect(res.status, `${res.text}`).toBe(200);
      expect(rateLimitOf(res, 'user-read', 1_000, tenant).tenant?.r).toBe(CAP - 1);
    });
  });

  describe('bypass attempts', () => {
    it('without a trusted proxy, X-Forwarded-For does not choose the budget: rotating it after exhaustion is still refused', async () => {
      // The socket address (127.0.0.1) is what counts. Every test file shares that address's
      // anonymous counter, so only refusals are asserted here, never how many were admitted.
      const direct = await build({
        TRUSTED_PROXIES: '',
        RATE_LIMIT_POLICY: JSON.stringify({ anonymous: { auth: GENEROUS, write: GENEROUS, read: [3, WINDOW_S], search: GENEROUS, export: GENEROUS } }),
      });
      const exhaust = async (): Promise<request.Response> => {
        for (let i = 0; i < 10; i++) {
          const res = await send(direct, 'get', '/health/live', { xff: randomIp() });
          if (res.status === 429) return res;
        }
        throw new Error('10 anonymous requests from one socket address were all admitted with a budget of 3');
      };
      let refused = await exhaust();
      // Make sure the window does not end while the next requests are made.
      const reset = rateLimitOf(refused, 'anonymous-read', 3).t;
      if (reset < 3) {
        await sleep((reset + 1) * 1000);
        refused = await exhaust();
      }
      expectRateLimited(refused, 'exhausted');
      const spoofs = [randomIp(), randomIp(), '203.0.113.7', '2001:db8::1', `${randomIp()}, ${randomIp()}`, 'unknown'];
      const spoofed = await sequence(spoofs.length, (i) => send(direct, 'get', '/health/live', { xff: spoofs[i]!, headers: { 'x-real-ip': randomIp(), forwarded: `for=${randomIp()}` } }));
      expect(spoofed.map((res) => res.status)).toEqual(spoofs.map(() => 429));
      for (const res of spoofed) expectRateLimited(res, 'spoofed X-Forwarded-For');
    });

    it('behind a trusted proxy, a fake leftmost X-Forwarded-For entry is ignored: the client is counted as itself', async () => {
      const ip = randomIp();
      // Alternating honest and forged requests: if the forged entry were believed, every forged
      // request would start a fresh budget and more than the limit would be admitted.
      expect(spendOf(await sequence(LIMIT.anonymous + 5, (i) => send(api, 'get', '/health/live', { xff: i % 2 === 0 ? ip : `${randomIp()}, ${ip}` })), 'anonymous-read', LIMIT.anonymous)).toEqual(exactly(LIMIT.anonymous));
      for (let i = 0; i < 3; i++) expectRateLimited(await send(api, 'get', '/health/live', { xff: `${randomIp()}, ${randomIp()}, ${ip}` }), 'several forged entries');
    });

    it('after exhaustion, no spelling of the path (case, slashes, query, HEAD) is answered 200', async () => {
      const logins = await tenantLogins('rl-paths');
      const token = await login(api, logins, 'member');
      const xff = randomIp();
      expect(spendOf(await sequence(LIMIT.user + 5, () => send(api, 'get', '/v1/invoices', { xff, token })), 'user-read', LIMIT.user, { q: TENANT_CAP })).toEqual(exactly(LIMIT.user));
      const variants: ['get' | 'head', string][] = [
        ['get', '/V1/invoices'],
        ['get', '/v1/INVOICES'],
        ['get', '/v1/invoices/'],
        ['get', '/v1//invoices'],
        ['get', '//v1/invoices'],
        ['get', '/v1/invoices?x=1'],
        ['get', '/v1/invoices?limit=5'],
        ['get', '/v1/%69nvoices'],
        ['get', '/v1/invoices/.'],
        ['get', '/v1/./invoices'],
        ['get', '/v1/invoices;x=1'],
        ['head', '/v1/invoices'],
      ];
      const seen: Record<string, number> = {};
      for (const [method, path] of variants) {
        const res = await send(api, method, path, { xff, token });
        seen[`${method.toUpperCase()} ${path}`] = res.status;
      }
      // A variant that reaches the handler is refused (429); one that does not is not found (404).
      for (const [variant, status] of Object.entries(seen)) expect([404, 429], `${variant} answered ${status}`).toContain(status);
      // The ones that are the same route are the same budget.
      expect(seen['GET /v1/invoices?x=1']).toBe(429);
      expect(seen['GET /v1/invoices?limit=5']).toBe(429);
      expect(seen['HEAD /v1/invoices']).toBe(429);
    });

    it('rotating between three API keys of one partner client shares one budget', async () => {
      const logins = await tenantLogins('rl-keys');
      const { keys } = await partner(logins, 'standard', 3);
      expect(new Set(keys).size).toBe(3);
      expect(spendOf(await sequence(LIMIT['partner:standard'] + 5, (i) => send(api, 'get', '/partner/v1/invoices', { xff: randomIp(), token: keys[i % 3]! })), 'partner-standard-read', LIMIT['partner:standard'], { q: TENANT_CAP })).toEqual(exactly(LIMIT['partner:standard']));
    });

    it("a client-credentials token spends the same budget as the client's API key", async () => {
      const logins = await tenantLogins('rl-token');
      const client = await partner(logins, 'standard');
      const res = await requestPartnerToken(api, client, { headers: { 'x-forwarded-for': randomIp() } });
      expect(res.status, `${res.text}`).toBe(200);
      const accessToken = (res.body as { access_token: string }).access_token;
      expect(spendOf(await sequence(LIMIT['partner:standard'] + 5, (i) => send(api, 'get', '/partner/v1/invoices', { xff: randomIp(), token: i % 2 === 0 ? client.keys[0]! : accessToken })), 'partner-standard-read', LIMIT['partner:standard'], { q: TENANT_CAP })).toEqual(exactly(LIMIT['partner:standard']));
    });

    it('two API instances on different ports against one Redis share the budget exactly', async () => {
      const second = await build({ TRUSTED_PROXIES: '127.0.0.1', RATE_LIMIT_POLICY: POLICY });
      await api.app.listen(0, '127.0.0.1');
      await second.app.listen(0, '127.0.0.1');
      const urls = [api, second].map((each) => `http://127.0.0.1:${(each.app.getHttpServer().address() as AddressInfo).port}`);
      expect(urls[0]).not.toBe(urls[1]);

      // Sequential, alternating instances: one count.
      const logins = await tenantLogins('rl-instances');
      const token = await login(urls[0]!, logins, 'member');
      expect(spendOf(await sequence(LIMIT.user + 5, (i) => send(urls[i % 2]!, 'get', '/v1/invoices', { xff: randomIp(), token })), 'user-read', LIMIT.user, { q: TENANT_CAP })).toEqual(exactly(LIMIT.user));

      // Concurrent, half on each instance: still exactly the limit.
      const admin = await login(urls[1]!, logins, 'admin');
      expect(spendOf(await burst(LIMIT.user + 5, (i) => send(urls[i % 2]!, 'get', '/v1/invoices', { xff: randomIp(), token: admin })), 'user-read', LIMIT.user, { q: TENANT_CAP })).toEqual(exactly(LIMIT.user));

      // Anonymous clients too (per address), and each owner's refusals are audited once across both instances.
      const ip = randomIp();
      expect(spendOf(await sequence(LIMIT.anonymous + 5, (i) => send(urls[i % 2]!, 'get', '/health/live', { xff: ip })), 'anonymous-read', LIMIT.anonymous)).toEqual(exactly(LIMIT.anonymous));
      const { rows } = await owner.query<{ actor: string }>("SELECT actor FROM audit_events WHERE tenant_id = $1 AND type = 'security.rate_limited' ORDER BY actor", [logins.tenant.id]);
      expect(rows.map((r) => r.actor).sort()).toEqual([`user:${logins.tenant.users.admin.id}`, `user:${logins.tenant.users.member.id}`].sort());
    });
  });

  describe('auditing', () => {
    it('audits and logs the first refusal of a window once; later refusals add nothing', async () => {
      const logins = await tenantLogins('rl-audit');
      const token = await login(api, logins, 'member');
      const user = logins.tenant.users.member;
      const xff = randomIp();
      expect(spendOf(await sequence(LIMIT.user + 5, () => send(api, 'get', '/v1/invoices', { xff, token })), 'user-read', LIMIT.user, { q: TENANT_CAP })).toEqual(exactly(LIMIT.user));
      for (let i = 0; i < 4; i++) expectRateLimited(await send(api, 'get', '/v1/invoices', { xff, token }), 'more refusals');

      const { rows } = await owner.query("SELECT outcome, actor, subject, ip, data FROM audit_events WHERE tenant_id = $1 AND type = 'security.rate_limited'", [logins.tenant.id]);
      expect(rows).toEqual([
        {
          outcome: 'denied',
          actor: `user:${user.id}`,
          subject: null,
          ip: xff,
          data: { policy: 'user-read', exceeded: 'principal', retryAfterS: expect.any(Number) },
        },
      ]);
      expect((rows[0] as { data: { retryAfterS: number } }).data.retryAfterS).toBeGreaterThanOrEqual(1);

      const warnings = logLines().filter((line) => line.event === 'security.rate_limited' && line.owner === `user:${user.id}`);
      expect(warnings).toEqual([
        expect.objectContaining({ level: 40, policy: 'user-read', exceeded: 'principal', tenantId: logins.tenant.id, ip: xff, msg: 'rate limit exceeded' }),
      ]);
    });

    it('logs the first anonymous refusal of a window once (no tenant to audit in)', async () => {
      const ip = randomIp();
      expect(spendOf(await sequence(LIMIT.anonymous + 5, () => send(api, 'get', '/health/live', { xff: ip })), 'anonymous-read', LIMIT.anonymous)).toEqual(exactly(LIMIT.anonymous));
      const warnings = logLines().filter((line) => line.event === 'security.rate_limited' && line.owner === `ip:${ip}`);
      expect(warnings).toEqual([expect.objectContaining({ level: 40, policy: 'anonymous-read', exceeded: 'principal', ip })]);
    });
  });
});

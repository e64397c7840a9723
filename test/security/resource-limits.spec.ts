import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AbuseObserver } from '../../apps/api/src/http/abuse-observer.js';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { insertInvoice, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey, type TestPartnerClient } from '../support/partners.js';
import { oauthErrorOf, problemOf } from '../support/public-api.js';
import { oauthErrorRoutes } from '../../apps/api/src/partner/oauth-error.filter.js';
import { freshIpv4, freshIpv6Prefix, login, multipartFile, policy, send, spoofedIp, tenantWithPassword, type Sent } from './kill-switches/limits.js';
import { tag } from './support/controls.js';

/**
 * Release-gating attacks on resource consumption (OWASP API4:2023) and abuse (API6:2023): the
 * known ways around a rate limit, the anomaly blocks, pagination and array caps, and body limits.
 * Every request goes through Fastify inject from an address of its own (never the loopback address
 * that every other test file shares), so the low limits and blocks set here stay in this file.
 */
const ANONYMOUS_READS = 3;
const USER_READS = 5;
const PARTNER_READS = 4;
const NOT_FOUND_THRESHOLD = 5;
const AUTH_FAILURE_THRESHOLD = 5;
const DOCUMENTS_MAX_BYTES = 64 * 1024;

const LIMITED = {
  RATE_LIMIT_POLICY: policy({ anonymous: { read: [ANONYMOUS_READS, 60] }, user: { read: [USER_READS, 60] }, 'partner:standard': { read: [PARTNER_READS, 60] } }),
};
const DETECTING = {
  ABUSE_WINDOW_S: '60',
  ABUSE_MAX_NOT_FOUND: String(NOT_FOUND_THRESHOLD),
  ABUSE_MAX_AUTH_FAILURES: String(AUTH_FAILURE_THRESHOLD),
  DOCUMENTS_MAX_BYTES: String(DOCUMENTS_MAX_BYTES),
};

const statuses = (responses: Sent[]) => responses.map((res) => res.status);
const repeat = <T>(count: number, value: T): T[] => Array.from({ length: count }, () => value);

async function sequence(count: number, call: (i: number) => Promise<Sent>): Promise<Sent[]> {
  const out: Sent[] = [];
  for (let i = 0; i < count; i++) out.push(await call(i));
  return out;
}

/** A 429 of the rate limiter: problem+json rate_limit.exceeded with Retry-After. */
function expectRateLimited(res: Sent, label: string): void {
  expect(problemOf(res), `${label}`).toEqual({ status: 429, problemJson: true, code: 'rate_limit.exceeded' });
  expect(res.headers['retry-after'], `${label}`).toMatch(/^\d+$/);
}

/** A 429 of an abuse block: problem+json security.blocked with Retry-After. */
function expectBlocked(res: Sent, label: string): void {
  expect(problemOf(res), `${label}: ${res.text}`).toEqual({ status: 429, problemJson: true, code: 'security.blocked' });
  expect(res.headers['retry-after'], `${label}`).toMatch(/^\d+$/);
}

/** POST /partner/oauth/token (client_secret_basic) through inject; the access token. */
async function clientToken(api: TestApi, client: TestPartnerClient, ip: string): Promise<string> {
  const basic = Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64');
  const res = await send(api, 'POST', '/partner/oauth/token', {
    ip,
    headers: { authorization: `Basic ${basic}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials',
  });
  if (res.status !== 200) throw new Error(`token request answered ${res.status}: ${res.text}`);
  return (res.body as { access_token: string }).access_token;
}

describe('resource limits and abuse', () => {
  const owner = ownerPool();
  /** Low rate limits; no trusted proxy: the socket peer is the client. */
  let limited: TestApi;
  /** A second instance with the same limits, sharing Redis. */
  let second: TestApi;
  /** Low rate limits behind a trusted proxy range (10.0.0.0/8). */
  let proxied: TestApi;
  /** Low anomaly thresholds and upload cap, default rate limits and body limit. */
  let detecting: TestApi;

  beforeAll(async () => {
    [limited, second, proxied, detecting] = await Promise.all([
      buildApi({ env: LIMITED }),
      buildApi({ env: LIMITED }),
      buildApi({ env: { ...LIMITED, TRUSTED_PROXIES: '10.0.0.0/8' } }),
      buildApi({ env: DETECTING }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([limited, second, proxied, detecting].filter(Boolean).map((api) => api.close()));
  });

  /** A partner client (standard tier, invoices:read) with `keys` API keys. */
  async function partner(tenant: TestTenant, keys: number): Promise<TestPartnerClient & { keys: string[] }> {
    const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { tier: 'standard', scopes: ['invoices:read'] });
    const made: string[] = [];
    for (let i = 0; i < keys; i++) made.push((await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id)).key);
    return { ...client, keys: made };
  }

  describe(tag('RATE-LIMIT', 'rate-limit bypass attempts'), () => {
    it(tag('CLIENT-IP-TRUST', 'without a trusted proxy, X-Forwarded-For, X-Real-IP and Forwarded do not choose the budget'), async () => {
      const ip = freshIpv4();
      const spoofing = () => ({ 'x-forwarded-for': spoofedIp(), 'x-real-ip': spoofedIp(), forwarded: `for=${spoofedIp()}` });
      const answers = await sequence(ANONYMOUS_READS + 4, () => send(limited, 'GET', '/health/live', { ip, headers: spoofing() }));
      expect(statuses(answers)).toEqual([...repeat(ANONYMOUS_READS, 200), ...repeat(4, 429)]);
      for (const res of answers.slice(ANONYMOUS_READS)) expectRateLimited(res, 'spoofed headers after exhaustion');
      // The budget is the peer's: another address still has its own.
      expect((await send(limited, 'GET', '/health/live', { ip: freshIpv4() })).status).toBe(200);
    });

    it(tag('CLIENT-IP-TRUST', 'behind a trusted proxy, addresses the client prepends to X-Forwarded-For are not believed'), async () => {
      const proxy = `10.9.${Math.floor(Math.random() * 250)}.${Math.floor(Math.random() * 250)}`;
      const client = freshIpv4();
      const answers = await sequence(ANONYMOUS_READS + 4, () => send(proxied, 'GET', '/health/live', { ip: proxy, headers: { 'x-forwarded-for': `${spoofedIp()}, ${spoofedIp()}, ${client}` } }));
      expect(statuses(answers)).toEqual([...repeat(ANONYMOUS_READS, 200), ...repeat(4, 429)]);
      // ...while a peer outside the proxy range cannot name a client at all: it is counted as itself.
      const outsider = freshIpv4();
      const direct = await sequence(ANONYMOUS_READS + 2, () => send(proxied, 'GET', '/health/live', { ip: outsider, headers: { 'x-forwarded-for': spoofedIp() } }));
      expect(statuses(direct)).toEqual([...repeat(ANONYMOUS_READS, 200), 429, 429]);
    });

    it('rotating IPv6 addresses within one /64 shares one budget; another /64 has its own', async () => {
      const prefix = freshIpv6Prefix();
      const answers = await sequence(ANONYMOUS_READS + 5, (i) => send(limited, 'GET', '/health/live', { ip: `${prefix}:${(i + 1).toString(16)}:${(0xbeef + i).toString(16)}::${(i * 7 + 1).toString(16)}` }));
      expect(statuses(answers)).toEqual([...repeat(ANONYMOUS_READS, 200), ...repeat(5, 429)]);
      for (const res of answers.slice(ANONYMOUS_READS)) expectRateLimited(res, 'another address of the same /64');
      expect((await send(limited, 'GET', '/health/live', { ip: `${freshIpv6Prefix()}::1` })).status).toBe(200);
    });

    it('after exhaustion, no spelling of the route (case, trailing slash, double slash, encoding, query, HEAD) is answered 200', async () => {
      const { tenant, password } = await tenantWithPassword('rl-spellings');
      const ip = freshIpv4();
      const token = await login(limited, tenant.users.member.email, password, ip);
      const spent = await sequence(USER_READS + 1, () => send(limited, 'GET', '/v1/invoices', { ip, token }));
      expect(statuses(spent)).toEqual([...repeat(USER_READS, 200), 429]);
      const variants: [string, string][] = [
        ['GET', '/V1/invoices'],
        ['GET', '/v1/INVOICES'],
        ['GET', '/v1/invoices/'],
        ['GET', '/v1//invoices'],
        ['GET', '//v1/invoices'],
        ['GET', '/v1/%69nvoices'],
        ['GET', '/v1/./invoices'],
        ['GET', '/v1/invoices;x=1'],
        ['GET', '/v1/invoices?x=1'],
        ['GET', '/v1/invoices?limit=5'],
        ['GET', '/v1/invoices?status=draft&status=paid'],
        ['HEAD', '/v1/invoices'],
      ];
      const seen: Record<string, number> = {};
      for (const [method, url] of variants) seen[`${method} ${url}`] = (await send(limited, method, url, { ip, token })).status;
      // A spelling that reaches the handler is refused (429); one that does not is a 404 or a 400.
      for (const [variant, status] of Object.entries(seen)) expect([400, 404, 429], `${variant} answered ${status}`).toContain(status);
      expect(seen['GET /v1/invoices?x=1'], 'an unknown query parameter').not.toBe(200);
      expect(seen['GET /v1/invoices?limit=5'], 'same route, other query').toBe(429);
      expect(seen['HEAD /v1/invoices'], 'HEAD of the route').toBe(429);
    });

    it("switching between a partner client's API keys and its client-credentials token spends one budget", async () => {
      const { tenant } = await tenantWithPassword('rl-partner-switch');
      const client = await partner(tenant, 2);
      const token = await clientToken(limited, client, freshIpv4());
      const credentials = [client.keys[0]!, token, client.keys[1]!];
      const answers = await sequence(PARTNER_READS + 5, (i) => send(limited, 'GET', '/partner/v1/invoices', { ip: freshIpv4(), token: credentials[i % 3]! }));
      expect(statuses(answers)).toEqual([...repeat(PARTNER_READS, 200), ...repeat(5, 429)]);
      for (const res of answers.slice(PARTNER_READS)) expectRateLimited(res, 'another credential of the client');
    });

    it('two API instances sharing Redis share each budget: alternating between them gains nothing', async () => {
      const { tenant, password } = await tenantWithPassword('rl-instances');
      const ip = freshIpv4();
      const token = await login(limited, tenant.users.member.email, password, ip);
      const instances = [limited, second];
      const users = await sequence(USER_READS + 4, (i) => send(instances[i % 2]!, 'GET', '/v1/invoices', { ip, token }));
      expect(statuses(users)).toEqual([...repeat(USER_READS, 200), ...repeat(4, 429)]);
      // Concurrently too, for an anonymous address.
      const anonymous = freshIpv4();
      const burst = await Promise.all(Array.from({ length: ANONYMOUS_READS + 5 }, (_, i) => send(instances[i % 2]!, 'GET', '/health/live', { ip: anonymous })));
      expect(statuses(burst).filter((status) => status === 200)).toHaveLength(ANONYMOUS_READS);
      expect(statuses(burst).filter((status) => status === 429)).toHaveLength(5);
    });
  });

  describe(tag('ABUSE-DETECTION', 'anomaly blocks'), () => {
    /** One request to the detecting app, counted by the detector before the next one. */
    async function observed(method: string, url: string, options: Parameters<typeof send>[3]): Promise<Sent> {
      const res = await send(detecting, method, url, options);
      await detecting.app.get(AbuseObserver).settled();
      return res;
    }

    it('a user walking invoice ids is blocked: every further request, and a new session of the same user, is refused', async () => {
      const { tenant, password } = await tenantWithPassword('abuse-user');
      const invoiceId = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
      const ip = freshIpv4();
      const token = await login(detecting, tenant.users.member.email, password, ip);
      expect((await observed('GET', `/v1/invoices/${invoiceId}`, { ip, token })).status, 'a real invoice before the walk').toBe(200);

      const walk = await sequence(NOT_FOUND_THRESHOLD + 3, () => observed('GET', `/v1/invoices/${randomUUID()}`, { ip, token }));
      expect(statuses(walk)).toEqual([...repeat(NOT_FOUND_THRESHOLD + 1, 404), 429, 429]);
      for (const res of walk.slice(NOT_FOUND_THRESHOLD + 1)) expectBlocked(res, 'a guess after the block');

      // Blocked means blocked: legitimate reads and writes are refused too.
      expectBlocked(await observed('GET', `/v1/invoices/${invoiceId}`, { ip, token }), 'a real invoice');
      expectBlocked(await observed('GET', '/v1/invoices', { ip, token }), 'the list');
      expectBlocked(await observed('POST', '/v1/tickets', { ip, token, body: { subject: 'x', body: 'y' } }), 'a write');
      // A new session from another address is the same principal.
      const otherIp = freshIpv4();
      const fresh = await login(detecting, tenant.users.member.email, password, otherIp);
      expectBlocked(await observed('GET', '/v1/invoices', { ip: otherIp, token: fresh }), 'a new session of the same user');
      // Colleagues are not affected.
      const colleague = await login(detecting, tenant.users.viewer.email, password, freshIpv4());
      expect((await observed('GET', '/v1/invoices', { ip, token: colleague })).status, 'a colleague at the same address').toBe(200);
    });

    it("a partner walking invoice ids with one API key is blocked on every credential of the client: other keys and client tokens", async () => {
      const { tenant } = await tenantWithPassword('abuse-partner');
      const client = await partner(tenant, 2);
      const clientAccess = await clientToken(detecting, client, freshIpv4());
      const walk = await sequence(NOT_FOUND_THRESHOLD + 2, () => observed('GET', `/partner/v1/invoices/${randomUUID()}`, { ip: freshIpv4(), token: client.keys[0]! }));
      expect(statuses(walk)).toEqual([...repeat(NOT_FOUND_THRESHOLD + 1, 404), 429]);
      expectBlocked(await observed('GET', '/partner/v1/invoices', { ip: freshIpv4(), token: client.keys[1]! }), 'the second API key');
      expectBlocked(await observed('GET', '/partner/v1/invoices', { ip: freshIpv4(), token: clientAccess }), 'a client-credentials token issued before the walk');
      // Another client of the same tenant keeps working.
      const other = await partner(tenant, 1);
      expect((await observed('GET', '/partner/v1/invoices', { ip: freshIpv4(), token: other.keys[0]! })).status).toBe(200);
    });

    it('a 401 storm from one address blocks its unauthenticated traffic; a valid credential sent from it is judged by its own principal', async () => {
      const { tenant, password } = await tenantWithPassword('abuse-storm');
      const ip = freshIpv4();
      const valid = await login(detecting, tenant.users.member.email, password, freshIpv4());
      const storm = await sequence(AUTH_FAILURE_THRESHOLD + 3, (i) => observed('GET', '/v1/invoices', { ip, token: `guess-${i}-${randomUUID()}` }));
      expect(statuses(storm)).toEqual([...repeat(AUTH_FAILURE_THRESHOLD + 1, 401), 429, 429]);
      expectBlocked(await observed('GET', '/v1/invoices', { ip }), 'no credential from the blocked address');
      // A colleague behind the same address (office NAT, CGNAT) is not refused for the guesser.
      expect((await observed('GET', '/v1/invoices', { ip, token: valid })).status, 'a valid token from the blocked address').toBe(200);
      expect((await observed('GET', '/v1/invoices', { ip: freshIpv4(), token: valid })).status, 'the same token from another address').toBe(200);
    });
  });

  describe(tag('INPUT-VALIDATION', 'pagination and array caps'), () => {
    let token: string;
    let partnerKey: string;
    const ip = freshIpv4();
    beforeAll(async () => {
      const { tenant, password } = await tenantWithPassword('caps');
      token = await login(detecting, tenant.users.owner.email, password, ip);
      partnerKey = (await partner(tenant, 1)).keys[0]!;
    });

    it('GET /v1/members is paged like every list: pages follow nextCursor without overlap, up to every member', async () => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await send(detecting, 'GET', `/v1/members?limit=3${cursor ? `&cursor=${cursor}` : ''}`, { ip, token });
        expect(res.status, `${res.text}`).toBe(200);
        const body = res.body as { items: { id: string }[]; nextCursor: string | null };
        expect(body.items.length).toBeLessThanOrEqual(3);
        seen.push(...body.items.map((m) => m.id));
        cursor = body.nextCursor;
      } while (cursor);
      expect(seen).toHaveLength(4);
      expect(new Set(seen).size).toBe(4);
    });

    it.each(['/v1/invoices', '/v1/tickets', '/v1/documents', '/v1/security/blocks', '/v1/members'])('GET %s?limit above the maximum of 100: 400 problem+json', async (route) => {
      expect((await send(detecting, 'GET', `${route}?limit=100`, { ip, token })).status, 'limit=100').toBe(200);
      for (const limit of ['101', '1000000', '1e9', '-1', '0']) {
        const res = await send(detecting, 'GET', `${route}?limit=${limit}`, { ip, token });
        expect(problemOf(res), `limit=${limit}: ${res.text}`).toMatchObject({ status: 400, problemJson: true });
      }
    });

    it('GET /partner/v1/invoices?limit above the maximum: 400 problem+json', async () => {
      for (const limit of ['101', '1000000']) {
        const res = await send(detecting, 'GET', `/partner/v1/invoices?limit=${limit}`, { ip, token: partnerKey });
        expect(problemOf(res), `limit=${limit}: ${res.text}`).toMatchObject({ status: 400, problemJson: true });
      }
    });

    it('an invoice with 10,000 lines (within the body limit) is refused 400, nothing created', async () => {
      const line = { description: 'x', quantity: 1, unitPriceMinor: 1 };
      const body = { number: `HUGE-${Date.now()}`, customer: { name: 'PT Banjir' }, lines: repeat(10_000, line) };
      const res = await send(detecting, 'POST', '/v1/invoices', { ip, token, body });
      expect(problemOf(res), `${res.text.slice(0, 300)}`).toMatchObject({ status: 400, problemJson: true });
      const list = await send(detecting, 'GET', '/v1/invoices', { ip, token });
      expect((list.body as { items: { number: string }[] }).items.map((i) => i.number)).not.toContain(body.number);
    });

    it('a field expecting a string given a 100,000-element array is refused 400 without echoing it', async () => {
      const res = await send(detecting, 'POST', '/v1/tickets', { ip, token, body: { subject: repeat(100_000, 'a'), body: 'y' } });
      expect(problemOf(res)).toMatchObject({ status: 400, problemJson: true });
      expect(res.text.length, 'the problem stays small').toBeLessThan(2_000);
    });
  });

  describe(tag('BODY-LIMIT', 'oversized bodies'), () => {
    const big = JSON.stringify({ padding: 'a'.repeat(1_100_000) });

    it.each([
      ['anonymous', 'POST', '/v1/auth/login'],
      ['authenticated', 'POST', '/v1/invoices'],
      ['partner', 'POST', '/partner/v1/invoices'],
      ['token endpoint', 'POST', '/partner/oauth/token'],
    ])('%s: %s %s with a body over BODY_LIMIT_BYTES is 413 problem+json (token endpoint: RFC 6749 JSON), not echoed', async (_label, method, url) => {
      const res = await send(detecting, method, url, { ip: freshIpv4(), headers: { 'content-type': 'application/json' }, body: big });
      const errorOf = oauthErrorRoutes(detecting.app).has(`${method} ${url}`) ? oauthErrorOf : problemOf;
      expect(errorOf(res), `${res.text.slice(0, 300)}`).toMatchObject({ status: 413, problemJson: true });
      expect(res.text).not.toContain('aaaa');
    });

    it('a chunked body without Content-Length is cut off while it streams: 413, the rest is never read', async () => {
      await detecting.app.listen(0, '127.0.0.1');
      const { port } = detecting.app.getHttpServer().address() as AddressInfo;
      const chunk = 'a'.repeat(64 * 1024);
      let written = 0;
      const answer = await new Promise<{ status: number; contentType: string; text: string }>((resolve, reject) => {
        const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/auth/login', headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' } }, (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (data: string) => (text += data));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type']), text }));
        });
        req.on('error', reject);
        req.write('{"padding":"');
        // Up to 8 MiB, eight times the limit; the server answers (and stops reading) long before.
        const pump = () => {
          while (written < 8 * 1024 * 1024 && !req.destroyed) {
            written += chunk.length;
            if (!req.write(chunk)) return void req.once('drain', pump);
          }
          req.end('"}');
        };
        pump();
      }).catch((error: unknown) => ({ status: -1, contentType: '', text: String(error) }));
      // A 413 problem; or, should the socket be reset while the client still writes, the hang-up.
      const outcome = answer.status === -1 ? `hung up: ${answer.text}` : `${answer.status} ${answer.contentType}`;
      expect(outcome, `${answer.text.slice(0, 300)}`).toMatch(/^(413 application\/problem\+json|hung up: .*(ECONNRESET|EPIPE|socket hang up))/);
    });

    it('an upload over DOCUMENTS_MAX_BYTES is 413 upload.too_large, nothing stored', async () => {
      const { tenant, password } = await tenantWithPassword('body-upload');
      const ip = freshIpv4();
      const token = await login(detecting, tenant.users.member.email, password, ip);
      const form = multipartFile({ filename: 'big.txt', type: 'text/plain', content: Buffer.alloc(DOCUMENTS_MAX_BYTES + 1, 0x61) });
      const res = await send(detecting, 'POST', '/v1/documents', { ip, token, headers: { 'content-type': form.contentType }, body: form.body });
      expect(problemOf(res)).toEqual({ status: 413, problemJson: true, code: 'upload.too_large' });
      const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM documents WHERE tenant_id = $1', [tenant.id]);
      expect(rows[0]!.n).toBe(0);
    });
  });
});

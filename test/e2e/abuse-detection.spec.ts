import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PrismaService, type MembershipRole } from '@benteng/database';
import { AbuseDetector } from '@benteng/security';
import { AbuseObserver } from '../../apps/api/src/http/abuse-observer.js';
import { buildApi, type TestApi } from '../support/api.js';
import { PROBLEM_JSON, randomIp } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { insertInvoice } from '../support/factories.js';
import { createTenantLogins, type TenantLogins } from '../support/tenants.js';
import { createPartnerClient, createPartnerKey, requestPartnerToken } from '../support/partners.js';
import { tag } from '../security/support/controls.js';

/**
 * Abuse detection (libs/security/src/abuse-detector.ts, apps/api/src/http/abuse-observer.ts,
 * libs/security/src/security-blocks.service.ts): id enumeration and credential storms place a
 * block that the next request meets as 429 security.blocked, recorded, audited, announced and
 * logged once; legitimate traffic of the same volume places none. An address blocked for failures
 * without a valid credential refuses unauthenticated traffic only: the people behind it who hold
 * valid credentials are still served (apps/api/src/http/gate/address-block.stage.ts).
 *
 * The thresholds are the production defaults (libs/config/src/config.schema.ts), set explicitly
 * because setup-env raises them for every other file. Every request carries its own
 * X-Forwarded-For (the app trusts the loopback peer): a block on 127.0.0.1 itself would refuse
 * every other test file's requests for ABUSE_BLOCK_S, so `send` has no way to omit it.
 */
const ABUSE = {
  ABUSE_WINDOW_S: 60,
  ABUSE_MAX_NOT_FOUND: 20,
  ABUSE_MAX_AUTH_FAILURES: 30,
  ABUSE_MAX_DISTINCT_OBJECTS: 300,
  ABUSE_MAX_BURST: 200,
  ABUSE_BURST_WINDOW_S: 5,
  ABUSE_BLOCK_S: 900,
} as const;

interface Send {
  /** The client address, through the trusted loopback proxy. Required: see the file comment. */
  xff: string;
  token?: string;
  body?: object;
}

describe(tag('ABUSE-DETECTION', 'abuse detection'), () => {
  const owner = ownerPool();
  let api: TestApi;
  let observer: AbuseObserver;

  beforeAll(async () => {
    api = await buildApi({ env: { TRUSTED_PROXIES: '127.0.0.1', ...Object.fromEntries(Object.entries(ABUSE).map(([k, v]) => [k, String(v)])) } });
    observer = api.app.get(AbuseObserver);
  });
  afterAll(() => api.close());

  /** One request; waits until the abuse detector has counted it, so each block lands at an exact request. */
  async function send(method: 'get' | 'post', path: string, options: Send): Promise<request.Response> {
    let test = request(api.app.getHttpServer())[method](path).set('x-forwarded-for', options.xff);
    if (options.token !== undefined) test = test.set('authorization', `Bearer ${options.token}`);
    const res = options.body === undefined ? await test : await test.send(options.body);
    await new Promise((resolve) => setImmediate(resolve));
    await observer.settled();
    return res;
  }

  const tenantLogins = (label: string) => createTenantLogins(owner, label);
  async function login(logins: TenantLogins, role: MembershipRole, xff: string): Promise<string> {
    const res = await send('post', '/v1/auth/login', { xff, body: { email: logins.tenant.users[role].email, password: logins.password } });
    if (res.status !== 200) throw new Error(`login answered ${res.status}: ${res.text}`);
    return (res.body as { accessToken: string }).accessToken;
  }

  /** A 429 of a block: problem+json security.blocked, Retry-After close to the whole ABUSE_BLOCK_S. */
  function expectBlocked(res: request.Response, label: string): void {
    expect(res.status, `${label}: status (${res.text})`).toBe(429);
    expect(res.headers['content-type'], `${label}: content type`).toMatch(PROBLEM_JSON);
    expect(res.body, `${label}: problem`).toMatchObject({ status: 429, code: 'security.blocked' });
    expect(res.headers['retry-after'], `${label}: Retry-After`).toMatch(/^\d+$/);
    const retryAfter = Number(res.headers['retry-after']);
    expect(retryAfter, `${label}: Retry-After`).toBeGreaterThan(ABUSE.ABUSE_BLOCK_S - 30);
    expect(retryAfter, `${label}: Retry-After`).toBeLessThanOrEqual(ABUSE.ABUSE_BLOCK_S);
  }

  /** `count` requests one after another. */
  async function walk(count: number, call: (i: number) => Promise<request.Response>): Promise<request.Response[]> {
    const responses: request.Response[] = [];
    for (let i = 0; i < count; i++) responses.push(await call(i));
    return responses;
  }

  /** Compresses a status sequence for one readable assertion: [[404, 21], [429, 29]]. */
  function runs(responses: request.Response[]): [number, number][] {
    const out: [number, number][] = [];
    for (const { status } of responses) {
      const last = out.at(-1);
      if (last && last[0] === status) last[1]++;
      else out.push([status, 1]);
    }
    return out;
  }

  /** Everything recorded about blocks in one tenant, as the owner connection sees it. */
  async function recorded(tenantId: string) {
    const blocks = await owner.query<{ principal: string; ip: string | null; signal: string; observed: number; threshold: number; window_s: number; lifetime_s: number; lifted_at: Date | null; id: string }>(
      'SELECT id, principal, ip, signal, observed, threshold, window_s, extract(epoch FROM expires_at - blocked_at)::int AS lifetime_s, lifted_at FROM security_blocks WHERE tenant_id = $1',
      [tenantId],
    );
    const audits = await owner.query<{ outcome: string; actor: string; subject: string; ip: string; data: Record<string, unknown> }>(
      "SELECT outcome, actor, subject, ip, data FROM audit_events WHERE tenant_id = $1 AND type = 'security.principal_blocked'",
      [tenantId],
    );
    const events = await owner.query<{ subject_type: string; subject_id: string; payload: Record<string, unknown> }>(
      "SELECT subject_type, subject_id, payload FROM domain_events WHERE tenant_id = $1 AND type = 'security.principal_blocked'",
      [tenantId],
    );
    return { blocks: blocks.rows, audits: audits.rows, events: events.rows };
  }

  const blockWarnings = (subject: string) => api.logs.lines.filter((line) => line.event === 'security.principal_blocked' && line.subject === subject);

  /** How a webhook payload names a principal: a member of the tenant by membership id, or a partner client. */
  async function webhookSubjectOf(tenantId: string, principal: string): Promise<Record<string, unknown>> {
    const [kind, id] = principal.split(':');
    if (kind !== 'user') return { kind: 'partner_client', clientId: id };
    const { rows } = await owner.query<{ id: string }>('SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenantId, id]);
    return { kind: 'member', memberId: rows[0]!.id };
  }

  /** Asserts the one block of `principal` in its tenant: row, audit event, outbox event and log line. */
  async function expectOneBlockRecorded(tenantId: string, principal: string, ip: string): Promise<void> {
    const { blocks, audits, events } = await recorded(tenantId);
    const window = ABUSE.ABUSE_WINDOW_S;
    expect(blocks).toEqual([
      {
        id: expect.any(String),
        principal,
        ip,
        signal: 'not_found',
        observed: ABUSE.ABUSE_MAX_NOT_FOUND + 1,
        threshold: ABUSE.ABUSE_MAX_NOT_FOUND,
        window_s: window,
        lifetime_s: ABUSE.ABUSE_BLOCK_S,
        lifted_at: null,
      },
    ]);
    const blockId = blocks[0]!.id;
    expect(audits).toEqual([
      {
        outcome: 'denied',
        actor: 'system:security',
        subject: principal,
        ip,
        data: { signal: 'not_found', observed: ABUSE.ABUSE_MAX_NOT_FOUND + 1, threshold: ABUSE.ABUSE_MAX_NOT_FOUND, windowS: window, blockS: ABUSE.ABUSE_BLOCK_S, blockId },
      },
    ]);
    expect(events).toEqual([
      {
        subject_type: 'security_block',
        subject_id: blockId,
        payload: { id: blockId, subject: await webhookSubjectOf(tenantId, principal), signal: 'not_found', blockedAt: expect.any(String), expiresAt: expect.any(String) },
      },
    ]);
    expect(blockWarnings(principal)).toEqual([
      expect.objectContaining({ level: 40, subject: principal, signal: 'not_found', observed: ABUSE.ABUSE_MAX_NOT_FOUND + 1, threshold: ABUSE.ABUSE_MAX_NOT_FOUND, blockS: ABUSE.ABUSE_BLOCK_S, ip }),
    ]);
  }

  /** GET /v1/security/blocks as the tenant's owner lists the block. */
  async function expectListedToOwner(logins: TenantLogins, principal: string, ip: string): Promise<void> {
    const token = await login(logins, 'owner', randomIp());
    const res = await send('get', '/v1/security/blocks', { xff: randomIp(), token });
    expect(res.status, `${res.text}`).toBe(200);
    expect(res.body).toMatchObject({
      items: [
        {
          subject: await webhookSubjectOf(logins.tenant.id, principal),
          ip,
          signal: 'not_found',
          observed: ABUSE.ABUSE_MAX_NOT_FOUND + 1,
          threshold: ABUSE.ABUSE_MAX_NOT_FOUND,
          windowS: ABUSE.ABUSE_WINDOW_S,
          liftedAt: null,
          status: 'active',
        },
      ],
      nextCursor: null,
    });
  }

  describe('a user walking random ids on /v1', () => {
    it(`is blocked right after the ${ABUSE.ABUSE_MAX_NOT_FOUND + 1}st 404; another user of the tenant is unaffected`, async () => {
      const logins = await tenantLogins('abuse-user');
      const ip = randomIp();
      const token = await login(logins, 'member', ip);
      const user = `user:${logins.tenant.users.member.id}`;

      const responses = await walk(50, () => send('get', `/v1/invoices/${randomUUID()}`, { xff: ip, token }));
      expect(runs(responses)).toEqual([
        [404, ABUSE.ABUSE_MAX_NOT_FOUND + 1],
        [429, 50 - ABUSE.ABUSE_MAX_NOT_FOUND - 1],
      ]);
      for (const res of responses.slice(ABUSE.ABUSE_MAX_NOT_FOUND + 1)) expectBlocked(res, 'during the walk');

      // The user is blocked on every route, from any address.
      expectBlocked(await send('get', '/v1/invoices', { xff: ip, token }), 'list from the same address');
      expectBlocked(await send('get', '/v1/me', { xff: randomIp(), token }), 'another route from another address');
      expectBlocked(await send('post', '/v1/tickets', { xff: randomIp(), token, body: { subject: 'x', body: 'y' } }), 'a write');

      // Another user of the same tenant (from their own address) works as before.
      const admin = await login(logins, 'admin', randomIp());
      const adminIp = randomIp();
      const list = await send('get', '/v1/invoices', { xff: adminIp, token: admin });
      expect(list.status, `${list.text}`).toBe(200);
      expect((await send('get', `/v1/invoices/${randomUUID()}`, { xff: adminIp, token: admin })).status).toBe(404);

      await expectOneBlockRecorded(logins.tenant.id, user, ip);
      await expectListedToOwner(logins, user, ip);
    });
  });

  /** A partner client of the tenant with the given scopes and one API key. */
  async function partnerKey(logins: TenantLogins, scopes: ('invoices:read' | 'tickets:read' | 'tickets:write')[] = ['invoices:read', 'tickets:read', 'tickets:write']) {
    const creator = logins.tenant.users.owner.id;
    const client = await createPartnerClient(owner, logins.tenant.id, creator, { scopes });
    const { key } = await createPartnerKey(owner, logins.tenant.id, client.clientId, creator);
    return { client, clientId: client.clientId, key, principal: `partner:${client.clientId}` };
  }

  describe('a partner walking random invoice ids', () => {
    it(`is blocked right after the ${ABUSE.ABUSE_MAX_NOT_FOUND + 1}st 404, on every partner route, recorded, audited, announced and logged once`, async () => {
      const logins = await tenantLogins('abuse-partner');
      const walker = await partnerKey(logins);
      const ip = randomIp();

      const responses = await walk(50, () => send('get', `/partner/v1/invoices/${randomUUID()}`, { xff: ip, token: walker.key }));
      expect(runs(responses)).toEqual([
        [404, ABUSE.ABUSE_MAX_NOT_FOUND + 1],
        [429, 50 - ABUSE.ABUSE_MAX_NOT_FOUND - 1],
      ]);
      for (const res of responses.slice(ABUSE.ABUSE_MAX_NOT_FOUND + 1)) expectBlocked(res, 'during the walk');

      // Every partner route refuses the client, from any address, whatever it asks.
      expectBlocked(await send('get', '/partner/v1/invoices', { xff: ip, token: walker.key }), 'list');
      expectBlocked(await send('get', '/partner/v1/tickets', { xff: randomIp(), token: walker.key }), 'tickets from another address');
      expectBlocked(await send('post', '/partner/v1/tickets', { xff: randomIp(), token: walker.key, body: { subject: 'x', body: 'y' } }), 'a write');

      // A client of the same tenant is not affected.
      const bystander = await partnerKey(logins);
      const list = await send('get', '/partner/v1/invoices', { xff: randomIp(), token: bystander.key });
      expect(list.status, `${list.text}`).toBe(200);

      // The refused requests are not counted again: still one block, one row, one event.
      await expectOneBlockRecorded(logins.tenant.id, walker.principal, ip);
      await expectListedToOwner(logins, walker.principal, ip);
    });

    it('legitimate traffic of the same volume (50 reads of 50 existing invoices) places no block', async () => {
      const logins = await tenantLogins('abuse-legit');
      const ids: string[] = [];
      for (let i = 0; i < 50; i++) ids.push(await insertInvoice(owner, logins.tenant.id, { createdById: logins.tenant.users.owner.id, number: `LEGIT-${i}-${randomBytes(3).toString('hex')}` }));
      const reader = await partnerKey(logins, ['invoices:read']);
      const ip = randomIp();

      const responses = await walk(50, (i) => send('get', `/partner/v1/invoices/${ids[i]!}`, { xff: ip, token: reader.key }));
      expect(runs(responses)).toEqual([[200, 50]]);
      // Reading them all again (same objects) and listing still works.
      const again = await walk(10, (i) => send('get', `/partner/v1/invoices/${ids[i]!}`, { xff: ip, token: reader.key }));
      expect(runs(again)).toEqual([[200, 10]]);
      const list = await send('get', '/partner/v1/invoices', { xff: ip, token: reader.key });
      expect(list.status, `${list.text}`).toBe(200);

      expect(await recorded(logins.tenant.id)).toEqual({ blocks: [], audits: [], events: [] });
      expect(blockWarnings(reader.principal)).toEqual([]);
      expect(blockWarnings(`ip:${ip}`)).toEqual([]);
    });
  });

  describe(tag('ABUSE-SHARED-ADDRESS', 'a 401 storm from one address shared with other people (an office NAT, a carrier CGNAT)'), () => {
    const base32 = 'abcdefghijklmnopqrstuvwxyz234567';
    const wellFormed = () => `bt_test_${Array.from(randomBytes(12), (b) => base32[b % 32]).join('')}_${randomBytes(32).toString('base64url')}`;

    /** 40 refused credentials of every shape from `ip`: the address is blocked right after the 31st. */
    async function storm(ip: string, validKey: string): Promise<void> {
      // Guesses of every shape: well-formed unknown keys, the valid key's prefix with a wrong secret, junk.
      const guesses = (i: number) => (i % 3 === 0 ? wellFormed() : i % 3 === 1 ? `${validKey.slice(0, 21)}${randomBytes(32).toString('base64url')}` : `junk-${randomBytes(8).toString('hex')}`);
      const responses = await walk(40, (i) => send('get', '/partner/v1/invoices', { xff: ip, token: guesses(i) }));
      expect(runs(responses)).toEqual([
        [401, ABUSE.ABUSE_MAX_AUTH_FAILURES + 1],
        [429, 40 - ABUSE.ABUSE_MAX_AUTH_FAILURES - 1],
      ]);
      for (const res of responses.slice(ABUSE.ABUSE_MAX_AUTH_FAILURES + 1)) expectBlocked(res, 'guess after the block');
    }

    it(`blocks the address's unauthenticated traffic after ${ABUSE.ABUSE_MAX_AUTH_FAILURES + 1} refused credentials, while every valid credential behind it is still served`, async () => {
      const logins = await tenantLogins('abuse-storm');
      const neighbour = await tenantLogins('abuse-storm-neighbour');
      const valid = await partnerKey(logins);
      const ip = randomIp();
      // People of two tenants behind the attacker's address, signed in before the storm.
      const memberToken = await login(logins, 'member', ip);
      const neighbourToken = await login(neighbour, 'admin', ip);
      const clientToken = await partnerTokenFrom(valid.client, ip);

      await storm(ip, valid.key);

      // The attacker gets nothing more by attaching a credential that does not verify, or none, and
      // each such refusal costs what verifying the credential costs: no database work for junk, a
      // bad signature or no credential; one key lookup for a well-formed key.
      const queries = vi.spyOn(api.app.get(PrismaService).client, '$queryRaw');
      try {
        expectBlocked(await send('get', '/partner/v1/invoices', { xff: ip, token: `junk-${randomBytes(8).toString('hex')}` }), 'a junk key');
        expectBlocked(await send('get', '/partner/v1/invoices', { xff: ip }), 'no credential on a partner route');
        expectBlocked(await send('get', '/v1/invoices', { xff: ip, token: `${memberToken.slice(0, -4)}AAAA` }), 'a tampered access token');
        expectBlocked(await send('get', '/v1/me', { xff: ip }), 'no credential on a public route');
        expectBlocked(await send('get', '/health/live', { xff: ip }), 'an anonymous route');
        expect(queries).not.toHaveBeenCalled();
        expectBlocked(await send('get', '/partner/v1/invoices', { xff: ip, token: wellFormed() }), 'another unknown key');
        expect(queries).toHaveBeenCalledTimes(1);
      } finally {
        queries.mockRestore();
      }

      // Valid credentials from the same address are judged by their own principal: served.
      const served = [
        ['partner API key', await send('get', '/partner/v1/invoices', { xff: ip, token: valid.key })],
        ['partner client-credentials token', await send('get', '/partner/v1/invoices', { xff: ip, token: clientToken })],
        ['user of the tenant', await send('get', '/v1/invoices', { xff: ip, token: memberToken })],
        ["user of another tenant", await send('get', '/v1/invoices', { xff: ip, token: neighbourToken })],
      ] as const;
      expect(served.map(([who, res]) => [who, res.status])).toEqual(served.map(([who]) => [who, 200]));
      // Signing in is the password's business (and the login throttle's), not the address block's.
      const freshLogin = await send('post', '/v1/auth/login', { xff: ip, body: { email: logins.tenant.users.owner.email, password: logins.password } });
      expect(freshLogin.status, `${freshLogin.text}`).toBe(200);

      // An address has no tenant: the block is logged once, not recorded in any tenant.
      expect(blockWarnings(`ip:${ip}`)).toEqual([
        expect.objectContaining({ level: 40, signal: 'auth_failure', observed: ABUSE.ABUSE_MAX_AUTH_FAILURES + 1, threshold: ABUSE.ABUSE_MAX_AUTH_FAILURES, blockS: ABUSE.ABUSE_BLOCK_S, ip }),
      ]);
      expect(await recorded(logins.tenant.id)).toEqual({ blocks: [], audits: [], events: [] });
      expect(blockWarnings(valid.principal)).toEqual([]);
    });

    it('an explicit deny of the address (an operator\'s, not the detector\'s) still refuses valid credentials there', async () => {
      const logins = await tenantLogins('abuse-deny');
      const valid = await partnerKey(logins);
      const ip = randomIp();
      const token = await login(logins, 'member', ip);
      await api.app.get(AbuseDetector).deny(ip, ABUSE.ABUSE_BLOCK_S, 'operator:test');

      expectBlocked(await send('get', '/partner/v1/invoices', { xff: ip, token: valid.key }), 'valid key at a denied address');
      expectBlocked(await send('get', '/v1/invoices', { xff: ip, token }), 'valid user at a denied address');
      expectBlocked(await send('post', '/v1/auth/login', { xff: ip, body: { email: logins.tenant.users.owner.email, password: logins.password } }), 'login at a denied address');
      // Elsewhere the same credentials work: the deny is the address's, not theirs.
      expect((await send('get', '/partner/v1/invoices', { xff: randomIp(), token: valid.key })).status).toBe(200);
      expect((await send('get', '/v1/invoices', { xff: randomIp(), token })).status).toBe(200);
      expect(await api.app.get(AbuseDetector).lift({ ip })).toBe(true);
    });
  });

  /** A client-credentials token for the client, requested from `xff`. */
  async function partnerTokenFrom(client: { clientId: string; clientSecret: string }, xff: string): Promise<string> {
    const res = await requestPartnerToken(api, client, { headers: { 'x-forwarded-for': xff } });
    if (res.status !== 200) throw new Error(`token request answered ${res.status}: ${res.text}`);
    return (res.body as { access_token: string }).access_token;
  }
});

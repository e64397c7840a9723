import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, type JWK } from 'jose';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { PasswordHasher, PUBLIC_AUDIENCE } from '@benteng/auth';
import { AppConfig } from '@benteng/config';
import type { TestApi } from '../support/api.js';
import { addMembership, buildAuthApi, Caller, logLinesOf, PROBLEM_JSON, randomPassword, SecretLedger, setPassword, withoutRequestId } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

const owner = ownerPool();
const secrets = new SecretLedger();
const signingKeys = JSON.parse(process.env.AUTH_SIGNING_KEYS!) as JWK[];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The one refusal every failed login gets, whatever the reason. */
const INVALID_CREDENTIALS = {
  type: 'urn:benteng:problem:auth.invalid_credentials',
  title: 'Unauthorized',
  status: 401,
  detail: 'The email or password is incorrect.',
  code: 'auth.invalid_credentials',
};

let api: TestApi;
let config: AppConfig;

beforeAll(async () => {
  api = secrets.watch(await buildAuthApi());
  config = api.app.get(AppConfig);
});
afterAll(() => api?.close());

describe('POST /v1/auth/login', () => {
  it('issues a Bearer pair: an EdDSA at+jwt access token of at most 15 minutes signed by the first key, and an opaque rt.<tenant>.<secret> refresh token', async () => {
    const tenant = await createTenant(owner, 'login');
    const user = tenant.users.member;
    const password = await setPassword(owner, secrets, user.id);
    const client = new Caller(api, secrets);

    const res = await client.login(user.email, password);

    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      tokenType: 'Bearer',
      accessToken: expect.any(String),
      refreshToken: expect.stringMatching(new RegExp(`^rt\\.${tenant.id}\\.[A-Za-z0-9_-]{43}$`)),
      expiresIn: config.ACCESS_TOKEN_TTL_S,
      tenantId: tenant.id,
      role: 'member',
    });
    expect(res.body.expiresIn).toBeLessThanOrEqual(900);

    const token = res.body.accessToken as string;
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'EdDSA', kid: signingKeys[0]!.kid, typ: 'at+jwt' });
    const claims = decodeJwt(token);
    expect(claims).toEqual({
      sub: user.id,
      tid: tenant.id,
      sid: expect.stringMatching(UUID),
      role: 'member',
      aud: PUBLIC_AUDIENCE,
      iss: config.AUTH_ISSUER,
      iat: expect.any(Number),
      exp: expect.any(Number),
      jti: expect.stringMatching(UUID),
    });
    expect(claims.aud).toBe('benteng-public');
    expect(claims.exp! - claims.iat!).toBe(res.body.expiresIn);

    const me = await client.me(token);
    expect(me.status).toBe(200);
    expect(me.body).toMatchObject({ user: { id: user.id, email: user.email }, tenant: { id: tenant.id, slug: tenant.slug }, role: 'member', sessionId: claims.sid });
  });

  it('logs in to the tenant named by `tenant` when the user belongs to several, and to the first membership without it', async () => {
    const first = await createTenant(owner, 'home');
    const second = await createTenant(owner, 'other');
    const stranger = await createTenant(owner, 'stranger');
    const user = first.users.member;
    await addMembership(owner, second.id, user.id, 'admin');
    const password = await setPassword(owner, secrets, user.id);
    const client = new Caller(api, secrets);

    const byDefault = await client.loginOk(user.email, password);
    expect(byDefault).toMatchObject({ tenantId: first.id, role: 'member' });
    expect(decodeJwt(byDefault.accessToken)).toMatchObject({ tid: first.id, role: 'member' });

    const chosen = await client.loginOk(user.email, password, second.slug);
    expect(chosen).toMatchObject({ tenantId: second.id, role: 'admin' });
    expect(decodeJwt(chosen.accessToken)).toMatchObject({ sub: user.id, tid: second.id, role: 'admin' });
    expect(chosen.refreshToken.startsWith(`rt.${second.id}.`)).toBe(true);
    const me = await client.me(chosen.accessToken);
    expect(me.body).toMatchObject({ tenant: { id: second.id, slug: second.slug }, role: 'admin' });

    // A tenant the user does not belong to is just another failed login.
    const elsewhere = await client.login(user.email, password, stranger.slug);
    expect(elsewhere.status).toBe(401);
    expect(withoutRequestId(elsewhere.body)).toEqual(INVALID_CREDENTIALS);
  });

  it('without `tenant`, skips a first membership whose tenant is suspended and logs in to the first active one', async () => {
    const closed = await createTenant(owner, 'closed');
    const open = await createTenant(owner, 'open');
    const user = closed.users.member;
    await addMembership(owner, open.id, user.id, 'viewer');
    await owner.query("UPDATE tenants SET status = 'suspended' WHERE id = $1", [closed.id]);
    const password = await setPassword(owner, secrets, user.id);
    const client = new Caller(api, secrets);

    expect(await client.loginOk(user.email, password)).toMatchObject({ tenantId: open.id, role: 'viewer' });
    // Naming the suspended tenant is an ordinary failed login.
    const named = await client.login(user.email, password, closed.slug);
    expect(named.status).toBe(401);
    expect(withoutRequestId(named.body)).toEqual(INVALID_CREDENTIALS);
  });

  it('publishes the public halves of every signing key, and nothing private, at /.well-known/jwks.json', async () => {
    const res = await new Caller(api, secrets).call('get', '/.well-known/jwks.json');
    expect(res.status).toBe(200);
    expect((res.body.keys as JWK[]).map((k) => k.kid)).toEqual(signingKeys.map((k) => k.kid));
    for (const key of res.body.keys as JWK[]) {
      expect(key).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), kid: expect.any(String), alg: 'EdDSA', use: 'sig' });
    }
    for (const key of signingKeys) expect(res.text).not.toContain(key.d);
  });
});

describe('failed logins', () => {
  /** A tenant with a user for every way a login can fail, plus the password each would need. */
  async function failureCases() {
    const tenant = await createTenant(owner, 'fail');
    const suspended = await createTenant(owner, 'suspended');
    const known = tenant.users.member;
    const knownPassword = await setPassword(owner, secrets, known.id);
    const locked = tenant.users.viewer;
    const lockedPassword = await setPassword(owner, secrets, locked.id);
    await owner.query("UPDATE users SET status = 'locked' WHERE id = $1", [locked.id]);
    const inSuspended = suspended.users.member;
    const suspendedPassword = await setPassword(owner, secrets, inSuspended.id);
    await owner.query("UPDATE tenants SET status = 'suspended' WHERE id = $1", [suspended.id]);
    const client = new Caller(api, secrets);
    return {
      client,
      cases: [
        ['unknown email', () => client.login(`nobody.${randomBytes(6).toString('hex')}@example.test`, knownPassword)],
        ['wrong password', () => client.login(known.email, randomPassword())],
        ['locked user with the right password', () => client.login(locked.email, lockedPassword)],
        ['suspended tenant with the right password', () => client.login(inSuspended.email, suspendedPassword)],
        ['user without a password', () => client.login(tenant.users.admin.email, randomPassword())],
      ] as const,
    };
  }

  it('answers unknown email, wrong password, locked user and suspended tenant with the same 401, apart from the request id', async () => {
    const { cases } = await failureCases();
    const responses: Response[] = [];
    for (const [, attempt] of cases) responses.push(await attempt());

    for (const res of responses) {
      expect(res.status).toBe(401);
      expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.body.requestId).toBe(res.headers['x-request-id']);
      expect(withoutRequestId(res.body)).toEqual(INVALID_CREDENTIALS);
    }
    // Same headers too (names, and values apart from the per-request ones: the date, the id and
    // the caller's remaining rate-limit budget, which every request spends).
    const headersOf = (res: Response) => {
      const { date: _date, 'x-request-id': _id, ratelimit: remaining, ...rest } = res.headers as Record<string, string>;
      return { ...rest, ratelimit: remaining?.replace(/;r=\d+/, ';r=N') };
    };
    for (const res of responses.slice(1)) expect(headersOf(res)).toEqual(headersOf(responses[0]!));
  });

  it('verifies exactly one password hash on every path, the unknown email against the dummy hash', async () => {
    const { cases, client } = await failureCases();
    const hasher = api.app.get(PasswordHasher);
    const verify = vi.spyOn(hasher, 'verify');
    try {
      for (const [name, attempt] of cases) {
        verify.mockClear();
        const res = await attempt();
        expect({ name, status: res.status, verifications: verify.mock.calls.length }).toEqual({ name, status: 401, verifications: 1 });
      }
      verify.mockClear();
      await cases[0][1]();
      expect(verify.mock.calls[0]![0]).toBe(await hasher.dummyHash());

      const tenant = await createTenant(owner, 'ok');
      const password = await setPassword(owner, secrets, tenant.users.owner.id);
      verify.mockClear();
      await client.loginOk(tenant.users.owner.email, password);
      expect(verify).toHaveBeenCalledTimes(1);
    } finally {
      verify.mockRestore();
    }
  });
});

describe(tag('AUTHN-LOGIN-THROTTLE', 'brute force (TRUSTED_PROXIES=127.0.0.1, one X-Forwarded-For address per attempt)'), () => {
  /** LOGIN_MAX_FAILURES_PER_ACCOUNT wrong passwords for one account, each from a new address (a distributed guess). */
  async function failFromManyAddresses(email: string): Promise<void> {
    expect(config.LOGIN_MAX_FAILURES_PER_ACCOUNT).toBe(50);
    for (let i = 0; i < config.LOGIN_MAX_FAILURES_PER_ACCOUNT; i++) {
      const res = await new Caller(api, secrets).login(email, randomPassword());
      expect(res.status).toBe(401);
      expect(withoutRequestId(res.body)).toEqual(INVALID_CREDENTIALS);
    }
  }

  it('refuses the 51st attempt on an account failed 50 times from 50 addresses with 429 and Retry-After, even with the right password from a 51st address; the owner still signs in where they signed in before', async () => {
    const tenant = await createTenant(owner, 'brute');
    const victim = tenant.users.member;
    const password = await setPassword(owner, secrets, victim.id);
    const home = new Caller(api, secrets);
    await home.loginOk(victim.email, password);
    await failFromManyAddresses(victim.email);

    const verify = vi.spyOn(api.app.get(PasswordHasher), 'verify');
    const eleventh = new Caller(api, secrets);
    let res;
    try {
      res = await eleventh.login(victim.email, password);
      // A blocked caller gets no further guess: the password is not even checked.
      expect(verify).not.toHaveBeenCalled();
    } finally {
      verify.mockRestore();
    }
    expect(res.status).toBe(429);
    expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
    expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect(withoutRequestId(res.body)).toEqual({
      type: 'urn:benteng:problem:auth.rate_limited',
      title: 'Too Many Requests',
      status: 429,
      detail: 'Too many attempts. Try again later.',
      code: 'auth.rate_limited',
    });

    // The block is logged (by a digest of the account, not the email) with the client address.
    const line = logLinesOf(api, res).find((l) => l.event === 'auth.rate_limited');
    expect(line).toMatchObject({ msg: 'login throttled', reason: 'account', ip: eleventh.ip, account: expect.any(String) });
    expect(JSON.stringify(line)).not.toContain(victim.email);

    // Another account of the same tenant is unaffected.
    const other = tenant.users.admin;
    const otherPassword = await setPassword(owner, secrets, other.id);
    await new Caller(api, secrets).loginOk(other.email, otherPassword);

    // The distributed guess does not lock the owner out of the address they signed in from.
    await home.loginOk(victim.email, password);
  });

  it('audits the start of the block once in the tenant of the blocked account (auth.rate_limited; docs/architecture.md, invariant 10)', async () => {
    const tenant = await createTenant(owner, 'brute-audit');
    const victim = tenant.users.member;
    const password = await setPassword(owner, secrets, victim.id);
    await failFromManyAddresses(victim.email);
    expect((await new Caller(api, secrets).login(victim.email, password)).status).toBe(429);
    expect((await new Caller(api, secrets).login(victim.email, password)).status).toBe(429);

    // Failed attempts may be audited a moment after their answer (batched): wait for the row.
    await vi.waitFor(async () => {
      const { rows } = await owner.query("SELECT outcome, actor, data FROM audit_events WHERE tenant_id = $1 AND type = 'auth.rate_limited'", [tenant.id]);
      expect(rows).toEqual([{ outcome: 'denied', actor: `user:${victim.id}`, data: { limit: 'account', blockSeconds: config.LOGIN_WINDOW_S } }]);
    }, { timeout: 5000 });
  });

  it(tag('ABUSE-SHARED-ADDRESS', 'a guesser behind the owner\'s shared address (office NAT) is refused there after 10 wrong passwords; the owner signs in from elsewhere, a colleague at that address signs in to their own account'), async () => {
    expect(config.LOGIN_MAX_FAILURES_PER_ACCOUNT_IP).toBe(10);
    const tenant = await createTenant(owner, 'brute-shared');
    const victim = tenant.users.member;
    const colleague = tenant.users.admin;
    const password = await setPassword(owner, secrets, victim.id);
    const colleaguePassword = await setPassword(owner, secrets, colleague.id);
    const office = new Caller(api, secrets);
    for (let i = 0; i < config.LOGIN_MAX_FAILURES_PER_ACCOUNT_IP; i++) expect((await office.login(victim.email, randomPassword())).status).toBe(401);

    // The guesser gets no further guess at that address, not even the right one.
    const refused = await office.login(victim.email, password);
    expect(refused.status).toBe(429);
    expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    const line = logLinesOf(api, refused).find((l) => l.event === 'auth.rate_limited');
    expect(line).toMatchObject({ reason: 'account_ip', ip: office.ip });

    // Nobody else pays for it: the owner elsewhere, a colleague behind the same address.
    await new Caller(api, secrets).loginOk(victim.email, password);
    await new Caller(api, secrets, office.ip).loginOk(colleague.email, colleaguePassword);
    await vi.waitFor(async () => {
      const { rows } = await owner.query("SELECT data FROM audit_events WHERE tenant_id = $1 AND type = 'auth.rate_limited'", [tenant.id]);
      expect(rows).toEqual([{ data: { limit: 'account_ip', blockSeconds: config.LOGIN_WINDOW_S } }]);
    }, { timeout: 5000 });
  });

  it('blocks an unknown email after the same number of failures, so a block does not tell whether an account exists', async () => {
    const email = `ghost.${randomBytes(6).toString('hex')}@example.test`;
    await failFromManyAddresses(email);
    const res = await new Caller(api, secrets).login(email, randomPassword());
    expect(res.status).toBe(429);
    expect(withoutRequestId(res.body)).toMatchObject({ code: 'auth.rate_limited', status: 429 });
    expect(res.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    // No tenant to audit in: the start of the block is in the logs, without the email.
    await vi.waitFor(() => {
      const started = secrets.lines().filter((l) => l.event === 'auth.rate_limited' && l.limit === 'account' && l.outcome === 'denied');
      expect(started.length).toBeGreaterThan(0);
    }, { timeout: 5000 });
    expect(JSON.stringify(secrets.lines())).not.toContain(email);
  });
});

it('never writes an issued token or a password it was sent to the logs', () => {
  expect(secrets.counts.secrets).toBeGreaterThan(10);
  expect(secrets.counts.logLines).toBeGreaterThan(0);
  expect(secrets.leaks()).toEqual([]);
});

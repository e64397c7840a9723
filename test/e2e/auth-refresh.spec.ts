import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { REFRESH_MAX_FAILURES_PER_IP } from '@benteng/security';
import type { TestApi } from '../support/api.js';
import { buildAuthApi, Caller, PROBLEM_JSON, SecretLedger, setPassword, withoutRequestId, type Session } from '../support/auth-client.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

const owner = ownerPool();
const secrets = new SecretLedger();
const clock = new FakeClock();
const DAY_S = 86_400;

/** What every refused refresh gets, whatever the reason. */
const INVALID_REFRESH = {
  type: 'urn:benteng:problem:auth.invalid_refresh_token',
  title: 'Unauthorized',
  status: 401,
  detail: 'The refresh token is invalid or expired. Log in again.',
  code: 'auth.invalid_refresh_token',
};

let api: TestApi;
let config: AppConfig;

beforeAll(async () => {
  api = secrets.watch(await buildAuthApi({ overrides: [{ token: Clock, value: clock }] }));
  config = api.app.get(AppConfig);
});
afterAll(() => api?.close());

async function loggedIn(): Promise<{ tenant: TestTenant; client: Caller; session: Session }> {
  const tenant = await createTenant(owner, 'refresh');
  const password = await setPassword(owner, secrets, tenant.users.member.id);
  const client = new Caller(api, secrets);
  return { tenant, client, session: await client.loginOk(tenant.users.member.email, password) };
}

async function expectInvalidRefresh(client: Caller, refreshToken: string, name = 'refresh'): Promise<void> {
  const res = await client.refresh(refreshToken);
  expect({ name, status: res.status, contentType: res.headers['content-type'], problem: withoutRequestId(res.body) }).toEqual({
    name,
    status: 401,
    contentType: expect.stringMatching(PROBLEM_JSON),
    problem: INVALID_REFRESH,
  });
}

async function sessionRow(tenantId: string, sessionId: string): Promise<{ revoked_at: Date | null; revoked_reason: string | null }> {
  const { rows } = await owner.query('SELECT revoked_at, revoked_reason FROM sessions WHERE tenant_id = $1 AND id = $2', [tenantId, sessionId]);
  return rows[0];
}

describe(tag('AUTHN-REFRESH-ROTATION', 'POST /v1/auth/refresh'), () => {
  it('rotates: a new refresh token and access token for the same session', async () => {
    const { client, session } = await loggedIn();
    const next = await client.refreshOk(session.refreshToken);
    expect(next.refreshToken).not.toBe(session.refreshToken);
    expect(next.refreshToken).toMatch(new RegExp(`^rt\\.${session.tenantId}\\.[A-Za-z0-9_-]{43}$`));
    expect(next.accessToken).not.toBe(session.accessToken);
    expect(next).toMatchObject({ tokenType: 'Bearer', tenantId: session.tenantId, role: 'member', sessionId: session.sessionId, userId: session.userId, expiresIn: config.ACCESS_TOKEN_TTL_S });
    expect((await client.me(next.accessToken)).status).toBe(200);
    // Only the hash of a refresh token is stored.
    const { rows } = await owner.query('SELECT token_hash FROM refresh_tokens WHERE tenant_id = $1 AND session_id = $2', [session.tenantId, session.sessionId]);
    expect(rows).toHaveLength(2);
    expect(JSON.stringify(rows)).not.toContain(next.refreshToken.split('.')[2]);
  });

  it('treats a rotated token presented again as reuse: 401, and the whole family ends (new refresh token and latest access token too), audited as auth.refresh_reuse', async () => {
    const { tenant, client, session } = await loggedIn();
    const next = await client.refreshOk(session.refreshToken);

    await expectInvalidRefresh(client, session.refreshToken, 'reused token');

    await expectInvalidRefresh(client, next.refreshToken, 'the rotated-to token');
    expect((await client.me(next.accessToken)).status).toBe(401);
    expect((await client.me(session.accessToken)).status).toBe(401);
    expect(await sessionRow(tenant.id, session.sessionId)).toMatchObject({ revoked_at: expect.any(Date), revoked_reason: 'refresh_token_reuse' });

    const { rows } = await owner.query("SELECT outcome, actor, subject FROM audit_events WHERE tenant_id = $1 AND type = 'auth.refresh_reuse'", [tenant.id]);
    expect(rows).toEqual([{ outcome: 'denied', actor: `user:${session.userId}`, subject: `session:${session.sessionId}` }]);
  });

  it('strict reuse detection: of two concurrent refreshes with one token exactly one gets 200, the other 401, and the family is then revoked (clients must serialise refreshes)', async () => {
    const { tenant, client, session } = await loggedIn();

    const results = await Promise.all([client.refresh(session.refreshToken), client.refresh(session.refreshToken)]);

    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = results.find((r) => r.status === 200)!;
    const loser = results.find((r) => r.status === 401)!;
    expect(withoutRequestId(loser.body)).toEqual(INVALID_REFRESH);
    // The winner's tokens belong to the family the loser's reuse ended.
    await expectInvalidRefresh(client, winner.body.refreshToken as string, 'the winner’s refresh token');
    expect((await client.me(winner.body.accessToken as string)).status).toBe(401);
    expect(await sessionRow(tenant.id, session.sessionId)).toMatchObject({ revoked_reason: 'refresh_token_reuse' });
  });

  it('refuses a refresh after the session’s absolute lifetime (SESSION_MAX_AGE_S), however recently the token was rotated', async () => {
    const { client, session } = await loggedIn();
    expect(config.SESSION_MAX_AGE_S).toBeGreaterThan(config.REFRESH_TOKEN_TTL_S);
    const step = config.REFRESH_TOKEN_TTL_S - DAY_S;
    let current = session.refreshToken;
    let elapsed = 0;
    // Rotate before each refresh token would expire, up to a minute before the session ends.
    while (elapsed + step < config.SESSION_MAX_AGE_S - 60) {
      clock.advance(step);
      elapsed += step;
      current = (await client.refreshOk(current)).refreshToken;
    }
    clock.advance(config.SESSION_MAX_AGE_S - 60 - elapsed);
    current = (await client.refreshOk(current)).refreshToken;

    clock.advance(61);
    await expectInvalidRefresh(client, current, 'after the session ended');
  });

  it('answers malformed, unknown and forged refresh tokens with the same 401', async () => {
    const { tenant, client, session } = await loggedIn();
    const other = await createTenant(owner, 'refresh-other');
    const secret = session.refreshToken.split('.')[2]!;
    const tokens: [string, string][] = [
      ['empty', ''],
      ['garbage', 'garbage'],
      ['not a uuid', `rt.not-a-uuid.${secret}`],
      ['short secret', `rt.${tenant.id}.${secret.slice(1)}`],
      ['extra part', `${session.refreshToken}.x`],
      ['wrong prefix', `xx.${tenant.id}.${secret}`],
      ['unknown secret', `rt.${tenant.id}.${randomBytes(32).toString('base64url')}`],
      ['another tenant named, same secret', `rt.${other.id}.${secret}`],
      ['a random tenant named', `rt.${randomUUID()}.${secret}`],
    ];
    for (const [name, token] of tokens) await expectInvalidRefresh(client, token, name);
    // Longer than any refresh token (an access token, say): a validation problem that echoes nothing.
    const oversized = await client.refresh(session.accessToken);
    expect(oversized.status).toBe(400);
    expect(oversized.body).toMatchObject({ type: 'urn:benteng:problem:validation', errors: [{ pointer: '/refreshToken', rules: ['maxLength'] }] });
    expect(oversized.text).not.toContain(session.accessToken);
    // None of them touched the real session.
    await client.refreshOk(session.refreshToken);
  });

  it(
    tag('ABUSE-SHARED-ADDRESS', `an address throttled after ${REFRESH_MAX_FAILURES_PER_IP} bad refresh tokens still honours a colleague's valid one; the bad ones there get 429`),
    async () => {
      const { tenant, client: colleague, session } = await loggedIn();
      const attacker = new Caller(api, secrets, colleague.ip);
      const unknown = () => `rt.${tenant.id}.${randomBytes(32).toString('base64url')}`;
      for (let i = 0; i < REFRESH_MAX_FAILURES_PER_IP; i++) await expectInvalidRefresh(attacker, unknown(), `guess ${i + 1}`);

      // The address is throttled: guesses of any shape get 429 there, and no lookup decides them differently.
      for (const guess of [unknown(), 'garbage']) {
        const refused = await attacker.refresh(guess);
        expect(refused.status).toBe(429);
        expect(refused.body).toMatchObject({ code: 'auth.rate_limited' });
        expect(refused.headers['retry-after']).toMatch(/^[1-9]\d*$/);
      }
      // The colleague behind the same address keeps their session.
      const next = await colleague.refreshOk(session.refreshToken);
      expect((await colleague.me(next.accessToken)).status).toBe(200);
    },
  );
});

it('never writes an issued token or a password it was sent to the logs', () => {
  expect(secrets.counts.secrets).toBeGreaterThan(10);
  expect(secrets.counts.logLines).toBeGreaterThan(0);
  expect(secrets.leaks()).toEqual([]);
});

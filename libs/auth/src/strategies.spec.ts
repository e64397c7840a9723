import { describe, expect, it } from 'vitest';
import { AccessTokenError, type AccessClaims } from './access-tokens.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import { authEntry, userIdOf, AUTH_LOG_CONTEXT } from './auth-entry.js';
import { PartnerStrategy } from './partner.strategy.js';
import { PublicJwtStrategy } from './public-jwt.strategy.js';

const USER = '0193b7a0-0000-7000-8000-0000000000a1';
const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const SESSION = '0193b7a0-0000-7000-8000-0000000000e1';
const claims: AccessClaims = { sub: USER, tid: TENANT, sid: SESSION, role: 'member', exp: 2, iat: 1 };

type Outcome = { success?: unknown; fail?: unknown[]; error?: unknown };
/** Runs a passport strategy on a request the way passport does (success/fail/error bound per request). */
function run(strategy: object, request: Record<string, unknown>): Promise<Outcome> {
  return new Promise((resolve) => {
    const attempt = Object.create(strategy) as { authenticate: (req: unknown) => void } & Record<string, unknown>;
    attempt['success'] = (user: unknown) => resolve({ success: user });
    attempt['fail'] = (...args: unknown[]) => resolve({ fail: args });
    attempt['error'] = (error: unknown) => resolve({ error });
    attempt.authenticate(request);
  });
}

function publicJwt(verify: (token: string) => Promise<AccessClaims>, revoked = false) {
  const lines: { fields: unknown; message: unknown }[] = [];
  const contexts: unknown[] = [];
  const asked: unknown[] = [];
  const sut = new PublicJwtStrategy(
    { verify } as never,
    { isRevoked: async (c: unknown, read: unknown) => (asked.push([c, read]), revoked) } as never,
    { setContext: (name: string) => contexts.push(name), info: (fields: unknown, message: unknown) => lines.push({ fields, message }) } as never,
  );
  return { sut, lines, contexts, asked };
}
const bearer = (token: string, extra: Record<string, unknown> = {}) => ({ headers: { authorization: `Bearer ${token}` }, ...extra });

describe('PublicJwtStrategy', () => {
  it('authenticates a verified access token from the Authorization header as its user, revocation left to refuseRevoked', async () => {
    const tokens: string[] = [];
    const { sut, contexts, asked, lines } = publicJwt(async (token) => (tokens.push(token), claims));
    expect(contexts).toEqual(['PublicJwtStrategy']);
    expect(await run(sut, bearer('tok'))).toEqual({ success: { userId: USER, tenantId: TENANT, sessionId: SESSION, role: 'member' } });
    expect(tokens).toEqual(['tok']);
    expect(asked).toEqual([]);
    expect(lines).toEqual([]);
  });

  it('refuses a token that does not verify with 401, logging the reason only', async () => {
    const { sut, lines } = publicJwt(async () => Promise.reject(new AccessTokenError('expired')));
    const outcome = await run(sut, bearer('tok'));
    expect(outcome.error).toBeInstanceOf(AuthError);
    expect((outcome.error as AuthError).code).toBe(AuthErrorCode.Unauthenticated);
    expect(lines).toEqual([{ fields: { event: 'auth.token_rejected', reason: 'expired' }, message: 'access token rejected' }]);
    const other = publicJwt(async () => Promise.reject(new Error('boom')));
    await run(other.sut, bearer('tok'));
    expect(other.lines).toEqual([{ fields: { event: 'auth.token_rejected', reason: 'error' }, message: 'access token rejected' }]);
  });

  it('refuseRevoked: refuses a revoked session, user or tenant with 401, logging which session; passes the round trip\'s read on', async () => {
    const user = { userId: USER, tenantId: TENANT, sessionId: SESSION, role: 'member' as const };
    const { sut, lines, asked } = publicJwt(async () => claims, true);
    const error = await sut.refuseRevoked(user, ['1', null, null, null]).catch((e: unknown) => e);
    expect((error as AuthError).code).toBe(AuthErrorCode.Unauthenticated);
    expect(asked).toEqual([[{ tid: TENANT, sub: USER, sid: SESSION }, ['1', null, null, null]]]);
    expect(lines).toEqual([{ fields: { event: 'auth.token_rejected', reason: 'revoked', tenantId: TENANT, sessionId: SESSION }, message: 'access token rejected' }]);
    const fine = publicJwt(async () => claims, false);
    await expect(fine.sut.refuseRevoked(user)).resolves.toBeUndefined();
    expect(fine.asked).toEqual([[{ tid: TENANT, sub: USER, sid: SESSION }, undefined]]);
    expect(fine.lines).toEqual([]);
  });

  it('refuses a token in the query string or body, even with the header, before verifying anything', async () => {
    const tokens: string[] = [];
    const { sut } = publicJwt(async (token) => (tokens.push(token), claims));
    for (const extra of [{ query: { access_token: 'tok' } }, { body: { access_token: 'tok' } }]) {
      expect(await run(sut, bearer('tok', extra))).toEqual({ fail: ['Bearer error="invalid_request"', 401] });
    }
    expect(tokens).toEqual([]);
    // Other query or body fields, or none, are no reason to refuse.
    for (const extra of [{ query: { page: '1' } }, { body: { name: 'x' } }, { query: null, body: 'access_token' }]) {
      expect((await run(sut, bearer('tok', extra))).success).toMatchObject({ userId: USER });
    }
  });

  it('fails without a credential (a challenge, no error)', async () => {
    const { sut } = publicJwt(async () => claims);
    const outcome = await run(sut, { headers: {} });
    expect(outcome.fail).toBeDefined();
    expect(outcome.success).toBeUndefined();
  });
});

describe('PartnerStrategy', () => {
  it('hands the bearer credential to PartnerAuthService with the client address and request id', async () => {
    const calls: unknown[][] = [];
    const partner = { clientId: 'c1' };
    const sut = new PartnerStrategy({ authenticate: async (...args: unknown[]) => (calls.push(args), partner) } as never);
    expect(await run(sut, bearer('bt_live_x', { ip: '::ffff:192.0.2.9', id: 17 }))).toEqual({ success: partner });
    expect(calls).toEqual([['bt_live_x', { ip: '192.0.2.9', requestId: '17' }]]);
    expect(await run(sut, bearer('bt_live_x', { ip: '192.0.2.9', id: 18, query: { access_token: 'x' } }))).toEqual({ fail: ['Bearer error="invalid_request"', 401] });
    expect(calls).toHaveLength(1);
  });
});

describe('auth entries', () => {
  it('records type, outcome, actor, subject and address, and the request id when there is one', () => {
    expect(authEntry('auth.login', 'success', 'user:x', 'session:y', { ip: '192.0.2.1', requestId: 'r1' })).toEqual({ type: 'auth.login', outcome: 'success', actor: 'user:x', subject: 'session:y', ip: '192.0.2.1', requestId: 'r1' });
    expect(authEntry('auth.login', 'failure', 'user:x', 'session:y', { ip: '192.0.2.1' })).toStrictEqual({ type: 'auth.login', outcome: 'failure', actor: 'user:x', subject: 'session:y', ip: '192.0.2.1' });
  });

  it('the signed-in user of a scope, and 401 for any other principal', () => {
    expect(userIdOf({ principal: { kind: 'user', userId: USER } } as never)).toBe(USER);
    let thrown: unknown;
    try {
      userIdOf({ principal: { kind: 'partner', clientId: 'c1' } } as never);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AuthError);
    expect((thrown as AuthError).code).toBe(AuthErrorCode.Unauthenticated);
    expect(AUTH_LOG_CONTEXT).toBe('AuthService');
  });
});

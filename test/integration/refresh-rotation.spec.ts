import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REFRESH_MAX_FAILURES_PER_IP, THROTTLE_KEY_PREFIX } from '@benteng/security';
import { AuthError, AuthErrorCode } from '../../libs/auth/src/auth.errors.js';
import { auditOf, authGraph, refreshTokensOf, sessionsOf, setStatus, SettableClock } from '../support/auth-services.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { deleteKeys, ready, scanKeys, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/**
 * Session start, refresh-token rotation and reuse detection (AUTHN-REFRESH-ROTATION; SessionIssuer,
 * RefreshService, SessionsRepository.start/rotate) on the real PostgreSQL and Redis: what the
 * database holds after each step, what is audited and logged, and what the client is answered.
 */
const owner = ownerPool();
const database = tenantDatabase();
const redis = testRedis('refresh-rotation-spec');
const ips: string[] = [];
let tenant: TestTenant;

beforeAll(async () => {
  await ready(redis);
  tenant = await createTenant(owner, 'refresh');
});

afterAll(async () => {
  const keys = (await scanKeys(redis, `${THROTTLE_KEY_PREFIX}refresh-ip:*`)).filter((k) => ips.some((ip) => k.endsWith(`:${ip}`)));
  await deleteKeys(redis, [...keys, ...(await scanKeys(redis, 'benteng:rev:session:*')).filter((k) => sessionIds.some((id) => k.endsWith(id)))]);
  redis.disconnect();
});
const sessionIds: string[] = [];

const randomIp = () => {
  const ip = `10.${[...randomBytes(3)].join('.')}`;
  ips.push(ip);
  return ip;
};
const failuresAt = async (ip: string) => Number((await redis.get(`${THROTTLE_KEY_PREFIX}refresh-ip:failures:${ip}`)) ?? 0);
const graph = (clock = new SettableClock()) => authGraph({ clock, redis, db: database });
const code = (error: unknown) => (error as AuthError).code;

async function started(g: Awaited<ReturnType<typeof graph>>, meta = { ip: randomIp(), userAgent: 'spec-agent', requestId: 'req-start' }, role: 'member' | 'viewer' = 'member') {
  const pair = await g.issuer.start(tenant.id, tenant.users[role].id, role, meta, 'auth.login');
  const claims = await g.accessTokens.verify(pair.accessToken);
  sessionIds.push(claims.sid);
  return { pair, sessionId: claims.sid, meta };
}

describe(tag('AUTHN-REFRESH-ROTATION', 'refresh-token rotation on the database'), () => {
  describe('SessionIssuer.start', () => {
    it('stores the session (now, now + SESSION_MAX_AGE_S, agent, address), its first refresh token and an audit entry, and answers the pair', async () => {
      const clock = new SettableClock(new Date('2031-03-04T05:06:07.000Z'));
      const g = await graph(clock);
      const meta = { ip: randomIp(), userAgent: 'spec-agent/1.0', requestId: 'req-login-1' };
      const pair = await g.issuer.start(tenant.id, tenant.users.viewer.id, 'viewer', meta, 'auth.tenant_switched');
      const claims = await g.accessTokens.verify(pair.accessToken);
      sessionIds.push(claims.sid);
      expect(claims).toMatchObject({ sub: tenant.users.viewer.id, tid: tenant.id, sid: expect.any(String), role: 'viewer' });
      expect(pair).toEqual({ tokenType: 'Bearer', accessToken: pair.accessToken, expiresIn: g.config.ACCESS_TOKEN_TTL_S, refreshToken: pair.refreshToken, tenantId: tenant.id, role: 'viewer' });
      expect(g.refreshTokens.parse(pair.refreshToken)).toEqual({ tenantId: tenant.id });

      const session = (await sessionsOf(owner, tenant.id, tenant.users.viewer.id)).find((s) => s.id === claims.sid)!;
      expect(session).toMatchObject({ created_at: clock.now(), last_seen_at: clock.now(), expires_at: new Date(clock.now().getTime() + g.config.SESSION_MAX_AGE_S * 1000), revoked_at: null, user_agent: 'spec-agent/1.0', ip: meta.ip });
      const [token, ...more] = await refreshTokensOf(owner, tenant.id, claims.sid);
      expect(more).toEqual([]);
      expect(token).toMatchObject({ token_hash: g.refreshTokens.hash(pair.refreshToken), created_at: clock.now(), expires_at: new Date(clock.now().getTime() + g.config.REFRESH_TOKEN_TTL_S * 1000), rotated_at: null });
      const audit = (await auditOf(owner, tenant.id)).filter((a) => a.subject === `session:${claims.sid}`);
      expect(audit).toEqual([{ type: 'auth.tenant_switched', outcome: 'success', actor: `user:${tenant.users.viewer.id}`, subject: `session:${claims.sid}`, ip: meta.ip, request_id: 'req-login-1', data: {} }]);
    });

    it('keeps at most 300 characters of the user agent; no agent is stored as null, no request id as none', async () => {
      const g = await graph();
      const long = 'a'.repeat(299) + 'bc';
      const a = await started(g, { ip: randomIp(), userAgent: long } as never);
      const b = await started(g, { ip: randomIp() } as never);
      const stored = await sessionsOf(owner, tenant.id, tenant.users.member.id);
      expect(stored.find((s) => s.id === a.sessionId)!.user_agent).toBe('a'.repeat(299) + 'b');
      expect(stored.find((s) => s.id === b.sessionId)!.user_agent).toBeNull();
      const audit = (await auditOf(owner, tenant.id, ['auth.login'])).find((e) => e.subject === `session:${b.sessionId}`)!;
      expect(audit.request_id).toBeNull();
      expect(audit.type).toBe('auth.login');
    });
  });

  describe('RefreshService.refresh', () => {
    it('rotates: spends the token, stores the next one of the family, touches the session, audits, and answers a new pair for the same session', async () => {
      const clock = new SettableClock();
      const g = await graph(clock);
      const { pair, sessionId, meta } = await started(g);
      clock.advance(120);
      const next = await g.refresh.refresh(pair.refreshToken, { ip: meta.ip, requestId: 'req-refresh-1' });
      const claims = await g.accessTokens.verify(next.accessToken);
      expect(claims).toMatchObject({ sub: tenant.users.member.id, tid: tenant.id, sid: sessionId, role: 'member' });
      expect(next).toMatchObject({ tokenType: 'Bearer', expiresIn: g.config.ACCESS_TOKEN_TTL_S, tenantId: tenant.id, role: 'member' });
      expect(next.refreshToken).not.toBe(pair.refreshToken);

      const [first, second, ...more] = await refreshTokensOf(owner, tenant.id, sessionId);
      expect(more).toEqual([]);
      expect(first).toMatchObject({ token_hash: g.refreshTokens.hash(pair.refreshToken), rotated_at: clock.now() });
      expect(second).toMatchObject({ token_hash: g.refreshTokens.hash(next.refreshToken), created_at: clock.now(), rotated_at: null });
      const session = (await sessionsOf(owner, tenant.id, tenant.users.member.id)).find((s) => s.id === sessionId)!;
      expect(second!.expires_at).toEqual(new Date(Math.min(clock.now().getTime() + g.config.REFRESH_TOKEN_TTL_S * 1000, session.expires_at.getTime())));
      expect(session).toMatchObject({ last_seen_at: clock.now(), revoked_at: null });
      const audit = (await auditOf(owner, tenant.id, ['auth.refresh'])).filter((a) => a.subject === `session:${sessionId}`);
      expect(audit).toEqual([{ type: 'auth.refresh', outcome: 'success', actor: `user:${tenant.users.member.id}`, subject: `session:${sessionId}`, ip: meta.ip, request_id: 'req-refresh-1', data: {} }]);
      expect(await failuresAt(meta.ip)).toBe(0);

      // The next token of the family rotates in turn.
      const third = await g.refresh.refresh(next.refreshToken, { ip: meta.ip });
      expect((await g.accessTokens.verify(third.accessToken)).sid).toBe(sessionId);
    });

    it('a spent token presented again is reuse: the whole session ends (its newest token too), the marker is published, audited and logged', async () => {
      const g = await graph();
      const { pair, sessionId, meta } = await started(g);
      const next = await g.refresh.refresh(pair.refreshToken, meta);
      const replay = { ip: randomIp(), requestId: 'req-replay' };
      const error = await g.refresh.refresh(pair.refreshToken, replay).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthError);
      expect(code(error)).toBe(AuthErrorCode.InvalidRefreshToken);

      const session = (await sessionsOf(owner, tenant.id, tenant.users.member.id)).find((s) => s.id === sessionId)!;
      expect(session.revoked_at).not.toBeNull();
      expect(session.revoked_reason).toBe('refresh_token_reuse');
      expect(await redis.get(`benteng:rev:session:${sessionId}`)).toBe('1');
      expect(await g.revocations.revokedInDatabase({ tid: tenant.id, sub: tenant.users.member.id, sid: sessionId })).toBe(true);
      const audit = (await auditOf(owner, tenant.id, ['auth.refresh_reuse'])).filter((a) => a.subject === `session:${sessionId}`);
      expect(audit).toEqual([{ type: 'auth.refresh_reuse', outcome: 'denied', actor: `user:${tenant.users.member.id}`, subject: `session:${sessionId}`, ip: replay.ip, request_id: 'req-replay', data: {} }]);
      expect(g.contexts).toContain('AuthService');
      expect(g.lines.filter((l) => l.level === 'warn')).toEqual([
        { level: 'warn', fields: { event: 'auth.refresh_reuse', tenantId: tenant.id, sessionId, ip: replay.ip, requestId: 'req-replay' }, message: 'refresh token reuse: session revoked' },
      ]);
      // Reuse is not a guessing failure of the address.
      expect(await failuresAt(replay.ip)).toBe(0);

      // The family ended: the newest token is refused without being spent, a guessing failure now.
      expect(code(await g.refresh.refresh(next.refreshToken, replay).catch((e: unknown) => e))).toBe(AuthErrorCode.InvalidRefreshToken);
      expect((await refreshTokensOf(owner, tenant.id, sessionId))[1]!.rotated_at).toBeNull();
      expect(await failuresAt(replay.ip)).toBe(1);
      // A second replay ends nothing more and audits reuse again (a spent token is reuse even once
      // its session is over, never a dead session's retry or a guessing failure).
      await g.refresh.refresh(pair.refreshToken, replay).catch(() => undefined);
      expect((await sessionsOf(owner, tenant.id, tenant.users.member.id)).find((s) => s.id === sessionId)!.revoked_at).toEqual(session.revoked_at);
      expect((await auditOf(owner, tenant.id, ['auth.refresh_reuse'])).filter((a) => a.subject === `session:${sessionId}`)).toHaveLength(2);
      expect(await failuresAt(replay.ip)).toBe(1);
    });

    it('two concurrent refreshes with one token: exactly one rotates, the other is reuse and ends the session', async () => {
      const g = await graph();
      const { pair, sessionId, meta } = await started(g);
      const results = await Promise.allSettled([g.refresh.refresh(pair.refreshToken, meta), g.refresh.refresh(pair.refreshToken, meta)]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((r) => r.status === 'rejected')!;
      expect(code(rejected.reason)).toBe(AuthErrorCode.InvalidRefreshToken);
      expect((await sessionsOf(owner, tenant.id, tenant.users.member.id)).find((s) => s.id === sessionId)!.revoked_reason).toBe('refresh_token_reuse');
      expect(await failuresAt(meta.ip)).toBe(0);
    });

    it('a malformed or unknown token is refused and counted against the address; refused tokens are not spent', async () => {
      const g = await graph();
      const ip = randomIp();
      for (const token of ['', 'garbage', `rt.${tenant.id}.short`]) {
        expect(code(await g.refresh.refresh(token, { ip }).catch((e: unknown) => e))).toBe(AuthErrorCode.InvalidRefreshToken);
      }
      expect(await failuresAt(ip)).toBe(3);
      const unknown = g.refreshTokens.mint(tenant.id).token;
      expect(code(await g.refresh.refresh(unknown, { ip }).catch((e: unknown) => e))).toBe(AuthErrorCode.InvalidRefreshToken);
      expect(await failuresAt(ip)).toBe(4);
    });

    it(`after ${REFRESH_MAX_FAILURES_PER_IP} failures the address gets 429 with a wait instead of 401, and is no longer counted; a valid token is still honoured there`, async () => {
      const g = await graph();
      const { pair, meta } = await started(g);
      for (let i = 0; i < REFRESH_MAX_FAILURES_PER_IP; i++) await g.refresh.refresh('garbage', meta).catch(() => undefined);
      const before = await failuresAt(meta.ip);
      const limited = await g.refresh.refresh('garbage', meta).catch((e: unknown) => e);
      expect(code(limited)).toBe(AuthErrorCode.RateLimited);
      expect((limited as AuthError).retryAfterS).toBeGreaterThan(0);
      const unknown = await g.refresh.refresh(g.refreshTokens.mint(tenant.id).token, meta).catch((e: unknown) => e);
      expect(code(unknown)).toBe(AuthErrorCode.RateLimited);
      expect(await failuresAt(meta.ip)).toBe(before);
      const next = await g.refresh.refresh(pair.refreshToken, meta);
      expect(next.tenantId).toBe(tenant.id);
    });

    describe('a dead session refuses its last token without spending it (a retry after logout is not a replay)', () => {
      const refusedUnspent = async (g: Awaited<ReturnType<typeof graph>>, token: string, sessionId: string, ip: string) => {
        expect(code(await g.refresh.refresh(token, { ip }).catch((e: unknown) => e))).toBe(AuthErrorCode.InvalidRefreshToken);
        expect((await refreshTokensOf(owner, tenant.id, sessionId)).map((t) => t.rotated_at)).toEqual([null]);
        expect(await failuresAt(ip)).toBe(1);
        const session = (await sessionsOf(owner, tenant.id, tenant.users.member.id)).find((s) => s.id === sessionId);
        expect(session?.revoked_reason ?? null).not.toBe('refresh_token_reuse');
      };

      it('revoked (logout)', async () => {
        expect.hasAssertions();
        const g = await graph();
        const { pair, sessionId } = await started(g);
        await ownerInTenant(owner, tenant.id, (c) => c.query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1", [sessionId]));
        await refusedUnspent(g, pair.refreshToken, sessionId, randomIp());
      });

      it('at the instant the session expires', async () => {
        expect.hasAssertions();
        const clock = new SettableClock();
        const g = await graph(clock);
        const { pair, sessionId } = await started(g);
        await ownerInTenant(owner, tenant.id, (c) => c.query('UPDATE sessions SET expires_at = $2 WHERE id = $1', [sessionId, new Date(clock.now().getTime() + 60_000)]));
        clock.advance(60);
        await refusedUnspent(g, pair.refreshToken, sessionId, randomIp());
      });

      it('at the instant the refresh token expires (the session still live)', async () => {
        const clock = new SettableClock();
        const g = await graph(clock);
        const { pair, sessionId } = await started(g);
        await ownerInTenant(owner, tenant.id, (c) => c.query('UPDATE refresh_tokens SET expires_at = $2 WHERE session_id = $1', [sessionId, new Date(clock.now().getTime() + 60_000)]));
        clock.advance(59.999);
        const ok = await g.refresh.refresh(pair.refreshToken, { ip: randomIp() });
        const sid = (await g.accessTokens.verify(ok.accessToken)).sid;
        const [, second] = await refreshTokensOf(owner, tenant.id, sid);
        await ownerInTenant(owner, tenant.id, (c) => c.query('UPDATE refresh_tokens SET expires_at = $2 WHERE id = $1', [second!.id, new Date(clock.now().getTime() + 1000)]));
        clock.advance(1);
        const ip = randomIp();
        expect(code(await g.refresh.refresh(ok.refreshToken, { ip }).catch((e: unknown) => e))).toBe(AuthErrorCode.InvalidRefreshToken);
        expect((await refreshTokensOf(owner, tenant.id, sid))[1]!.rotated_at).toBeNull();
        expect(await failuresAt(ip)).toBe(1);
      });

      it("the user's account locked, or the tenant suspended", async () => {
        const other = await createTenant(owner, 'refresh-status');
        const g = await graph();
        const member = await g.issuer.start(other.id, other.users.member.id, 'member', { ip: randomIp() }, 'auth.login');
        const viewer = await g.issuer.start(other.id, other.users.viewer.id, 'viewer', { ip: randomIp() }, 'auth.login');
        await setStatus(owner, 'users', other.users.member.id, 'locked');
        expect(code(await g.refresh.refresh(member.refreshToken, { ip: randomIp() }).catch((e: unknown) => e))).toBe(AuthErrorCode.InvalidRefreshToken);
        await setStatus(owner, 'tenants', other.id, 'suspended');
        expect(code(await g.refresh.refresh(viewer.refreshToken, { ip: randomIp() }).catch((e: unknown) => e))).toBe(AuthErrorCode.InvalidRefreshToken);
        const tokens = await ownerInTenant(owner, other.id, (c) => c.query<{ rotated_at: Date | null }>('SELECT rotated_at FROM refresh_tokens WHERE tenant_id = $1', [other.id]));
        expect(tokens.rows.map((r) => r.rotated_at)).toEqual([null, null]);
      });
    });
  });
});

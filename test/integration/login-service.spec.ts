import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { THROTTLE_KEY_PREFIX } from '@benteng/security';
import { AuthError, AuthErrorCode } from '../../libs/auth/src/auth.errors.js';
import { hashPassword } from '../../libs/auth/src/password-hasher.js';
import { auditOf, authGraph, sessionsOf, setStatus } from '../support/auth-services.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { deleteKeys, ready, scanKeys, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/**
 * LoginService on the real PostgreSQL and Redis (AUTHN-ACCOUNT-ENUMERATION, AUTHN-LOGIN-THROTTLE):
 * which membership a login opens, that every failure answers alike after exactly one password
 * verification, and what each failure leaves behind (the audit entry in the account's tenant, or
 * a log line when there is no tenant to write in, and the throttle's counters).
 */
const PASSWORD = 'correct horse battery staple';
const owner = ownerPool();
const database = tenantDatabase();
const redis = testRedis('login-service-spec');
const accounts: string[] = [];
let hash: string;

beforeAll(async () => {
  await ready(redis);
  hash = await hashPassword(PASSWORD);
});

afterAll(async () => {
  const digests = accounts.map((a) => createHash('sha256').update(a).digest('hex'));
  const keys = (await scanKeys(redis, `${THROTTLE_KEY_PREFIX}login-*`)).filter((k) => digests.some((d) => k.includes(d)));
  await deleteKeys(redis, keys);
  redis.disconnect();
});

const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;
const digest = (email: string) => createHash('sha256').update(email).digest('hex').slice(0, 16);
const graph = (env: Record<string, string> = {}) => authGraph({ redis, db: database, env });
type Graph = Awaited<ReturnType<typeof graph>>;

/** A tenant whose users all have PASSWORD. */
async function tenantWithPasswords(label: string): Promise<TestTenant> {
  const t = await createTenant(owner, label);
  for (const user of Object.values(t.users)) {
    await owner.query('UPDATE users SET password_hash = $2 WHERE id = $1', [user.id, hash]);
    accounts.push(user.email);
  }
  return t;
}

async function addMembership(t: TestTenant, userId: string, role = 'viewer'): Promise<void> {
  await ownerInTenant(owner, t.id, (c) => c.query('INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, $4)', [t.id, randomUUID(), userId, role]));
}

/** The login's outcome, with the number of password verifications it made. */
async function attempt(g: Graph, input: { email: string; password: string; tenant?: string }, meta: { ip: string; requestId?: string }) {
  const verify = vi.spyOn(g.hasher, 'verify');
  try {
    const pair = await g.login.login(input, meta);
    return { pair, verifications: verify.mock.calls.length };
  } catch (error) {
    return { error: error as AuthError, verifications: verify.mock.calls.length };
  } finally {
    verify.mockRestore();
  }
}

const failures = async (g: Graph, tenantId: string) => {
  await g.failureAudit.settled();
  return (await auditOf(owner, tenantId, ['auth.login', 'auth.rate_limited'])).filter((a) => a.outcome !== 'success');
};

describe(tag('AUTHN-ACCOUNT-ENUMERATION', 'LoginService on the database'), () => {
  it('a correct password opens a session in the first active membership; the email is matched without case or surrounding spaces', async () => {
    const t = await tenantWithPasswords('login-ok');
    const g = await graph();
    expect(g.contexts).toContain('AuthService');
    const ip = randomIp();
    const { pair, verifications } = await attempt(g, { email: `  ${t.users.member.email.toUpperCase()} `, password: PASSWORD }, { ip, requestId: 'req-login' });
    expect(verifications).toBe(1);
    expect(pair).toMatchObject({ tokenType: 'Bearer', tenantId: t.id, role: 'member' });
    const claims = await g.accessTokens.verify(pair!.accessToken);
    expect(claims).toMatchObject({ sub: t.users.member.id, tid: t.id, role: 'member' });
    expect((await sessionsOf(owner, t.id, t.users.member.id)).map((s) => s.id)).toEqual([claims.sid]);
    expect(await auditOf(owner, t.id, ['auth.login'])).toEqual([
      { type: 'auth.login', outcome: 'success', actor: `user:${t.users.member.id}`, subject: `session:${claims.sid}`, ip, request_id: 'req-login', data: {} },
    ]);
    // A correct password marks the address familiar to the account (LoginThrottle.recordSuccess).
    const familiar = await scanKeys(redis, `${THROTTLE_KEY_PREFIX}login-familiar:*`);
    expect(familiar.some((k) => k.includes(createHash('sha256').update(t.users.member.email).digest('hex')))).toBe(true);
  });

  it('without a tenant named: the first active membership, skipping a suspended one; a named tenant opens that one', async () => {
    const [first, second] = [await tenantWithPasswords('login-a'), await tenantWithPasswords('login-b')];
    const user = first.users.admin;
    await addMembership(second, user.id, 'viewer');
    const g = await graph();
    expect((await attempt(g, { email: user.email, password: PASSWORD }, { ip: randomIp() })).pair).toMatchObject({ tenantId: first.id, role: 'admin' });
    expect((await attempt(g, { email: user.email, password: PASSWORD, tenant: second.slug }, { ip: randomIp() })).pair).toMatchObject({ tenantId: second.id, role: 'viewer' });
    await setStatus(owner, 'tenants', first.id, 'suspended');
    expect((await attempt(g, { email: user.email, password: PASSWORD }, { ip: randomIp() })).pair).toMatchObject({ tenantId: second.id, role: 'viewer' });
    // Named, the suspended tenant is refused (not replaced by another one).
    const named = await attempt(g, { email: user.email, password: PASSWORD, tenant: first.slug }, { ip: randomIp() });
    expect(named.error?.code).toBe(AuthErrorCode.InvalidCredentials);
    expect((await failures(g, first.id)).map((a) => a.data)).toEqual([{ reason: 'tenant_suspended' }]);
  });

  describe('every failure answers alike: InvalidCredentials after exactly one password verification', () => {
    it.each([
      ['unknown_user', 'an unknown email'],
      ['wrong_password', 'a wrong password'],
      ['wrong_password', 'an account without a password'],
      ['user_locked', 'a locked account'],
      ['no_membership', 'an account without any tenant'],
      ['no_membership', 'a tenant named that is not one of the account'],
      ['tenant_suspended', 'the only tenant suspended'],
    ])('%s: %s', async (reason, situation) => {
      const t = await tenantWithPasswords('login-fail');
      const g = await graph();
      const ip = randomIp();
      let email = t.users.viewer.email;
      let password = PASSWORD;
      let tenant: string | undefined;
      if (situation === 'an unknown email') email = `nobody.${randomBytes(4).toString('hex')}@example.test`;
      if (situation === 'a wrong password') password = 'wrong password';
      if (situation === 'an account without a password') await owner.query('UPDATE users SET password_hash = NULL WHERE id = $1', [t.users.viewer.id]);
      if (situation === 'a locked account') await setStatus(owner, 'users', t.users.viewer.id, 'locked');
      if (situation === 'an account without any tenant') await ownerInTenant(owner, t.id, (c) => c.query('DELETE FROM memberships WHERE user_id = $1', [t.users.viewer.id]));
      if (situation === 'a tenant named that is not one of the account') tenant = `not-${t.slug}`;
      if (situation === 'the only tenant suspended') await setStatus(owner, 'tenants', t.id, 'suspended');
      accounts.push(email);

      const outcome = await attempt(g, { email, password, ...(tenant ? { tenant } : {}) }, { ip, requestId: `req-${reason}` });
      expect(outcome.error).toBeInstanceOf(AuthError);
      expect(outcome.error!.code).toBe(AuthErrorCode.InvalidCredentials);
      expect(outcome.verifications).toBe(1);
      expect(await sessionsOf(owner, t.id, t.users.viewer.id)).toEqual([]);

      const audited = await failures(g, t.id);
      // No tenant to write in (an unknown email, an account without a tenant): the failure is
      // logged instead, the account as a digest. Otherwise it is audited in the account's tenant.
      const untenanted = reason === 'unknown_user' || situation === 'an account without any tenant';
      expect(audited).toEqual(untenanted ? [] : [{ type: 'auth.login', outcome: 'failure', actor: `user:${t.users.viewer.id}`, subject: null, ip, request_id: `req-${reason}`, data: { reason } }]);
      expect(g.lines.filter((l) => l.level === 'warn')).toEqual(
        untenanted ? [{ level: 'warn', fields: { event: 'auth.login', outcome: 'failure', reason, account: digest(email), ip, requestId: `req-${reason}` }, message: 'login failed' }] : [],
      );
    });

    it('an unknown email is checked against the dummy hash (the same one every time, computed at module init)', async () => {
      const g = await graph();
      const dummy = vi.spyOn(g.hasher, 'dummyHash');
      await g.login.onModuleInit();
      expect(dummy).toHaveBeenCalledTimes(1);
      const first = await dummy.mock.results[0]!.value;
      const verify = vi.spyOn(g.hasher, 'verify');
      const email = `nobody.${randomBytes(4).toString('hex')}@example.test`;
      accounts.push(email);
      await g.login.login({ email, password: PASSWORD }, { ip: randomIp() }).catch(() => undefined);
      expect(verify.mock.calls).toEqual([[first, PASSWORD]]);
    });

    it('the audit entry carries no request id when the request had none', async () => {
      const t = await tenantWithPasswords('login-noreq');
      const g = await graph();
      await attempt(g, { email: t.users.owner.email, password: 'nope' }, { ip: randomIp() });
      expect((await failures(g, t.id)).map((a) => a.request_id)).toEqual([null]);
      const email = `nobody.${randomBytes(4).toString('hex')}@example.test`;
      accounts.push(email);
      const ip = randomIp();
      await attempt(g, { email, password: 'nope' }, { ip });
      await g.failureAudit.settled();
      expect(g.lines.at(-1)!.fields).toEqual({ event: 'auth.login', outcome: 'failure', reason: 'unknown_user', account: digest(email), ip, requestId: undefined });
    });
  });

  describe(tag('AUTHN-LOGIN-THROTTLE', 'throttled'), () => {
    it('the failure that starts a block is audited as auth.rate_limited too; then the account is refused with a wait, without a password check, logged', async () => {
      const t = await tenantWithPasswords('login-throttle');
      const g = await graph({ LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '2' });
      const ip = randomIp();
      const email = t.users.member.email;
      await attempt(g, { email, password: 'nope' }, { ip, requestId: 'req-1' });
      expect((await failures(g, t.id)).map((a) => a.type)).toEqual(['auth.login']);
      await attempt(g, { email, password: 'nope' }, { ip, requestId: 'req-2' });
      const audited = await failures(g, t.id);
      expect(audited.map((a) => [a.type, a.outcome])).toEqual([
        ['auth.login', 'failure'],
        ['auth.login', 'failure'],
        ['auth.rate_limited', 'denied'],
      ]);
      expect(audited[2]).toMatchObject({ actor: `user:${t.users.member.id}`, ip, request_id: 'req-2', data: { limit: expect.any(String), blockSeconds: expect.any(Number) } });
      expect((audited[2]!.data as { blockSeconds: number }).blockSeconds).toBeGreaterThan(0);

      // Blocked: even the right password is refused, with a wait, and no verification is spent.
      const refused = await attempt(g, { email: ` ${email.toUpperCase()}`, password: PASSWORD }, { ip, requestId: 'req-3' });
      expect(refused.error!.code).toBe(AuthErrorCode.RateLimited);
      expect(refused.error!.retryAfterS).toBeGreaterThan(0);
      expect(refused.verifications).toBe(0);
      const warned = g.lines.filter((l) => l.message === 'login throttled');
      expect(warned).toEqual([{ level: 'warn', fields: { event: 'auth.rate_limited', reason: expect.any(String), account: digest(email), ip, requestId: 'req-3' }, message: 'login throttled' }]);
      expect((await failures(g, t.id)).length).toBe(3);
    });
  });

  it("a successful login first writes the tenant's failed attempts still queued, so they come first in its chain", async () => {
    const t = await tenantWithPasswords('login-order');
    const g = await graph();
    const ip = randomIp();
    await attempt(g, { email: t.users.owner.email, password: 'nope' }, { ip });
    await attempt(g, { email: t.users.owner.email, password: PASSWORD }, { ip });
    expect((await auditOf(owner, t.id, ['auth.login'])).map((a) => a.outcome)).toEqual(['failure', 'success']);
  });

  it('onModuleDestroy writes the failures still queued', async () => {
    const t = await tenantWithPasswords('login-destroy');
    const g = await graph();
    await attempt(g, { email: t.users.owner.email, password: 'nope' }, { ip: randomIp() });
    await g.login.onModuleDestroy();
    expect((await auditOf(owner, t.id, ['auth.login'])).map((a) => a.data)).toEqual([{ reason: 'wrong_password' }]);
  });
});

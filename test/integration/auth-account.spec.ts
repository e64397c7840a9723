import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { THROTTLE_KEY_PREFIX } from '@benteng/security';
import { Scope } from '@benteng/tenancy';
import { AuthError, AuthErrorCode } from '../../libs/auth/src/auth.errors.js';
import { hashPassword, verifyPassword } from '../../libs/auth/src/password-hasher.js';
import { auditOf, authGraph, insertSession, sessionsOf, setStatus } from '../support/auth-services.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { deleteKeys, ready, scanKeys, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/**
 * The signed-in user's account on the real PostgreSQL and Redis: switching tenant
 * (TenantSwitchService), changing the password (PasswordService) and reading the profile
 * (ProfileService), all through AccountsRepository and its named cross-tenant functions.
 */
const PASSWORD = 'old password, long enough';
const owner = ownerPool();
const database = tenantDatabase();
const redis = testRedis('auth-account-spec');
const users: string[] = [];
let hash: string;

beforeAll(async () => {
  await ready(redis);
  hash = await hashPassword(PASSWORD);
});

afterAll(async () => {
  const digests = users.map((u) => createHash('sha256').update(`user:${u}`).digest('hex'));
  await deleteKeys(redis, (await scanKeys(redis, `${THROTTLE_KEY_PREFIX}login-*`)).filter((k) => digests.some((d) => k.includes(d))));
  redis.disconnect();
});

const graph = (env: Record<string, string> = {}) => authGraph({ redis, db: database, env });
const meta = () => ({ ip: `10.${[...randomBytes(3)].join('.')}`, requestId: 'req-account' });
const codeOf = (error: unknown) => (error as AuthError).code;
const signedIn = (t: TestTenant, role: 'owner' | 'member' | 'viewer', sessionId?: string) =>
  Scope.for(t.id, { kind: 'user', userId: t.users[role].id, role, ...(sessionId ? { sessionId } : {}) });

/** Two tenants; the first tenant's member is a viewer of the second too. */
async function twoTenants(label: string): Promise<[TestTenant, TestTenant]> {
  const [a, b] = [await createTenant(owner, `${label}-a`), await createTenant(owner, `${label}-b`)];
  await ownerInTenant(owner, b.id, (c) => c.query("INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, 'viewer')", [b.id, randomUUID(), a.users.member.id]));
  await owner.query('UPDATE users SET password_hash = $2 WHERE id = $1', [a.users.member.id, hash]);
  users.push(a.users.member.id);
  return [a, b];
}

describe(tag('AUTHN-REVOCATION', 'TenantSwitchService on the database'), () => {
  it("a live session gets a new session in another of the user's tenants, with that tenant's role, audited there", async () => {
    const [a, b] = await twoTenants('switch');
    const sid = await insertSession(owner, a.id, { userId: a.users.member.id });
    const g = await graph();
    const m = meta();
    const pair = await g.tenantSwitch.switchTenant(signedIn(a, 'member', sid), b.slug, m);
    expect(pair).toMatchObject({ tokenType: 'Bearer', tenantId: b.id, role: 'viewer' });
    const claims = await g.accessTokens.verify(pair.accessToken);
    expect(claims).toMatchObject({ sub: a.users.member.id, tid: b.id, role: 'viewer' });
    expect((await sessionsOf(owner, b.id, a.users.member.id)).map((s) => s.id)).toEqual([claims.sid]);
    expect(await auditOf(owner, b.id, ['auth.tenant_switched'])).toEqual([
      { type: 'auth.tenant_switched', outcome: 'success', actor: `user:${a.users.member.id}`, subject: `session:${claims.sid}`, ip: m.ip, request_id: m.requestId, data: {} },
    ]);
  });

  it('no session, or a revoked one, gets nothing (unauthenticated)', async () => {
    const [a, b] = await twoTenants('switch-dead');
    const revoked = await insertSession(owner, a.id, { userId: a.users.member.id, revokedAt: new Date() });
    const g = await graph();
    for (const scope of [signedIn(a, 'member'), signedIn(a, 'member', revoked), Scope.for(a.id, { kind: 'system', name: 'auth' })]) {
      expect(codeOf(await g.tenantSwitch.switchTenant(scope, b.slug, meta()).catch((e: unknown) => e))).toBe(AuthErrorCode.Unauthenticated);
    }
    expect(await sessionsOf(owner, b.id, a.users.member.id)).toEqual([]);
  });

  it("a tenant that is not one of the user's, or is suspended, is not found", async () => {
    const [a, b] = await twoTenants('switch-other');
    const stranger = await createTenant(owner, 'switch-stranger');
    const sid = await insertSession(owner, a.id, { userId: a.users.member.id });
    const g = await graph();
    expect(codeOf(await g.tenantSwitch.switchTenant(signedIn(a, 'member', sid), stranger.slug, meta()).catch((e: unknown) => e))).toBe(AuthErrorCode.NoSuchMembership);
    await setStatus(owner, 'tenants', b.id, 'suspended');
    expect(codeOf(await g.tenantSwitch.switchTenant(signedIn(a, 'member', sid), b.slug, meta()).catch((e: unknown) => e))).toBe(AuthErrorCode.NoSuchMembership);
    expect(await sessionsOf(owner, b.id, a.users.member.id)).toEqual([]);
  });
});

describe(tag('AUTHN-REVOCATION', 'PasswordService on the database'), () => {
  it("the right current password: stores the new hash for the account, ends the user's other sessions in every tenant (the current one stays), audits", async () => {
    const [a, b] = await twoTenants('password');
    const user = a.users.member.id;
    const current = await insertSession(owner, a.id, { userId: user });
    const otherHere = await insertSession(owner, a.id, { userId: user });
    const there = await insertSession(owner, b.id, { userId: user });
    const g = await graph();
    const m = meta();
    await g.password.change(signedIn(a, 'member', current), current, { currentPassword: PASSWORD, newPassword: 'the new password' }, m);
    const { rows } = await owner.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [user]);
    expect(await verifyPassword(rows[0]!.password_hash, 'the new password')).toBe(true);
    expect((await sessionsOf(owner, a.id, user)).map((s) => [s.id, s.revoked_reason])).toEqual(expect.arrayContaining([[current, null], [otherHere, 'password_changed']]));
    expect((await sessionsOf(owner, b.id, user)).map((s) => [s.id, s.revoked_reason])).toEqual([[there, 'password_changed']]);
    expect(await redis.exists(`benteng:rev:session:${there}`)).toBe(1);
    expect(await auditOf(owner, a.id, ['auth.password_changed'])).toEqual([
      { type: 'auth.password_changed', outcome: 'success', actor: `user:${user}`, subject: `user:${user}`, ip: m.ip, request_id: m.requestId, data: { sessionsRevoked: 2 } },
    ]);
  });

  it('a wrong current password (or an account without one): refused, counted against the account, audited; nothing changes', async () => {
    const [a] = await twoTenants('password-wrong');
    const user = a.users.member.id;
    const current = await insertSession(owner, a.id, { userId: user });
    const other = await insertSession(owner, a.id, { userId: user });
    const g = await graph();
    const verify = vi.spyOn(g.hasher, 'verify');
    const m = meta();
    const error = await g.password.change(signedIn(a, 'member', current), current, { currentPassword: 'not it', newPassword: 'x'.repeat(20) }, m).catch((e: unknown) => e);
    expect(codeOf(error)).toBe(AuthErrorCode.WrongPassword);
    expect(verify).toHaveBeenCalledTimes(1);
    const { rows } = await owner.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [user]);
    expect(rows[0]!.password_hash).toBe(hash);
    expect((await sessionsOf(owner, a.id, user)).find((s) => s.id === other)!.revoked_at).toBeNull();
    expect(await auditOf(owner, a.id, ['auth.password_changed'])).toEqual([
      { type: 'auth.password_changed', outcome: 'failure', actor: `user:${user}`, subject: `user:${user}`, ip: m.ip, request_id: m.requestId, data: { reason: 'wrong_password' } },
    ]);
    const accountKeys = await scanKeys(redis, `${THROTTLE_KEY_PREFIX}login-account:failures:*`);
    expect(accountKeys.some((k) => k.endsWith(createHash('sha256').update(`user:${user}`).digest('hex')))).toBe(true);
    // A signed-in user's failure is not counted against the address (no anonymous spray to catch).
    expect((await scanKeys(redis, `${THROTTLE_KEY_PREFIX}login-ip:failures:*`)).filter((k) => k.endsWith(`:${m.ip}`))).toEqual([]);

    // Without a stored password the dummy hash is checked: refused the same way.
    await owner.query('UPDATE users SET password_hash = NULL WHERE id = $1', [user]);
    expect(codeOf(await g.password.change(signedIn(a, 'member', current), current, { currentPassword: '', newPassword: 'y'.repeat(20) }, m).catch((e: unknown) => e))).toBe(AuthErrorCode.WrongPassword);
    expect(verify).toHaveBeenCalledTimes(2);
    expect(verify.mock.calls[1]![0]).toBe(await g.hasher.dummyHash());
  });

  it('once the account is throttled, a change is refused with a wait before any password check', async () => {
    const [a] = await twoTenants('password-throttle');
    // A signed-in user's change is judged by the account's counter (all addresses) only.
    const g = await graph({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3' });
    const m = meta();
    // Three failures from three addresses: only the account's counter reaches its limit.
    for (let i = 0; i < 3; i++) await g.password.change(signedIn(a, 'member'), randomUUID(), { currentPassword: 'nope', newPassword: 'z'.repeat(20) }, meta()).catch(() => undefined);
    const verify = vi.spyOn(g.hasher, 'verify');
    const error = await g.password.change(signedIn(a, 'member'), randomUUID(), { currentPassword: PASSWORD, newPassword: 'z'.repeat(20) }, m).catch((e: unknown) => e);
    expect(codeOf(error)).toBe(AuthErrorCode.RateLimited);
    expect((error as AuthError).retryAfterS).toBeGreaterThan(0);
    expect(verify).not.toHaveBeenCalled();
    // Judged by the account: another address is refused too (a signed-in user is not an anonymous spray).
    expect(codeOf(await g.password.change(signedIn(a, 'member'), randomUUID(), { currentPassword: PASSWORD, newPassword: 'z'.repeat(20) }, meta()).catch((e: unknown) => e))).toBe(AuthErrorCode.RateLimited);


    // The other way round: an address blocked for anonymous logins does not stop a signed-in user's
    // change (judged by the account only).
    const [b] = await twoTenants('password-blocked-ip');
    const strict = await graph({ LOGIN_MAX_FAILURES_PER_IP: '2' });
    const blocked = meta();
    for (let i = 0; i < 2; i++) await strict.throttle.recordFailure({ account: `user:${randomUUID()}`, ip: blocked.ip });
    expect(await strict.throttle.check({ account: `user:${randomUUID()}`, ip: blocked.ip })).toMatchObject({ allowed: false, reason: 'ip' });
    await strict.password.change(signedIn(b, 'member'), randomUUID(), { currentPassword: PASSWORD, newPassword: 'the new password' }, blocked);
    const { rows } = await owner.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [b.users.member.id]);
    expect(rows[0]!.password_hash).not.toBe(hash);
  });
});

describe('ProfileService on the database', () => {
  it("the caller's account, the scope's tenant, and the memberships of every tenant", async () => {
    const [a, b] = await twoTenants('profile');
    const g = await graph();
    const profile = await g.profile.profile(signedIn(a, 'member'));
    expect(profile.user).toEqual({ id: a.users.member.id, email: a.users.member.email, displayName: `member ${a.slug}` });
    expect(profile.tenant).toEqual({ id: a.id, slug: a.slug, name: `Tenant ${a.slug}` });
    expect(profile.memberships).toEqual(
      expect.arrayContaining([
        { tenant_id: a.id, tenant_slug: a.slug, tenant_name: `Tenant ${a.slug}`, tenant_status: 'active', role: 'member' },
        { tenant_id: b.id, tenant_slug: b.slug, tenant_name: `Tenant ${b.slug}`, tenant_status: 'active', role: 'viewer' },
      ]),
    );
    expect(profile.memberships).toHaveLength(2);
    expect(await g.profile.memberships(signedIn(a, 'member'))).toEqual(profile.memberships);
  });

  it('a user who is not a member of the tenant, or a principal that is not a user, is unauthenticated', async () => {
    const [a, b] = await twoTenants('profile-stranger');
    const g = await graph();
    const stranger = Scope.for(b.id, { kind: 'user', userId: a.users.owner.id, role: 'member' });
    expect(codeOf(await g.profile.profile(stranger).catch((e: unknown) => e))).toBe(AuthErrorCode.Unauthenticated);
    expect(codeOf(await g.profile.profile(Scope.for(a.id, { kind: 'system', name: 'auth' })).catch((e: unknown) => e))).toBe(AuthErrorCode.Unauthenticated);
  });
});

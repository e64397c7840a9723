import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Scope } from '@benteng/tenancy';
import { AuthError, AuthErrorCode } from '../../libs/auth/src/auth.errors.js';
import { auditOf, authGraph, insertSession, sessionsOf, SettableClock } from '../support/auth-services.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { deleteKeys, ready, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/**
 * The signed-in user's sessions (SessionsService on SessionsRepository.listActive, revoke and
 * revokeInEveryTenant) on the real PostgreSQL and Redis: which sessions each call lists or ends,
 * in which tenants, with which reason, what is audited where, and that every ended session is
 * published to the revocation store at once (AUTHN-REVOCATION).
 */
const owner = ownerPool();
const database = tenantDatabase();
const redis = testRedis('auth-sessions-spec');
const ended: string[] = [];
let tenant: TestTenant;

beforeAll(async () => {
  await ready(redis);
  tenant = await createTenant(owner, 'sessions');
});

afterAll(async () => {
  await deleteKeys(redis, ended.map((id) => `benteng:rev:session:${id}`));
  redis.disconnect();
});

const graph = (clock = new SettableClock()) => authGraph({ clock, redis, db: database });
const meta = { ip: '192.0.2.55', requestId: 'req-sessions' };
const marked = async (id: string) => (await redis.exists(`benteng:rev:session:${id}`)) === 1;
const stateOf = async (t: TestTenant, role: 'owner' | 'admin' | 'member' | 'viewer', id: string) => (await sessionsOf(owner, t.id, t.users[role].id)).find((s) => s.id === id)!;
const live = async (t: TestTenant, role: 'owner' | 'admin' | 'member' | 'viewer') => {
  const id = await insertSession(owner, t.id, { userId: t.users[role].id });
  ended.push(id);
  return id;
};

/** The member of `tenant` becomes a member of a second tenant too (one account, two tenants). */
async function secondTenantOfMember(): Promise<TestTenant> {
  const other = await createTenant(owner, 'sessions-second');
  await ownerInTenant(owner, other.id, (c) => c.query("INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, 'viewer')", [other.id, randomUUID(), tenant.users.member.id]));
  return other;
}

describe(tag('AUTHN-REVOCATION', 'SessionsService on the database'), () => {
  it("list: the caller's own sessions in this tenant that are neither revoked nor expired, newest first, with their public fields", async () => {
    const other = await createTenant(owner, 'sessions-list');
    const clock = new SettableClock(new Date('2030-01-01T00:00:00.000Z'));
    const user = other.users.member.id;
    const older = await insertSession(owner, other.id, { userId: user, createdAt: new Date('2029-12-31T10:00:00.000Z'), expiresAt: new Date('2030-01-02T00:00:00.000Z'), userAgent: 'ua-older' });
    const newer = await insertSession(owner, other.id, { userId: user, createdAt: new Date('2029-12-31T11:00:00.000Z'), expiresAt: new Date('2030-01-01T00:00:00.001Z'), userAgent: 'ua-newer' });
    await insertSession(owner, other.id, { userId: user, createdAt: new Date('2029-12-31T12:00:00.000Z'), expiresAt: new Date('2030-01-01T00:00:00.000Z') }); // expires now
    await insertSession(owner, other.id, { userId: user, createdAt: new Date('2029-12-31T13:00:00.000Z'), expiresAt: new Date('2030-01-02T00:00:00.000Z'), revokedAt: new Date('2029-12-31T14:00:00.000Z') });
    await insertSession(owner, other.id, { userId: other.users.viewer.id, createdAt: new Date('2029-12-31T15:00:00.000Z'), expiresAt: new Date('2030-01-02T00:00:00.000Z') });
    const g = await graph(clock);
    expect(await g.sessions.list(other.scope('member'))).toEqual([
      { id: newer, createdAt: new Date('2029-12-31T11:00:00.000Z'), lastSeenAt: new Date('2029-12-31T11:00:00.000Z'), expiresAt: new Date('2030-01-01T00:00:00.001Z'), userAgent: 'ua-newer', ip: '192.0.2.1' },
      { id: older, createdAt: new Date('2029-12-31T10:00:00.000Z'), lastSeenAt: new Date('2029-12-31T10:00:00.000Z'), expiresAt: new Date('2030-01-02T00:00:00.000Z'), userAgent: 'ua-older', ip: '192.0.2.1' },
    ]);
    // The owner of the tenant sees their own sessions here, not the member's.
    expect(await g.sessions.list(other.scope('owner'))).toEqual([]);
  });

  it('logout: ends the named session of the caller (reason logout), publishes it, audits auth.logout; the other sessions stay', async () => {
    const g = await graph();
    const [mine, kept] = [await live(tenant, 'member'), await live(tenant, 'member')];
    await g.sessions.logout(tenant.scope('member'), mine, meta);
    expect(await stateOf(tenant, 'member', mine)).toMatchObject({ revoked_reason: 'logout', revoked_at: expect.any(Date) });
    expect(await stateOf(tenant, 'member', kept)).toMatchObject({ revoked_at: null });
    expect([await marked(mine), await marked(kept)]).toEqual([true, false]);
    expect((await auditOf(owner, tenant.id, ['auth.logout'])).filter((a) => a.subject === `session:${mine}`)).toEqual([
      { type: 'auth.logout', outcome: 'success', actor: `user:${tenant.users.member.id}`, subject: `session:${mine}`, ip: meta.ip, request_id: meta.requestId, data: {} },
    ]);
  });

  it("revokeSession: the caller's own session (reason revoked, audited auth.session_revoked); an unknown or already ended one is not found", async () => {
    const g = await graph();
    const mine = await live(tenant, 'member');
    await g.sessions.revokeSession(tenant.scope('member'), mine, meta);
    expect(await stateOf(tenant, 'member', mine)).toMatchObject({ revoked_reason: 'revoked' });
    expect(await marked(mine)).toBe(true);
    expect((await auditOf(owner, tenant.id, ['auth.session_revoked'])).filter((a) => a.subject === `session:${mine}`)).toEqual([
      { type: 'auth.session_revoked', outcome: 'success', actor: `user:${tenant.users.member.id}`, subject: `session:${mine}`, ip: meta.ip, request_id: meta.requestId, data: {} },
    ]);
    for (const id of [mine, randomUUID()]) {
      const error = await g.sessions.revokeSession(tenant.scope('member'), id, meta).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as AuthError).code).toBe(AuthErrorCode.SessionNotFound);
    }
  });

  it("revokeSession: a member cannot end another user's session (not found, left live); an admin can", async () => {
    const g = await graph();
    const theirs = await live(tenant, 'viewer');
    const error = await g.sessions.revokeSession(tenant.scope('member'), theirs, meta).catch((e: unknown) => e);
    expect((error as AuthError).code).toBe(AuthErrorCode.SessionNotFound);
    expect(await stateOf(tenant, 'viewer', theirs)).toMatchObject({ revoked_at: null });
    expect(await marked(theirs)).toBe(false);
    await g.sessions.revokeSession(tenant.scope('admin'), theirs, meta);
    expect(await stateOf(tenant, 'viewer', theirs)).toMatchObject({ revoked_reason: 'revoked' });
    expect(await marked(theirs)).toBe(true);
    expect((await auditOf(owner, tenant.id, ['auth.session_revoked'])).find((a) => a.subject === `session:${theirs}`)?.actor).toBe(`user:${tenant.users.admin.id}`);
  });

  it("logoutAll: ends every session of the caller in every tenant, publishes each, audits each in its own tenant and the whole in the caller's", async () => {
    const other = await secondTenantOfMember();
    const g = await graph();
    const here = [await live(tenant, 'member'), await live(tenant, 'member')];
    const there = await insertSession(owner, other.id, { userId: tenant.users.member.id });
    ended.push(there);
    const bystander = await live(tenant, 'viewer');
    const count = await g.sessions.logoutAll(tenant.scope('member'), meta);
    const mineHere = (await sessionsOf(owner, tenant.id, tenant.users.member.id)).filter((s) => s.revoked_reason === 'logout_all').map((s) => s.id);
    expect(mineHere).toEqual(expect.arrayContaining(here));
    expect(count).toBe(mineHere.length + 1);
    expect((await sessionsOf(owner, other.id, tenant.users.member.id)).map((s) => s.revoked_reason)).toEqual(['logout_all']);
    expect(await stateOf(tenant, 'viewer', bystander)).toMatchObject({ revoked_at: null });
    expect(await Promise.all([...here, there, bystander].map(marked))).toEqual([true, true, true, false]);

    const actor = `user:${tenant.users.member.id}`;
    expect((await auditOf(owner, other.id, ['auth.session_revoked', 'auth.logout_all']))).toEqual([
      { type: 'auth.session_revoked', outcome: 'success', actor, subject: `session:${there}`, ip: meta.ip, request_id: meta.requestId, data: { reason: 'logout_all' } },
    ]);
    const audited = await auditOf(owner, tenant.id, ['auth.session_revoked', 'auth.logout_all']);
    for (const id of here) expect(audited).toContainEqual({ type: 'auth.session_revoked', outcome: 'success', actor, subject: `session:${id}`, ip: meta.ip, request_id: meta.requestId, data: { reason: 'logout_all' } });
    expect(audited.filter((a) => a.type === 'auth.logout_all')).toEqual([{ type: 'auth.logout_all', outcome: 'success', actor, subject: actor, ip: meta.ip, request_id: meta.requestId, data: { sessions: count } }]);
  });

  it('revokeEverywhere keeps the one session named (a password change keeps the current one) and gives the reason', async () => {
    const other = await createTenant(owner, 'sessions-keep');
    const user = other.users.member.id;
    const keep = await insertSession(owner, other.id, { userId: user });
    const end = await insertSession(owner, other.id, { userId: user });
    ended.push(keep, end);
    const g = await graph();
    expect(await g.sessions.revokeEverywhere(other.scope('member'), { tenantId: other.id, sessionId: keep }, 'password_changed', meta)).toBe(1);
    expect((await sessionsOf(owner, other.id, user)).map((s) => [s.id, s.revoked_reason])).toEqual(expect.arrayContaining([[keep, null], [end, 'password_changed']]));
    expect([await marked(keep), await marked(end)]).toEqual([false, true]);
    // Nothing left to end: nothing published, nothing audited, 0.
    const before = (await auditOf(owner, other.id)).length;
    expect(await g.sessions.revokeEverywhere(other.scope('member'), { tenantId: other.id, sessionId: keep }, 'password_changed', meta)).toBe(0);
    expect((await auditOf(owner, other.id)).length).toBe(before);
  });

  it('a principal that is not a signed-in user is unauthenticated here', async () => {
    const g = await graph();
    const system = Scope.for(tenant.id, { kind: 'system', name: 'auth' });
    const calls: (() => Promise<unknown>)[] = [() => g.sessions.list(system), () => g.sessions.logoutAll(system, meta), () => g.sessions.revokeSession(system, randomUUID(), meta)];
    for (const call of calls) {
      const error = await Promise.resolve()
        .then(call)
        .catch((e: unknown) => e);
      expect((error as AuthError).code).toBe(AuthErrorCode.Unauthenticated);
    }
  });
});

import { randomInt, randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RevocationStore } from '@benteng/auth';
import { REDIS } from '@benteng/redis';
import type { TestApi } from '../support/api.js';
import { addMembership, buildAuthApi, Caller, randomPassword, SecretLedger, setPassword, withoutRequestId, type Session } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

const owner = ownerPool();
const secrets = new SecretLedger();

let api: TestApi;

beforeAll(async () => {
  api = secrets.watch(await buildAuthApi());
});
afterAll(() => api?.close());

const status = async (client: Caller, session: Session) => (await client.me(session.accessToken)).status;

/** A user with a password, logged in as `role` of a fresh tenant. */
async function member(role: 'owner' | 'admin' | 'member' | 'viewer' = 'member') {
  const tenant = await createTenant(owner, 'revoke');
  const user = tenant.users[role];
  const password = await setPassword(owner, secrets, user.id);
  const client = new Caller(api, secrets);
  return { tenant, user, password, client, session: await client.loginOk(user.email, password) };
}

describe(tag('AUTHN-REVOCATION', 'revocation takes effect on the next request'), () => {
  it('logout: the same access token is refused on the very next request, and its refresh token too', async () => {
    const { client, session } = await member();
    expect(await status(client, session)).toBe(200);

    expect((await client.call('post', '/v1/auth/logout', { token: session.accessToken })).status).toBe(204);

    expect(await status(client, session)).toBe(401);
    expect((await client.refresh(session.refreshToken)).status).toBe(401);
    expect((await client.call('post', '/v1/auth/logout', { token: session.accessToken })).status).toBe(401);
  });

  it('DELETE /v1/sessions/:id ends another session of one’s own and leaves the current one', async () => {
    const { client, user, password, session: current } = await member();
    const other = await client.loginOk(user.email, password);
    const listed = await client.call('get', '/v1/sessions', { token: current.accessToken });
    expect(listed.body.items.map((s: { id: string; current: boolean }) => [s.id, s.current]).sort()).toEqual(
      [
        [current.sessionId, true],
        [other.sessionId, false],
      ].sort(),
    );

    expect((await client.call('delete', `/v1/sessions/${other.sessionId}`, { token: current.accessToken })).status).toBe(204);

    expect(await status(client, other)).toBe(401);
    expect(await status(client, current)).toBe(200);
    const after = await client.call('get', '/v1/sessions', { token: current.accessToken });
    expect(after.body.items.map((s: { id: string }) => s.id)).toEqual([current.sessionId]);
  });

  it('an admin ends a member’s session; a member cannot end someone else’s (404, like a session that does not exist)', async () => {
    const { tenant, client, session: admin } = await member('admin');
    const target = await client.loginOk(tenant.users.member.email, await setPassword(owner, secrets, tenant.users.member.id));
    const viewer = await client.loginOk(tenant.users.viewer.email, await setPassword(owner, secrets, tenant.users.viewer.id));

    // The member may not end the viewer's session nor the admin's, and learns nothing from trying.
    const denied = await client.call('delete', `/v1/sessions/${viewer.sessionId}`, { token: target.accessToken });
    const deniedAdmin = await client.call('delete', `/v1/sessions/${admin.sessionId}`, { token: target.accessToken });
    const missing = await client.call('delete', `/v1/sessions/${randomUUID()}`, { token: target.accessToken });
    for (const res of [denied, deniedAdmin, missing]) {
      expect(res.status).toBe(404);
      expect(withoutRequestId(res.body)).toEqual(withoutRequestId(missing.body));
    }
    expect(missing.body.code).toBe('auth.session_not_found');
    expect(await status(client, viewer)).toBe(200);
    expect(await status(client, admin)).toBe(200);

    expect((await client.call('delete', `/v1/sessions/${target.sessionId}`, { token: admin.accessToken })).status).toBe(204);
    expect(await status(client, target)).toBe(401);
    expect(await status(client, admin)).toBe(200);
  });

  it('an admin cannot end a session of another tenant: 404, the same as a missing one', async () => {
    const { client, session: admin } = await member('admin');
    const { session: foreign, client: foreignClient } = await member('member');
    const res = await client.call('delete', `/v1/sessions/${foreign.sessionId}`, { token: admin.accessToken });
    const missing = await client.call('delete', `/v1/sessions/${randomUUID()}`, { token: admin.accessToken });
    expect(res.status).toBe(404);
    expect(withoutRequestId(res.body)).toEqual(withoutRequestId(missing.body));
    expect(await status(foreignClient, foreign)).toBe(200);
  });

  it('logout-all ends every session of the user in every tenant', async () => {
    const { tenant, user, password, client, session: a1 } = await member();
    const second = await createTenant(owner, 'revoke-second');
    await addMembership(owner, second.id, user.id, 'viewer');
    const a2 = await client.loginOk(user.email, password);
    const b1 = await client.loginOk(user.email, password, second.slug);
    expect(b1.tenantId).toBe(second.id);
    // Someone else's session in the same tenant is not touched.
    const bystander = await client.loginOk(tenant.users.viewer.email, await setPassword(owner, secrets, tenant.users.viewer.id));

    expect((await client.call('post', '/v1/auth/logout-all', { token: a1.accessToken })).status).toBe(204);

    for (const session of [a1, a2, b1]) {
      expect(await status(client, session)).toBe(401);
      expect((await client.refresh(session.refreshToken)).status).toBe(401);
    }
    expect(await status(client, bystander)).toBe(200);
  });

  it('a password change keeps the current session, ends every other one in every tenant, and retires the old password', async () => {
    const { user, password, client, session: current } = await member();
    const second = await createTenant(owner, 'password-second');
    await addMembership(owner, second.id, user.id, 'member');
    const sibling = await client.loginOk(user.email, password);
    const elsewhere = await client.loginOk(user.email, password, second.slug);
    const newPassword = randomPassword();
    secrets.add(newPassword);

    // A wrong current password changes nothing.
    const wrong = await client.call('post', '/v1/auth/password', { token: current.accessToken, body: { currentPassword: randomPassword(), newPassword } });
    expect(wrong.status).toBe(403);
    expect(await status(client, sibling)).toBe(200);

    const res = await client.call('post', '/v1/auth/password', { token: current.accessToken, body: { currentPassword: password, newPassword } });
    expect(res.status).toBe(204);

    expect(await status(client, current)).toBe(200);
    expect(await status(client, sibling)).toBe(401);
    expect(await status(client, elsewhere)).toBe(401);
    expect((await client.refresh(sibling.refreshToken)).status).toBe(401);
    await client.refreshOk(current.refreshToken);

    expect((await client.login(user.email, password)).status).toBe(401);
    await client.loginOk(user.email, newPassword);
  });

  it('a role change (PATCH /v1/members/:id) ends the member’s sessions, and the next login carries the new role', async () => {
    const { tenant, client, session: admin } = await member('admin');
    const password = await setPassword(owner, secrets, tenant.users.member.id);
    const before = [await client.loginOk(tenant.users.member.email, password), await client.loginOk(tenant.users.member.email, password)];
    const members = await client.call('get', '/v1/members', { token: admin.accessToken });
    const membership = (members.body.items as { id: string; email: string }[]).find((m) => m.email === tenant.users.member.email)!;

    const res = await client.call('patch', `/v1/members/${membership.id}`, { token: admin.accessToken, body: { role: 'viewer' } });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: membership.id, role: 'viewer' });

    for (const session of before) {
      expect(await status(client, session)).toBe(401);
      expect((await client.refresh(session.refreshToken)).status).toBe(401);
    }
    expect(await status(client, admin)).toBe(200);
    const again = await client.loginOk(tenant.users.member.email, password);
    expect(again.role).toBe('viewer');
  });

  it('across instances: revoked on instance A, refused on instance B’s next request (and the other way round)', async () => {
    const b = secrets.watch(await buildAuthApi());
    try {
      const { user, password, client: onA, session: first } = await member();
      const onB = new Caller(b, secrets, onA.ip);
      const second = await onA.loginOk(user.email, password);
      expect(await status(onB, first)).toBe(200);
      expect(await status(onB, second)).toBe(200);

      expect((await onA.call('post', '/v1/auth/logout', { token: first.accessToken })).status).toBe(204);
      expect(await status(onB, first)).toBe(401);

      expect((await onB.call('post', '/v1/auth/logout', { token: second.accessToken })).status).toBe(204);
      expect(await status(onA, second)).toBe(401);
    } finally {
      await b.close();
    }
  });
});

describe(tag('AUTHN-REVOCATION', 'revocation in the gate\'s one Redis round trip'), () => {
  /** The Redis commands the app sends while `run` runs: name and keys/arguments. */
  async function commandsDuring(run: () => Promise<unknown>): Promise<string[][]> {
    const redis = api.app.get<Redis>(REDIS);
    const sent: string[][] = [];
    const original = redis.sendCommand.bind(redis);
    const spy = vi.spyOn(redis, 'sendCommand').mockImplementation((command, ...rest) => {
      sent.push([command.name, ...command.args.map(String)]);
      return original(command, ...rest);
    });
    try {
      await run();
    } finally {
      spy.mockRestore();
    }
    return sent;
  }

  // Single Redis only: on a cluster the gate reads them one by one (RateLimiter.consumeUnless), as
  // the specs of the scale run show with this file's other tests.
  it.skipIf(Boolean(process.env.REDIS_CLUSTER_NODES))('an authenticated request reads its revocation markers in the same script as its block and rate limits, and a revoked one consumes no budget', async () => {
    const { client, session, user, tenant } = await member();
    await api.app.get(RevocationStore).resync();
    expect(await status(client, session)).toBe(200);

    const sent = await commandsDuring(() => status(client, session).then((code) => expect(code).toBe(200)));
    const touching = (prefix: string) => sent.filter((command) => command.some((arg) => arg.startsWith(prefix)));
    // One script carries READY, the session's, user's and tenant's markers, the principal's block
    // and both rate-limit keys; nothing else reads a marker.
    const revocation = touching('benteng:rev:');
    expect(revocation).toHaveLength(1);
    expect(revocation[0]![0]).toMatch(/^eval(sha)?$/);
    expect(revocation[0]).toEqual(
      expect.arrayContaining([
        'benteng:rev:ready',
        `benteng:rev:session:${session.sessionId}`,
        `benteng:rev:user:${user.id}`,
        `benteng:rev:tenant:${tenant.id}`,
        `benteng:abuse:block:principal:user:${user.id}`,
        `benteng:rl:user:read:user:${user.id}`,
        `benteng:rl:tenant:${tenant.id}`,
      ]),
    );
    expect(touching('benteng:abuse:block:principal:')).toEqual(revocation);
    expect(touching('benteng:rl:')).toEqual(revocation);

    const redis = api.app.get<Redis>(REDIS);
    const cell = `benteng:rl:user:read:user:${user.id}`;
    const before = await redis.get(cell);
    expect((await client.call('post', '/v1/auth/logout', { token: session.accessToken })).status).toBe(204);
    expect(await status(client, session)).toBe(401);
    expect(await status(client, session)).toBe(401);
    // Refused by its marker in the script, before the limiter: its budget is as it was.
    expect(await redis.get(cell)).toBe(before);
  });
});

describe(tag('AUTHN-REVOCATION', 'revocation when Redis cannot be trusted (never fail open)'), () => {
  it('with Redis unreachable: logins still work (per-instance throttling), a revoked session is refused and a valid one accepted, from Postgres', async () => {
    const deadRedis = new Redis('redis://127.0.0.1:1', { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null });
    deadRedis.on('error', () => undefined);
    const dead = secrets.watch(await buildAuthApi({ overrides: [{ token: REDIS, value: deadRedis }] }));
    try {
      const tenant = await createTenant(owner, 'no-redis');
      const password = await setPassword(owner, secrets, tenant.users.member.id);
      const client = new Caller(dead, secrets);
      const loggedOut = await client.loginOk(tenant.users.member.email, password);
      const kept = await client.loginOk(tenant.users.member.email, password);
      const revokedInDb = await client.loginOk(tenant.users.member.email, password);
      expect(secrets.lines().some((l) => l.msg === 'Redis unavailable: login throttling falls back to per-instance limits')).toBe(true);

      expect(await status(client, loggedOut)).toBe(200);
      expect((await client.call('post', '/v1/auth/logout', { token: loggedOut.accessToken })).status).toBe(204);
      await owner.query('UPDATE sessions SET revoked_at = now() WHERE tenant_id = $1 AND id = $2', [tenant.id, revokedInDb.sessionId]);

      expect(await status(client, loggedOut)).toBe(401);
      expect(await status(client, revokedInDb)).toBe(401);
      expect(await status(client, kept)).toBe(200);

      // A session revoked through a healthy instance is refused here too.
      const healthy = new Caller(api, secrets, client.ip);
      expect((await healthy.call('post', '/v1/auth/logout', { token: kept.accessToken })).status).toBe(204);
      expect(await status(client, kept)).toBe(401);
    } finally {
      await dead.close();
    }
  });

  // A Redis Cluster has database 0 only (`npm run test:scale`): these run on a single Redis.
  describe.skipIf(process.env.REDIS_CLUSTER_NODES)('Redis without its markers (restarted empty)', () => {
    // These tests delete shared keys, so their app uses a Redis database of its own: on the shared
    // one, any other process's next request would resync and restore READY before ours is served.
    let fresh: TestApi;
    let redis: Redis;
    let store: RevocationStore;

    beforeAll(async () => {
      const url = new URL(process.env.REDIS_URL!);
      url.pathname = `/${1 + randomInt(15)}`;
      fresh = secrets.watch(await buildAuthApi({ env: { REDIS_URL: url.toString() } }));
      redis = fresh.app.get<Redis>(REDIS);
      store = fresh.app.get(RevocationStore);
      // Let the start-up resync finish, so it cannot restore READY after a test removed it.
      if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
      await store.resync();
    });
    afterAll(() => fresh?.close());

    async function threeSessions() {
      const tenant = await createTenant(owner, 'no-markers');
      const password = await setPassword(owner, secrets, tenant.users.member.id);
      const client = new Caller(fresh, secrets);
      const login = () => client.loginOk(tenant.users.member.email, password);
      return { tenant, client, sessions: [await login(), await login(), await login()] as const };
    }

    it('READY missing: a session revoked only in Postgres is refused on the next request, a valid one accepted', async () => {
      const { tenant, client, sessions } = await threeSessions();
      const [revoked, valid] = sessions;
      const fromDatabase = vi.spyOn(store, 'revokedInDatabase');
      try {
        await owner.query('UPDATE sessions SET revoked_at = now() WHERE tenant_id = $1 AND id = $2', [tenant.id, revoked.sessionId]);
        expect(await redis.del('benteng:rev:ready')).toBe(1);

        expect(await status(client, revoked)).toBe(401);
        expect(fromDatabase).toHaveBeenCalledWith(expect.objectContaining({ sid: revoked.sessionId }));
        expect(await status(client, valid)).toBe(200);
      } finally {
        fromDatabase.mockRestore();
      }
    });

    it('all markers lost (FLUSHDB): revocations published before are still refused, from Postgres, and the resync rebuilds their markers', async () => {
      const { client, sessions } = await threeSessions();
      const [loggedOut, endedById, valid] = sessions;
      expect((await client.call('post', '/v1/auth/logout', { token: loggedOut.accessToken })).status).toBe(204);
      expect((await client.call('delete', `/v1/sessions/${endedById.sessionId}`, { token: valid.accessToken })).status).toBe(204);
      expect(await redis.exists(`benteng:rev:session:${loggedOut.sessionId}`)).toBe(1);

      await redis.flushdb();

      expect(await status(client, loggedOut)).toBe(401);
      expect(await status(client, endedById)).toBe(401);
      expect(await status(client, valid)).toBe(200);
      await store.resync();
      expect(await redis.get('benteng:rev:ready')).toBe('1');
      expect(await redis.exists(`benteng:rev:session:${loggedOut.sessionId}`, `benteng:rev:session:${endedById.sessionId}`)).toBe(2);
      expect(await status(client, loggedOut)).toBe(401);
      expect(await status(client, valid)).toBe(200);
    });
  });
});

it('never writes an issued token or a password it was sent to the logs', () => {
  expect(secrets.counts.secrets).toBeGreaterThan(20);
  expect(secrets.counts.logLines).toBeGreaterThan(0);
  expect(secrets.leaks()).toEqual([]);
});

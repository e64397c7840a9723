import { randomUUID } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { RevocationStore, type Revocation } from '../../libs/auth/src/revocation-store.js';
import type { RedisClient } from '@benteng/redis';
import { authConfig, capturingLogger, insertSession, setStatus, SettableClock, systemClock } from '../support/auth-services.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { deleteKeys, ready, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/**
 * RevocationStore (AUTHN-REVOCATION) on the real Redis and PostgreSQL: markers answer the common
 * case, Postgres answers whenever the markers cannot be trusted, and a resync rebuilds them. Redis
 * faults are injected by wrapping the real client (a command that rejects, a connection event);
 * every other command reaches the real Redis.
 */
const READY = 'benteng:rev:ready';
const marker = (r: Revocation) => `benteng:rev:${r.kind}:${r.id}`;

const owner = ownerPool();
const { db, prisma } = tenantDatabase();
const redis = testRedis('revocation-store-spec');
const written: string[] = [];
let tenant: TestTenant;

beforeAll(async () => {
  await ready(redis);
  tenant = await createTenant(owner, 'revocation');
});

afterAll(async () => {
  await deleteKeys(redis, written);
  redis.disconnect();
});

/**
 * The real client with its own connection events (`emit`), an overridable `status`, and commands
 * replaced by `overrides`: what a store sees while Redis drops, reconnects or refuses a command.
 */
function wrapped(overrides: Record<string, unknown> = {}) {
  const events = new EventEmitter();
  let status: string | undefined;
  const client = new Proxy(redis, {
    get(target, prop) {
      if (prop === 'on') return (event: string, listener: (...args: unknown[]) => void) => (events.on(event, listener), client);
      if (prop === 'status') return status ?? target.status;
      if (typeof prop === 'string' && prop in overrides) return overrides[prop];
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  }) as RedisClient;
  return { client, emit: (event: string) => events.emit(event), setStatus: (s: string | undefined) => (status = s) };
}

function store(options: { client?: RedisClient; clock?: SettableClock; env?: Record<string, string> } = {}) {
  const { logger, lines, contexts } = capturingLogger();
  const config = authConfig(options.env);
  const sut = new RevocationStore(options.client ?? redis, prisma, db, config, options.clock ?? systemClock(), logger);
  return { sut, lines, contexts, config };
}

/** A store that completed a resync on its current connection (markers trusted). */
async function synced(options: Parameters<typeof store>[0] = {}) {
  const made = store(options);
  await made.sut.resync();
  return made;
}

const claimsOf = async (role: 'member' | 'viewer' = 'member', seed: { expiresAt?: Date; revokedAt?: Date | null } = {}) => {
  const userId = tenant.users[role].id;
  const sid = await insertSession(owner, tenant.id, { userId, ...seed });
  return { tid: tenant.id, sub: userId, sid };
};

/** Marker keys this file writes, remembered for afterAll. */
const remember = (...revocations: Revocation[]) => {
  written.push(...revocations.map(marker));
  return revocations;
};

describe(tag('AUTHN-REVOCATION', 'RevocationStore'), () => {
  describe('publish', () => {
    it('writes one marker per revocation that lives as long as an access token can, plus 60 s', async () => {
      const { sut, contexts, config, lines } = store();
      expect(contexts).toEqual(['RevocationStore']);
      const revocations = remember({ kind: 'session', id: randomUUID() }, { kind: 'user', id: randomUUID() }, { kind: 'tenant', id: randomUUID() });
      await sut.publish(revocations);
      for (const r of revocations) {
        expect(await redis.get(marker(r))).toBe('1');
        const ttl = await redis.ttl(marker(r));
        expect(ttl).toBeGreaterThan(config.ACCESS_TOKEN_TTL_S + 50);
        expect(ttl).toBeLessThanOrEqual(config.ACCESS_TOKEN_TTL_S + 60);
      }
      expect(lines).toEqual([]);
    });

    it('an empty list sends nothing to Redis', async () => {
      const sent: string[] = [];
      const { client } = wrapped({ multi: () => (sent.push('multi'), redis.multi()), del: (...keys: string[]) => (sent.push('del'), redis.del(...keys)) });
      await store({ client }).sut.publish([]);
      expect(sent).toEqual([]);
    });

    it.each([
      ['one command of the MULTI fails', [[null, 'OK'], [new Error('OOM'), null]]],
      ['the MULTI is discarded (null)', null],
    ])('when %s: deletes READY (every instance asks Postgres until a resync) and warns', async (_, results) => {
      await redis.set(READY, '1');
      const { client } = wrapped({ multi: () => ({ set: () => undefined, exec: async () => results }) });
      const { sut, lines } = store({ client });
      const revocations = remember({ kind: 'session', id: randomUUID() }, { kind: 'user', id: randomUUID() });
      await sut.publish(revocations);
      expect(await redis.exists(READY)).toBe(0);
      expect(lines).toEqual([{ level: 'warn', fields: { count: 2 }, message: 'revocation markers not written; checks fall back to Postgres' }]);
    });

    it('a MULTI whose every command succeeded is not a failure', async () => {
      await redis.set(READY, '1');
      const { client } = wrapped({ multi: () => ({ set: () => undefined, exec: async () => [[null, 'OK']] }) });
      const { sut, lines } = store({ client });
      await sut.publish(remember({ kind: 'session', id: randomUUID() }));
      expect(await redis.exists(READY)).toBe(1);
      expect(lines).toEqual([]);
    });

    it('a Redis that refuses even the DEL of READY does not make publish throw', async () => {
      const { client } = wrapped({ multi: () => ({ set: () => undefined, exec: async () => Promise.reject(new Error('down')) }), del: async () => Promise.reject(new Error('down')) });
      const { sut, lines } = store({ client });
      await expect(sut.publish(remember({ kind: 'tenant', id: randomUUID() }))).resolves.toBeUndefined();
      expect(lines.map((l) => l.level)).toEqual(['warn']);
    });
  });

  describe('lift', () => {
    it("deletes the user's or tenant's marker only", async () => {
      const [lifted, kept] = remember({ kind: 'user', id: randomUUID() }, { kind: 'user', id: randomUUID() });
      const { sut } = store();
      await sut.publish([lifted!, kept!]);
      await redis.set(READY, '1');
      await sut.lift(lifted!);
      expect([await redis.exists(marker(lifted!)), await redis.exists(marker(kept!)), await redis.exists(READY)]).toEqual([0, 1, 1]);
    });

    it('when the DEL fails, deletes READY instead (the marker may still be there)', async () => {
      await redis.set(READY, '1');
      const asked: string[][] = [];
      const { client } = wrapped({
        del: async (...keys: string[]) => {
          asked.push(keys);
          if (keys[0] !== READY) throw new Error('down');
          return redis.del(...keys);
        },
      });
      const revocation = { kind: 'tenant' as const, id: randomUUID() };
      await store({ client }).sut.lift(revocation);
      expect(asked).toEqual([[marker(revocation)], [READY]]);
      expect(await redis.exists(READY)).toBe(0);
    });

    it('a Redis that refuses both DELs does not make lift throw', async () => {
      const { client } = wrapped({ del: async () => Promise.reject(new Error('down')) });
      await expect(store({ client }).sut.lift({ kind: 'user', id: randomUUID() })).resolves.toBeUndefined();
    });
  });

  describe('resync', () => {
    it('rebuilds the markers of revoked sessions, locked users and suspended tenants, then READY (without expiry), and logs the count', async () => {
      const other = await createTenant(owner, 'revocation-resync');
      const revoked = await insertSession(owner, other.id, { userId: other.users.member.id });
      await ownerInTenant(owner, other.id, (c) => c.query("UPDATE sessions SET revoked_at = now(), revoked_reason = 'logout' WHERE id = $1", [revoked]));
      const live = await insertSession(owner, other.id, { userId: other.users.viewer.id });
      await setStatus(owner, 'users', other.users.admin.id, 'locked');
      const suspended = await createTenant(owner, 'revocation-suspended');
      await setStatus(owner, 'tenants', suspended.id, 'suspended');
      remember({ kind: 'session', id: revoked }, { kind: 'user', id: other.users.admin.id }, { kind: 'tenant', id: suspended.id });
      await redis.del(READY);

      const { sut, lines, config } = store();
      expect(sut.guards({ tid: other.id, sub: other.users.viewer.id, sid: live })).toBeUndefined();
      await sut.resync();
      expect(await redis.get(marker({ kind: 'session', id: revoked }))).toBe('1');
      expect(await redis.ttl(marker({ kind: 'session', id: revoked }))).toBeGreaterThan(config.ACCESS_TOKEN_TTL_S + 50);
      expect(await redis.get(marker({ kind: 'user', id: other.users.admin.id }))).toBe('1');
      expect(await redis.get(marker({ kind: 'tenant', id: suspended.id }))).toBe('1');
      expect(await redis.exists(marker({ kind: 'session', id: live }))).toBe(0);
      expect(await redis.get(READY)).toBe('1');
      expect(await redis.ttl(READY)).toBe(-1);
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 'info', message: 'revocation markers rebuilt from Postgres' });
      const { markers } = lines[0]!.fields as { markers: number };
      expect(markers).toBeGreaterThanOrEqual(3);
      // Trusted from now on: the guards are given.
      expect(sut.guards({ tid: other.id, sub: other.users.viewer.id, sid: live })).toHaveLength(4);
    });

    it('a session revoked longer ago than the marker lifetime is not rebuilt (its access tokens have expired)', async () => {
      const sid = await insertSession(owner, tenant.id, { userId: tenant.users.viewer.id });
      await ownerInTenant(owner, tenant.id, async (c) => {
        await c.query("UPDATE sessions SET revoked_at = now() - interval '2 hours', revoked_reason = 'logout' WHERE id = $1", [sid]);
        await c.query("UPDATE session_revocations SET revoked_at = now() - interval '2 hours' WHERE id = $1", [sid]);
      });
      remember({ kind: 'session', id: sid });
      // The marker lifetime (ACCESS_TOKEN_TTL_S + 60 s, minutes): two hours ago is outside it, one minute inside.
      const recent = await insertSession(owner, tenant.id, { userId: tenant.users.viewer.id });
      await ownerInTenant(owner, tenant.id, async (c) => {
        await c.query("UPDATE sessions SET revoked_at = now() - interval '1 minute', revoked_reason = 'logout' WHERE id = $1", [recent]);
        await c.query("UPDATE session_revocations SET revoked_at = now() - interval '1 minute' WHERE id = $1", [recent]);
      });
      remember({ kind: 'session', id: recent });
      await store().sut.resync();
      expect(await redis.exists(marker({ kind: 'session', id: sid }))).toBe(0);
      expect(await redis.exists(marker({ kind: 'session', id: recent }))).toBe(1);
    });

    it('one resync at a time per connection: a second call while one runs gets the same promise; a later one starts anew', async () => {
      const { sut } = store();
      const first = sut.resync();
      expect(sut.resync()).toBe(first);
      await first;
      const second = sut.resync();
      expect(second).not.toBe(first);
      await second;
    });

    it('a connection that dropped while a resync ran starts its own resync, and the earlier one does not count', async () => {
      const claims = await claimsOf();
      const { client, emit } = wrapped();
      const { sut } = store({ client });
      sut.onApplicationBootstrap(); // starts a resync: status is ready
      const first = Reflect.get(sut, 'resyncing') as Promise<void>;
      expect(first).toBeInstanceOf(Promise);
      emit('close'); // generation 1: the resync running now belongs to generation 0
      const during = sut.resync();
      expect(during).not.toBe(first);
      await during;
      expect(sut.guards(claims)).toHaveLength(4);
    });

    it('a resync that ends after its connection dropped does not make the markers trusted', async () => {
      let release!: () => void;
      const gate = new Promise<void>((resolve) => (release = resolve));
      const claims = await claimsOf();
      // The real MULTI, held back until the connection has dropped.
      const { client, emit } = wrapped({
        multi: () => {
          const multi = redis.multi();
          return { set: (...args: Parameters<typeof multi.set>) => void multi.set(...args), exec: async () => (await gate, multi.exec()) };
        },
      });
      const { sut, lines } = store({ client });
      sut.onApplicationBootstrap(); // the resync of generation 0 starts
      const running = sut.resync();
      await new Promise((resolve) => setTimeout(resolve, 50));
      emit('close');
      release();
      await running;
      expect(lines.map((l) => l.message)).toEqual(['revocation markers rebuilt from Postgres']);
      expect(sut.guards(claims)).toBeUndefined();
    });

    it('a failed resync warns and leaves the markers untrusted (checks keep asking Postgres)', async () => {
      const { client } = wrapped({ multi: () => ({ set: () => undefined, exec: async () => null }) });
      const { sut, lines } = store({ client });
      await sut.resync();
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatchObject({ level: 'warn', message: 'revocation resync failed; checks keep using Postgres' });
      expect((lines[0]!.fields as { err: Error }).err.message).toBe('MULTI failed');
      expect(sut.guards(await claimsOf())).toBeUndefined();
    });
  });

  describe('connection events (onApplicationBootstrap)', () => {
    it('resyncs at once when Redis is already ready, and on every later ready', async () => {
      const { client, emit, setStatus } = wrapped();
      const { sut, lines } = store({ client });
      sut.onApplicationBootstrap();
      expect(Reflect.get(sut, 'resyncing')).toBeInstanceOf(Promise);
      await sut.resync();
      expect(lines.filter((l) => l.message === 'revocation markers rebuilt from Postgres')).toHaveLength(1);
      const claims = await claimsOf();
      expect(sut.guards(claims)).toHaveLength(4);

      setStatus('reconnecting');
      emit('close');
      expect(sut.guards(claims)).toBeUndefined();
      setStatus(undefined);
      emit('ready');
      await sut.resync();
      expect(lines.filter((l) => l.message === 'revocation markers rebuilt from Postgres')).toHaveLength(2);
      expect(sut.guards(claims)).toHaveLength(4);
    });

    it('does not resync at bootstrap while Redis is not ready', async () => {
      const { client, setStatus } = wrapped();
      setStatus('connecting');
      const { sut } = store({ client });
      sut.onApplicationBootstrap();
      expect(Reflect.get(sut, 'resyncing')).toBeUndefined();
    });

    it("a single Redis does not listen for a cluster's '-node' event", async () => {
      const { client, emit } = wrapped();
      const { sut } = store({ client });
      sut.onApplicationBootstrap();
      await sut.resync();
      const claims = await claimsOf();
      emit('-node');
      expect(sut.guards(claims)).toHaveLength(4);
    });
  });

  describe('guards', () => {
    it('READY (stop when absent), then the session, user and tenant markers (stop when present)', async () => {
      const { sut } = await synced();
      const claims = { tid: randomUUID(), sub: randomUUID(), sid: randomUUID() };
      expect(sut.guards(claims)).toEqual([
        { key: READY, stopWhen: 'absent' },
        { key: `benteng:rev:session:${claims.sid}`, stopWhen: 'present' },
        { key: `benteng:rev:user:${claims.sub}`, stopWhen: 'present' },
        { key: `benteng:rev:tenant:${claims.tid}`, stopWhen: 'present' },
      ]);
    });

    it('none before the first resync of the connection', () => {
      expect(store().sut.guards({ tid: randomUUID(), sub: randomUUID(), sid: randomUUID() })).toBeUndefined();
    });
  });

  describe('isRevoked', () => {
    it('trusted markers answer without Postgres: a marker refuses a session Postgres still holds live', async () => {
      const { sut } = await synced();
      const claims = await claimsOf();
      expect(await sut.isRevoked(claims)).toBe(false);
      for (const r of [{ kind: 'session' as const, id: claims.sid }, { kind: 'user' as const, id: claims.sub }, { kind: 'tenant' as const, id: claims.tid }]) {
        await sut.publish(remember(r));
        expect(await sut.isRevoked(claims)).toBe(true);
        await redis.del(marker(r));
        expect(await sut.isRevoked(claims)).toBe(false);
      }
    });

    it('trusted markers answer without Postgres: no marker lets through a session Postgres has revoked', async () => {
      const { sut } = await synced();
      const claims = await claimsOf('member', { revokedAt: new Date() });
      expect(await sut.isRevoked(claims)).toBe(false);
      expect(await sut.revokedInDatabase(claims)).toBe(true);
    });

    it('READY absent (Redis lost its state): Postgres answers, and a resync starts', async () => {
      const { sut, lines } = await synced();
      const live = await claimsOf();
      const revoked = await claimsOf('member', { revokedAt: new Date() });
      await redis.del(READY);
      const resync = vi.spyOn(sut, 'resync');
      expect(await sut.isRevoked(revoked)).toBe(true);
      expect(resync).toHaveBeenCalledTimes(1);
      await sut.resync();
      await redis.del(READY);
      expect(await sut.isRevoked(live)).toBe(false);
      await sut.resync();
      expect(lines.filter((l) => l.message === 'revocation markers rebuilt from Postgres').length).toBeGreaterThanOrEqual(3);
      expect(await redis.get(READY)).toBe('1');
    });

    it('Redis unreachable: Postgres answers', async () => {
      const overrides: Record<string, unknown> = {};
      const { client } = wrapped(overrides);
      const { sut } = await synced({ client });
      const revoked = await claimsOf('member', { revokedAt: new Date() });
      expect(await sut.isRevoked(revoked)).toBe(false); // markers trusted, none for this session
      overrides['mget'] = async () => Promise.reject(new Error('down'));
      expect(await sut.isRevoked(revoked)).toBe(true);
      expect(await sut.isRevoked(await claimsOf())).toBe(false);
    });

    it('before the first resync of the connection: Postgres answers, and a resync starts when Redis is ready', async () => {
      const revoked = await claimsOf('member', { revokedAt: new Date() });
      const a = store();
      const answer = a.sut.isRevoked(revoked);
      expect(Reflect.get(a.sut, 'resyncing')).toBeInstanceOf(Promise);
      expect(await answer).toBe(true);
      await a.sut.resync();

      const { client, setStatus } = wrapped();
      setStatus('reconnecting');
      const b = store({ client });
      const live = await claimsOf();
      const answerB = b.sut.isRevoked(live);
      expect(Reflect.get(b.sut, 'resyncing')).toBeUndefined();
      expect(await answerB).toBe(false);
    });

    describe("with the gate's read (the values of guards(), in order)", () => {
      it('READY present: a present session, user or tenant value refuses; all absent lets through, whatever Postgres says', async () => {
        const { sut } = await synced();
        const revoked = await claimsOf('member', { revokedAt: new Date() });
        expect(await sut.isRevoked(revoked, ['1', null, null, null])).toBe(false);
        const live = await claimsOf();
        expect(await sut.isRevoked(live, ['1', '1', null, null])).toBe(true);
        expect(await sut.isRevoked(live, ['1', null, '1', null])).toBe(true);
        expect(await sut.isRevoked(live, ['1', null, null, '1'])).toBe(true);
      });

      it('READY absent: Postgres answers and a resync starts', async () => {
        const { sut, lines } = await synced();
        const revoked = await claimsOf('member', { revokedAt: new Date() });
        const live = await claimsOf();
        const resync = vi.spyOn(sut, 'resync');
        expect(await sut.isRevoked(revoked, [null, null, null, null])).toBe(true);
        expect(resync).toHaveBeenCalledTimes(1);
        resync.mockRestore();
        expect(await sut.isRevoked(live, [null, '1', '1', '1'])).toBe(false);
        await sut.resync();
        expect(lines.filter((l) => l.message === 'revocation markers rebuilt from Postgres').length).toBeGreaterThanOrEqual(2);
      });

      it('a read of another length is not trusted: the markers are read again', async () => {
        const { sut } = await synced();
        const live = await claimsOf();
        expect(await sut.isRevoked(live, ['1', '1', '1'])).toBe(false);
        expect(await sut.isRevoked(live, ['1', '1', '1', '1', '1'])).toBe(false);
      });

      it('a read made before the connection dropped is not trusted: Postgres answers', async () => {
        const { client, emit, setStatus } = wrapped();
        const { sut } = await synced({ client });
        sut.onApplicationBootstrap();
        await sut.resync();
        const revoked = await claimsOf('member', { revokedAt: new Date() });
        setStatus('reconnecting');
        emit('close');
        expect(await sut.isRevoked(revoked, ['1', null, null, null])).toBe(true);
        expect(await sut.isRevoked(await claimsOf(), ['1', '1', null, null])).toBe(false);
      });
    });
  });

  describe('revokedInDatabase (the source of truth, in the token tenant)', () => {
    it('a live session of the user in an active tenant is not revoked', async () => {
      expect(await store().sut.revokedInDatabase(await claimsOf())).toBe(false);
    });

    it('a revoked session, an unknown session, or another user’s session is revoked', async () => {
      const { sut } = store();
      expect(await sut.revokedInDatabase(await claimsOf('member', { revokedAt: new Date() }))).toBe(true);
      expect(await sut.revokedInDatabase({ tid: tenant.id, sub: tenant.users.member.id, sid: randomUUID() })).toBe(true);
      const theirs = await claimsOf('viewer');
      expect(await sut.revokedInDatabase({ ...theirs, sub: tenant.users.member.id })).toBe(true);
    });

    it('a session is revoked from the instant it expires', async () => {
      const expiresAt = new Date(Date.now() + 60_000);
      const claims = await claimsOf('member', { expiresAt });
      const clock = new SettableClock(new Date(expiresAt.getTime() - 1));
      const { sut } = store({ clock });
      expect(await sut.revokedInDatabase(claims)).toBe(false);
      clock.at = expiresAt;
      expect(await sut.revokedInDatabase(claims)).toBe(true);
    });

    it("a locked user's or a suspended tenant's session is revoked", async () => {
      const other = await createTenant(owner, 'revocation-status');
      const member = { tid: other.id, sub: other.users.member.id, sid: await insertSession(owner, other.id, { userId: other.users.member.id }) };
      const viewer = { tid: other.id, sub: other.users.viewer.id, sid: await insertSession(owner, other.id, { userId: other.users.viewer.id }) };
      const { sut } = store();
      await setStatus(owner, 'users', other.users.member.id, 'locked');
      expect([await sut.revokedInDatabase(member), await sut.revokedInDatabase(viewer)]).toEqual([true, false]);
      await setStatus(owner, 'tenants', other.id, 'suspended');
      expect(await sut.revokedInDatabase(viewer)).toBe(true);
    });
  });
});

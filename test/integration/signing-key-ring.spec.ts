import { randomBytes } from 'node:crypto';
import type { JWK } from 'jose';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { keyRingRootKeys, type Keyring } from '@benteng/config';
import { KeyRingRepository, sealKeyMaterial, type KeyFamily, type KeyState } from '@benteng/database';
import { generateSigningJwk, SigningKeys } from '../../libs/auth/src/signing-keys.js';
import { authConfig, capturingLogger, SettableClock } from '../support/auth-services.js';
import { ownerPool, tenantDatabase } from '../support/db.js';

/**
 * SigningKeys with the key ring's `access-token` family (docs/operations.md, "Key rotation") on the
 * real PostgreSQL, read through the application's own KeyRingRepository: which key signs, which
 * kids verify and are published, what a revoked or expired key stops, how the ring is reloaded
 * (timer, unknown kid at most once a second) and what is logged when a key cannot be used.
 *
 * Every test has a ring of its own (its own root kid: rows under other root keys are not its ring,
 * prisma/migrations/20261207152000_key_ring), so files and tests on the same database never see
 * each other's keys. Rows are inserted through the owner connection, as another process (the
 * rotation, the CLI) would have left them.
 */
const owner = ownerPool();
const database = tenantDatabase();
const rootKids: string[] = [];
afterAll(async () => {
  await owner.query("DELETE FROM key_ring WHERE family = 'access-token' AND root_kid = ANY($1)", [rootKids]);
});
afterEach(() => {
  vi.useRealTimers();
});

const T0 = new Date('2030-06-01T12:00:00.000Z');
const newRoot = (): [string, string] => {
  const kid = `s${randomBytes(4).toString('hex')}`;
  rootKids.push(kid);
  return [kid, randomBytes(32).toString('base64')];
};

/** The real repository, counting its reads; `failNext` makes the next read fail as a lost connection would. */
class CountingRing extends KeyRingRepository {
  reads = 0;
  failNext = false;
  override async entries(family: KeyFamily) {
    this.reads++;
    if (this.failNext) {
      this.failNext = false;
      throw new Error('connection terminated unexpectedly');
    }
    return super.entries(family);
  }
}

interface RingOptions {
  /** AUTH_SIGNING_KEYS of this process; default one Ed25519 key of its own. */
  configured?: JWK[];
  /** false: no KEY_RING_ROOT_KEYS (no key ring). */
  root?: boolean;
}

/** SigningKeys wired as AuthModule wires it, with a ring of its own. */
async function ring(options: RingOptions = {}) {
  const configured = options.configured ?? [await generateSigningJwk()];
  const [rootKid, rootKey] = newRoot();
  const { logger, lines, contexts } = capturingLogger();
  const config = authConfig({
    AUTH_SIGNING_KEYS: JSON.stringify(configured),
    KEY_RING_REFRESH_S: '7',
    ...(options.root === false ? {} : { KEY_RING_ROOT_KEYS: `${rootKid}:${rootKey}` }),
  });
  const repository = new CountingRing(database.prisma);
  const clock = new SettableClock(new Date(T0));
  const sut = new SigningKeys(config, logger, repository, clock);
  const root = options.root === false ? undefined : keyRingRootKeys(config);
  return { sut, lines, contexts, repository, clock, configured, rootKid, root: root as Keyring };
}

let created = 0;
/** A key row of the ring, sealed under `root` (created in insertion order); answers its private JWK. */
async function insertKey(root: Keyring, seed: { state: KeyState; verifyUntil?: Date; jwk?: JWK; material?: Buffer }): Promise<JWK> {
  const jwk = seed.jwk ?? (await generateSigningJwk());
  const sealed = sealKeyMaterial(root, 'access-token', jwk.kid!, Buffer.from(JSON.stringify(jwk), 'utf8'));
  await owner.query('INSERT INTO key_ring (family, kid, state, root_kid, material, created_at, verify_until) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    'access-token',
    jwk.kid,
    seed.state,
    sealed.rootKid,
    seed.material ?? sealed.material,
    new Date(T0.getTime() - 86_400_000 + created++ * 1000),
    seed.verifyUntil ?? null,
  ]);
  return jwk;
}

/** Starts the keys as Nest does (AUTH_SIGNING_KEYS, then the ring) and stops the reload timer at once. */
async function init(r: { sut: SigningKeys }): Promise<void> {
  await r.sut.onModuleInit();
  r.sut.onModuleDestroy();
}

const kids = (sut: SigningKeys) => sut.publicJwks.keys.map((k) => k.kid);
const at = (s: number) => new Date(T0.getTime() + s * 1000);

describe('SigningKeys with the key ring (access-token family)', () => {
  it("the ring's active key signs; next, active and still-verifying retired keys verify and are published before AUTH_SIGNING_KEYS", async () => {
    const r = await ring();
    const next = await insertKey(r.root, { state: 'next' });
    const active = await insertKey(r.root, { state: 'active' });
    const retired = await insertKey(r.root, { state: 'retired', verifyUntil: at(1) });
    const newest = await insertKey(r.root, { state: 'next' });
    await init(r);

    expect(r.sut.active.kid).toBe(active.kid);
    expect(r.sut.active.privateKey.type).toBe('private');
    for (const jwk of [next, active, retired, newest]) {
      const found = r.sut.find(jwk.kid!);
      expect(found?.kid).toBe(jwk.kid);
      expect(found?.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: jwk.x, kid: jwk.kid, alg: 'EdDSA', use: 'sig' });
    }
    expect(kids(r.sut)).toEqual([next.kid, active.kid, retired.kid, newest.kid, r.configured[0]!.kid]);
    expect(r.sut.find(r.configured[0]!.kid!)?.kid).toBe(r.configured[0]!.kid);
    expect(JSON.stringify(r.sut.publicJwks)).not.toContain('"d"');
    expect(r.lines).toEqual([]);
  });

  it('without an active ring key, the first configured key signs', async () => {
    const r = await ring();
    await insertKey(r.root, { state: 'next' });
    await init(r);
    expect(r.sut.active.kid).toBe(r.configured[0]!.kid);
  });

  it('a retired key verifies until verify_until, not at that instant or after; verify_until limits retired keys only', async () => {
    const r = await ring();
    const before = await insertKey(r.root, { state: 'retired', verifyUntil: at(0.001) });
    const atNow = await insertKey(r.root, { state: 'retired', verifyUntil: at(0) });
    const after = await insertKey(r.root, { state: 'retired', verifyUntil: at(-60) });
    const nextWithDate = await insertKey(r.root, { state: 'next', verifyUntil: at(-60) });
    const activeWithDate = await insertKey(r.root, { state: 'active', verifyUntil: at(-60) });
    await init(r);
    expect(r.sut.find(before.kid!)?.kid).toBe(before.kid);
    expect(r.sut.find(atNow.kid!)).toBeUndefined();
    expect(r.sut.find(after.kid!)).toBeUndefined();
    expect(r.sut.find(nextWithDate.kid!)?.kid).toBe(nextWithDate.kid);
    expect(r.sut.active.kid).toBe(activeWithDate.kid);
    expect(kids(r.sut)).toEqual([before.kid, nextWithDate.kid, activeWithDate.kid, r.configured[0]!.kid]);

    // The ring's time is the injected clock's: an hour earlier, every retired key still verifies.
    r.clock.at = at(-3600);
    await r.sut.reload();
    expect([before, atNow, after].map((k) => r.sut.find(k.kid!)?.kid)).toEqual([before.kid, atNow.kid, after.kid]);
  });

  it('a revoked kid verifies nothing and is not published, wherever it is configured; the next configured key signs', async () => {
    const revokedConfigured = await generateSigningJwk();
    const second = await generateSigningJwk();
    const r = await ring({ configured: [revokedConfigured, second] });
    await insertKey(r.root, { state: 'revoked', jwk: revokedConfigured });
    const revokedRing = await insertKey(r.root, { state: 'revoked' });
    await init(r);
    expect(r.sut.find(revokedConfigured.kid!)).toBeUndefined();
    expect(r.sut.find(revokedRing.kid!)).toBeUndefined();
    expect(r.sut.active.kid).toBe(second.kid);
    expect(kids(r.sut)).toEqual([second.kid]);
    expect(r.lines).toEqual([]);
    // Known to be revoked: an unknown-kid reload is not spent on it, even a second later.
    vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 1000 });
    expect(await r.sut.findCurrent(revokedRing.kid!)).toBeUndefined();
    expect(r.repository.reads).toBe(1);
  });

  it('a kid in the ring and in AUTH_SIGNING_KEYS is published once, as the ring holds it, and the other configured keys still are', async () => {
    const shared = await generateSigningJwk();
    const other = await generateSigningJwk();
    const ringCopy = { ...(await generateSigningJwk()), kid: shared.kid };
    const r = await ring({ configured: [shared, other] });
    await insertKey(r.root, { state: 'active', jwk: ringCopy });
    await init(r);
    expect(kids(r.sut)).toEqual([shared.kid, other.kid]);
    expect(r.sut.publicJwks.keys[0]!.x).toBe(ringCopy.x);
    expect(r.sut.find(shared.kid!)!.publicJwk.x).toBe(ringCopy.x);
    expect(r.sut.find(other.kid!)!.publicJwk.x).toBe(other.x);
  });

  it('rows sealed under other root keys are not this ring: not loaded, not revoked, not logged', async () => {
    const r = await ring();
    const foreign = await ring();
    const theirs = await insertKey(foreign.root, { state: 'active' });
    const theirRevoked = await insertKey(foreign.root, { state: 'revoked', jwk: r.configured[0] });
    await init(r);
    expect(r.sut.find(theirs.kid!)).toBeUndefined();
    expect(r.sut.find(theirRevoked.kid!)?.kid).toBe(r.configured[0]!.kid);
    expect(r.sut.active.kid).toBe(r.configured[0]!.kid);
    expect(kids(r.sut)).toEqual([r.configured[0]!.kid]);
    expect(r.lines).toEqual([]);
  });

  it('a key that does not decrypt with KEY_RING_ROOT_KEYS is ignored and logged as an error, by kid and root kid only', async () => {
    const r = await ring();
    const good = await insertKey(r.root, { state: 'next' });
    // Material sealed for another kid: the kid is the additional data, so it does not open here.
    const moved = await generateSigningJwk();
    const sealedForOther = sealKeyMaterial(r.root, 'access-token', good.kid!, Buffer.from(JSON.stringify(moved), 'utf8'));
    await insertKey(r.root, { state: 'active', jwk: moved, material: sealedForOther.material });
    await init(r);
    expect(r.sut.find(moved.kid!)).toBeUndefined();
    expect(r.sut.find(good.kid!)?.kid).toBe(good.kid);
    expect(r.sut.active.kid).toBe(r.configured[0]!.kid);
    expect(r.lines).toEqual([{ level: 'error', fields: { kid: moved.kid, rootKid: r.rootKid }, message: 'key ring: a key does not decrypt with KEY_RING_ROOT_KEYS; it is ignored' }]);
  });

  it('a reload keeps the keys it imported (the same objects, so the verified-token cache stays valid) and sees keys added since', async () => {
    const r = await ring();
    const first = await insertKey(r.root, { state: 'active' });
    await init(r);
    const before = r.sut.find(first.kid!);
    const added = await insertKey(r.root, { state: 'next' });
    await r.sut.reload();
    expect(r.sut.find(first.kid!)).toBe(before);
    expect(r.sut.active).toBe(before);
    expect(r.sut.find(added.kid!)?.kid).toBe(added.kid);
    expect(r.repository.reads).toBe(2);
  });

  it('one reload at a time: a call while one runs gets the same promise, a later call reads again', async () => {
    const r = await ring();
    const running = r.sut.reload();
    expect(r.sut.reload()).toBe(running);
    await running;
    const later = r.sut.reload();
    expect(later).not.toBe(running);
    await later;
    expect(r.repository.reads).toBe(2);
  });

  it('a ring that cannot be read keeps the keys loaded before and warns; the next reload reads it again', async () => {
    const r = await ring();
    const active = await insertKey(r.root, { state: 'active' });
    await init(r);
    const added = await insertKey(r.root, { state: 'next' });
    r.repository.failNext = true;
    await r.sut.reload();
    expect(r.sut.active.kid).toBe(active.kid);
    expect(r.sut.find(added.kid!)).toBeUndefined();
    expect(r.lines).toHaveLength(1);
    expect(r.lines[0]).toMatchObject({ level: 'warn', message: 'key ring could not be read: keeping the keys loaded before' });
    expect((r.lines[0]!.fields as { err: Error }).err.message).toBe('connection terminated unexpectedly');
    await r.sut.reload();
    expect(r.sut.find(added.kid!)?.kid).toBe(added.kid);
  });

  describe('findCurrent (a token whose kid this process does not know yet)', () => {
    it('a kid promoted by another process since the last reload is found, after one reload', async () => {
      const r = await ring();
      await insertKey(r.root, { state: 'active' });
      await init(r);
      const promoted = await insertKey(r.root, { state: 'next' });
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 1000 });
      expect(r.sut.find(promoted.kid!)).toBeUndefined();
      expect((await r.sut.findCurrent(promoted.kid!))?.kid).toBe(promoted.kid);
      expect(r.repository.reads).toBe(2);
    });

    it('a known kid is answered without reading the ring', async () => {
      const r = await ring();
      const active = await insertKey(r.root, { state: 'active' });
      await init(r);
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 5000 });
      expect((await r.sut.findCurrent(active.kid!))?.kid).toBe(active.kid);
      expect((await r.sut.findCurrent(r.configured[0]!.kid!))?.kid).toBe(r.configured[0]!.kid);
      expect(r.repository.reads).toBe(1);
    });

    it('unknown kids reload the ring at most once a second: from exactly one second after the last reload', async () => {
      const r = await ring();
      vi.useFakeTimers({ toFake: ['Date'], now: T0 });
      await init(r);
      expect(r.repository.reads).toBe(1);
      vi.setSystemTime(T0.getTime() + 999);
      expect(await r.sut.findCurrent('made-up-1')).toBeUndefined();
      expect(await r.sut.findCurrent('made-up-2')).toBeUndefined();
      expect(r.repository.reads).toBe(1);
      vi.setSystemTime(T0.getTime() + 1000);
      expect(await r.sut.findCurrent('made-up-3')).toBeUndefined();
      expect(r.repository.reads).toBe(2);
      expect(await r.sut.findCurrent('made-up-4')).toBeUndefined();
      expect(r.repository.reads).toBe(2);
    });

    it('within the second, waits for a reload already running and answers from it', async () => {
      const r = await ring();
      vi.useFakeTimers({ toFake: ['Date'], now: T0 });
      await init(r);
      const promoted = await insertKey(r.root, { state: 'active' });
      const running = r.sut.reload();
      expect((await r.sut.findCurrent(promoted.kid!))?.kid).toBe(promoted.kid);
      await running;
      expect(r.repository.reads).toBe(2);
    });

    it('without a key ring, an unknown kid is unknown', async () => {
      const r = await ring({ root: false });
      await init(r);
      vi.useFakeTimers({ toFake: ['Date'], now: Date.now() + 5000 });
      expect(await r.sut.findCurrent('unknown')).toBeUndefined();
      expect(r.repository.reads).toBe(0);
    });
  });

  describe('the reload timer', () => {
    it('reloads every KEY_RING_REFRESH_S, without keeping the process alive, until the module is destroyed', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const r = await ring();
      const timers = vi.getTimerCount();
      await r.sut.onModuleInit();
      expect(vi.getTimerCount()).toBe(timers + 1);
      expect(r.repository.reads).toBe(1);
      const timer = Reflect.get(r.sut, 'timer') as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      const added = await insertKey(r.root, { state: 'next' });

      vi.advanceTimersByTime(6999);
      expect(r.repository.reads).toBe(1);
      vi.advanceTimersByTime(1);
      expect(r.repository.reads).toBe(2);
      await r.sut.reload();
      expect(r.sut.find(added.kid!)?.kid).toBe(added.kid);

      r.sut.onModuleDestroy();
      expect(vi.getTimerCount()).toBe(timers);
      vi.advanceTimersByTime(70_000);
      expect(r.repository.reads).toBe(2);
    });

    it('without KEY_RING_ROOT_KEYS there is no ring: it is never read and no timer runs', async () => {
      vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
      const r = await ring({ root: false });
      const timers = vi.getTimerCount();
      await r.sut.onModuleInit();
      expect(r.repository.reads).toBe(0);
      expect(vi.getTimerCount()).toBe(timers);
      expect(r.sut.active.kid).toBe(r.configured[0]!.kid);
      expect(kids(r.sut)).toEqual([r.configured[0]!.kid]);
    });
  });
});

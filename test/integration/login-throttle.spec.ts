import { createHash, randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { RedisClient } from '@benteng/redis';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '@benteng/config';
import { FAMILIAR_ADDRESS_S, LoginThrottle, REFRESH_MAX_FAILURES_PER_IP, THROTTLE_KEY_PREFIX } from '@benteng/security';
import { deleteKeys, ready, scanKeys, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/** Every test uses fresh emails and IPs, so files and tests never share a counter. */
const hex = (bytes: number) => randomBytes(bytes).toString('hex');
const randomEmail = () => `User.${hex(6)}@Example.test`;
const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;
const hextet = () => randomBytes(2).readUInt16BE().toString(16);
const accountHash = (email: string) => createHash('sha256').update(email.toLowerCase()).digest('hex');
const accountKey = (email: string, counter: 'failures' | 'blocks') => `${THROTTLE_KEY_PREFIX}login-account:${counter}:${accountHash(email)}`;

const redis = testRedis('login-throttle-spec');
const subjects: string[] = [];

function throttle(env: Record<string, string> = {}, client: RedisClient = redis): LoginThrottle {
  return new LoginThrottle(loadConfig({ ...process.env, ...env }), client);
}

/** Failures with a remembered subject, so afterAll can remove the keys they created. */
async function fail(sut: LoginThrottle, key: { account?: string; ip: string; authenticated?: boolean }): Promise<void> {
  subjects.push(key.ip, ...(key.account ? [accountHash(key.account), `${accountHash(key.account)}:${key.ip}`] : []));
  await sut.recordFailure(key);
}

/** A correct password, remembered like a failure (it marks the address familiar to the account). */
async function succeed(sut: LoginThrottle, key: { account: string; ip: string }): Promise<void> {
  subjects.push(`${accountHash(key.account)}:${key.ip}`);
  await sut.recordSuccess(key);
}

const throttleKeys = (): Promise<string[]> => scanKeys(redis, `${THROTTLE_KEY_PREFIX}*`);

/**
 * The shared client as a throttle sees it while ioredis reconnects: every command still works, but
 * `status` says 'reconnecting' until `recover()`. What the throttle does while Redis is not ready
 * (per-instance insurance, no familiar addresses, a warning) is then observable against the real
 * Redis: anything it wrongly sent there would show up in the shared counters.
 */
function reconnecting(client: RedisClient = redis): { client: RedisClient; recover(): void } {
  let status: string | undefined = 'reconnecting';
  const proxy = new Proxy(client, {
    get(target, prop) {
      if (prop === 'status') return status ?? target.status;
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { client: proxy, recover: () => (status = undefined) };
}

// Until the connection is ready the throttle uses its per-instance insurance (by design); these
// tests are about the shared counters, so they start once Redis answers.
beforeAll(async () => {
  await ready(redis);
});

afterAll(async () => {
  const ours = (await throttleKeys()).filter((key) => subjects.some((subject) => key.endsWith(`:${subject}`)));
  await deleteKeys(redis, ours);
  redis.disconnect();
});

describe(tag('AUTHN-LOGIN-THROTTLE', 'LoginThrottle on Redis'), () => {
  describe('per account, from all addresses', () => {
    // The per-address counter of one account is out of the way here: this is the distributed guess.
    const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '10', LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '1000' });

    it('refuses the 11th attempt after 10 failures spread over 10 IPs', async () => {
      const email = randomEmail();
      for (let i = 0; i < 9; i++) await fail(sut, { account: email, ip: randomIp() });
      expect(await sut.check({ account: email, ip: randomIp() })).toEqual({ allowed: true });

      // Case and surrounding spaces do not make a new account.
      await fail(sut, { account: ` ${email.toUpperCase()} `, ip: randomIp() });
      const decision = await sut.check({ account: email.toLowerCase(), ip: randomIp() });
      expect(decision).toMatchObject({ allowed: false, reason: 'account' });
      expect(decision.allowed === false && decision.retryAfterS).toBeGreaterThan(0);
    });

    it('leaves other accounts alone', async () => {
      const victim = randomEmail();
      const ip = randomIp();
      for (let i = 0; i < 10; i++) await fail(sut, { account: victim, ip });
      const other = randomEmail();
      await fail(sut, { account: other, ip });
      expect(await sut.check({ account: other, ip })).toEqual({ allowed: true });
      expect(await sut.check({ account: victim, ip })).toMatchObject({ allowed: false, reason: 'account' });
    });

    it('resets the account counter on success', async () => {
      const email = randomEmail();
      const ip = randomIp();
      for (let i = 0; i < 9; i++) await fail(sut, { account: email, ip });
      await sut.recordSuccess({ account: email, ip });
      for (let i = 0; i < 9; i++) await fail(sut, { account: email, ip });
      expect(await sut.check({ account: email, ip })).toEqual({ allowed: true });
    });

    it('escalates once for a burst of concurrent failures', async () => {
      const email = randomEmail();
      await Promise.all(Array.from({ length: 25 }, () => fail(sut, { account: email, ip: randomIp() })));
      const decision = await sut.check({ account: email, ip: randomIp() });
      expect(decision).toMatchObject({ allowed: false, reason: 'account' });
      expect(decision.allowed === false && decision.retryAfterS).toBeLessThanOrEqual(900);
      expect(await redis.get(accountKey(email, 'blocks'))).toBe('1');
    });
  });

  describe('a guesser sharing an address with the account owner and colleagues (office NAT, CGNAT)', () => {
    const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT: '10', LOGIN_MAX_FAILURES_PER_IP: '100' });

    it('is slowed at its address on that account only: the owner elsewhere and a colleague at the same address are not refused', async () => {
      const victim = randomEmail();
      const colleague = randomEmail();
      const shared = randomIp();
      for (let i = 0; i < 3; i++) await fail(sut, { account: victim, ip: shared });

      const decision = await sut.check({ account: victim, ip: shared });
      expect(decision).toMatchObject({ allowed: false, reason: 'account_ip' });
      expect(decision.allowed === false && decision.retryAfterS).toBeGreaterThan(0);
      expect(await sut.check({ account: victim, ip: randomIp() })).toEqual({ allowed: true });
      expect(await sut.check({ account: colleague, ip: shared })).toEqual({ allowed: true });
    });

    it('cannot reach the account-wide limit from one address: the pair blocks first, so the owner is never locked out everywhere', async () => {
      const victim = randomEmail();
      const shared = randomIp();
      // The guesser tries until refused; a refused attempt is never recorded (LoginService checks first).
      let recorded = 0;
      for (let i = 0; i < 20; i++) {
        if (!(await sut.check({ account: victim, ip: shared })).allowed) break;
        await fail(sut, { account: victim, ip: shared });
        recorded++;
      }
      expect(recorded).toBe(3);
      expect(await sut.check({ account: victim, ip: randomIp() })).toEqual({ allowed: true });
    });

    it('a correct password at the address clears the pair', async () => {
      const email = randomEmail();
      const ip = randomIp();
      for (let i = 0; i < 2; i++) await fail(sut, { account: email, ip });
      await succeed(sut, { account: email, ip });
      for (let i = 0; i < 2; i++) await fail(sut, { account: email, ip });
      expect(await sut.check({ account: email, ip })).toEqual({ allowed: true });
    });
  });

  describe('a guesser spread over many addresses', () => {
    const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT: '10', LOGIN_MAX_FAILURES_PER_IP: '100' });

    it('is capped at the account-wide limit; the owner at an address they signed in from keeps signing in, where a guesser still meets the pair limit', async () => {
      const victim = randomEmail();
      const home = randomIp();
      await succeed(sut, { account: victim, ip: home });
      const familiarTtl = await redis.ttl(`${THROTTLE_KEY_PREFIX}login-familiar:${accountHash(victim)}:${home}`);
      expect(familiarTtl).toBeGreaterThan(FAMILIAR_ADDRESS_S - 60);
      expect(familiarTtl).toBeLessThanOrEqual(FAMILIAR_ADDRESS_S);

      for (let i = 0; i < 10; i++) await fail(sut, { account: victim, ip: randomIp() });
      // Every address the account never signed in from is refused, even with the right password.
      expect(await sut.check({ account: victim, ip: randomIp() })).toMatchObject({ allowed: false, reason: 'account' });
      expect(await sut.check({ account: victim, ip: home })).toEqual({ allowed: true });

      // Someone guessing from the owner's own address is still slowed there.
      for (let i = 0; i < 3; i++) await fail(sut, { account: victim, ip: home });
      expect(await sut.check({ account: victim, ip: home })).toMatchObject({ allowed: false, reason: 'account_ip' });
    });

    it('an address becomes familiar through a correct password only, not through failures', async () => {
      const victim = randomEmail();
      const attacker = randomIp();
      for (let i = 0; i < 2; i++) await fail(sut, { account: victim, ip: attacker });
      for (let i = 0; i < 10; i++) await fail(sut, { account: victim, ip: randomIp() });
      expect(await sut.check({ account: victim, ip: attacker })).toMatchObject({ allowed: false, reason: 'account' });
    });
  });

  describe('per IP', () => {
    const sut = throttle({ LOGIN_MAX_FAILURES_PER_IP: '5', LOGIN_WINDOW_S: '60' });

    it('spares accounts that signed in from the address: colleagues behind a sprayed NAT keep signing in', async () => {
      const ip = randomIp();
      const colleague = randomEmail();
      await succeed(sut, { account: colleague, ip });
      for (let i = 0; i < 5; i++) await fail(sut, { account: randomEmail(), ip });
      expect(await sut.check({ account: randomEmail(), ip })).toMatchObject({ allowed: false, reason: 'ip' });
      expect(await sut.check({ account: colleague, ip })).toEqual({ allowed: true });
    });

    it('neither refuses nor counts a signed-in user (a password change): only the account counters judge them', async () => {
      const ip = randomIp();
      for (let i = 0; i < 5; i++) await fail(sut, { account: randomEmail(), ip });
      const user = `user:${randomBytes(8).toString('hex')}`;
      expect(await sut.check({ account: user, ip, authenticated: true })).toEqual({ allowed: true });

      const quiet = randomIp();
      for (let i = 0; i < 5; i++) await fail(sut, { account: `user:${randomBytes(8).toString('hex')}`, ip: quiet, authenticated: true });
      expect(await sut.check({ account: randomEmail(), ip: quiet })).toEqual({ allowed: true });
    });

    it('refuses an IP after its failures over many accounts, whatever account it tries next', async () => {
      const ip = randomIp();
      for (let i = 0; i < 5; i++) await fail(sut, { account: randomEmail(), ip });
      const fresh = randomEmail();
      const decision = await sut.check({ account: fresh, ip });
      expect(decision).toMatchObject({ allowed: false, reason: 'ip' });
      expect(decision.allowed === false && decision.retryAfterS).toBeGreaterThan(0);
      expect(decision.allowed === false && decision.retryAfterS).toBeLessThanOrEqual(60);

      expect(await sut.check({ account: fresh, ip: randomIp() })).toEqual({ allowed: true });
      expect(await sut.check({ ip })).toMatchObject({ allowed: false, reason: 'ip' });
    });

    it('is not reset by a successful login from that IP: the sprayer signing in to its own account still meets the block on every other', async () => {
      const ip = randomIp();
      for (let i = 0; i < 5; i++) await fail(sut, { account: randomEmail(), ip });
      const own = randomEmail();
      await succeed(sut, { account: own, ip });
      // Its own account is familiar there now (its password is its own), nothing else is.
      expect(await sut.check({ account: own, ip })).toEqual({ allowed: true });
      expect(await sut.check({ account: randomEmail(), ip })).toMatchObject({ allowed: false, reason: 'ip' });
    });

    it('counts IPv6 clients per /64, so rotating addresses inside one does not reset the budget', async () => {
      const net = `2001:db8:${hextet()}:${hextet()}`;
      subjects.push(`${net}::/64`);
      for (let i = 1; i <= 5; i++) await fail(sut, { account: randomEmail(), ip: `${net}::${hextet()}:${i}` });
      expect(await sut.check({ ip: `${net}:ffff:ffff:ffff:ffff` })).toMatchObject({ allowed: false, reason: 'ip' });
      expect(await sut.check({ ip: `2001:db8:${hextet()}:${hextet()}::1` })).toEqual({ allowed: true });
    });
  });

  describe('progressive blocks', () => {
    const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '2', LOGIN_WINDOW_S: '10' });

    async function blockAndReadRetry(email: string): Promise<number> {
      // The previous block, if any, is made to expire now (as if its time had passed); the
      // escalation level, a separate key, stays.
      await redis.del(accountKey(email, 'failures'));
      await fail(sut, { account: email, ip: randomIp() });
      await fail(sut, { account: email, ip: randomIp() });
      const decision = await sut.check({ account: email, ip: randomIp() });
      if (decision.allowed) throw new Error('expected a block');
      return decision.retryAfterS;
    }

    it('doubles each block from the window on', async () => {
      const email = randomEmail();
      const first = await blockAndReadRetry(email);
      const second = await blockAndReadRetry(email);
      const third = await blockAndReadRetry(email);
      expect(first).toBeGreaterThan(0);
      expect(first).toBeLessThanOrEqual(10);
      expect(second).toBeGreaterThan(10);
      expect(second).toBeLessThanOrEqual(20);
      expect(third).toBeGreaterThan(20);
      expect(third).toBeLessThanOrEqual(40);
    });

    it('never blocks longer than a day', async () => {
      const email = randomEmail();
      await blockAndReadRetry(email);
      await redis.set(accountKey(email, 'blocks'), '30');
      const retry = await blockAndReadRetry(email);
      expect(retry).toBeGreaterThan(86_400 - 5);
      expect(retry).toBeLessThanOrEqual(86_400);
    });

    it('starts again from the window after a successful login', async () => {
      const email = randomEmail();
      await blockAndReadRetry(email);
      await blockAndReadRetry(email);
      await redis.del(accountKey(email, 'failures'));
      await sut.recordSuccess({ account: email, ip: randomIp() });
      expect(await blockAndReadRetry(email)).toBeLessThanOrEqual(10);
    });
  });

  describe('refresh tokens', () => {
    const sut = throttle();

    it(`refuses an IP after ${REFRESH_MAX_FAILURES_PER_IP} failed presentations`, async () => {
      const ip = randomIp();
      subjects.push(ip);
      for (let i = 0; i < REFRESH_MAX_FAILURES_PER_IP - 1; i++) await sut.recordRefreshFailure(ip);
      expect(await sut.checkRefresh(ip)).toEqual({ allowed: true });
      await sut.recordRefreshFailure(ip);
      const decision = await sut.checkRefresh(ip);
      expect(decision).toMatchObject({ allowed: false });
      expect(decision.allowed === false && decision.retryAfterS).toBeGreaterThan(0);
      expect(await sut.checkRefresh(randomIp())).toEqual({ allowed: true });
      // Refresh failures are their own budget: the IP may still attempt a login.
      expect(await sut.check({ ip })).toEqual({ allowed: true });
    });
  });

  it('never puts an email into a Redis key', async () => {
    const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '2' });
    const email = randomEmail();
    for (let i = 0; i < 3; i++) await fail(sut, { account: email, ip: randomIp() });
    const keys = await throttleKeys();
    expect(keys).toContain(accountKey(email, 'failures'));
    expect(keys).toContain(accountKey(email, 'blocks'));
    const local = email.split('@')[0]!.toLowerCase();
    expect(keys.filter((key) => key.toLowerCase().includes(local) || key.includes('@'))).toEqual([]);
  });

  describe('which block a failure started (audited once, at its start)', () => {
    it('names the widest block the failure started and its length, and nothing for the failures before or after', async () => {
      const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '3', LOGIN_MAX_FAILURES_PER_IP: '1000', LOGIN_WINDOW_S: '60' });
      const email = randomEmail();
      const ip = randomIp();
      subjects.push(ip, accountHash(email), `${accountHash(email)}:${ip}`);
      expect(await sut.recordFailure({ account: email, ip })).toEqual({ blocked: null, blockS: 0 });
      expect(await sut.recordFailure({ account: email, ip })).toEqual({ blocked: null, blockS: 0 });
      // The third failure starts both the account's and the pair's block: the account's is the wider.
      expect(await sut.recordFailure({ account: email, ip })).toEqual({ blocked: 'account', blockS: 60 });
      expect(await sut.recordFailure({ account: email, ip })).toEqual({ blocked: null, blockS: 0 });
    });

    it('the pair block when only the pair reached its limit', async () => {
      const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '50', LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '2', LOGIN_MAX_FAILURES_PER_IP: '1000', LOGIN_WINDOW_S: '30' });
      const email = randomEmail();
      const ip = randomIp();
      subjects.push(ip, accountHash(email), `${accountHash(email)}:${ip}`);
      expect(await sut.recordFailure({ account: email, ip })).toEqual({ blocked: null, blockS: 0 });
      expect(await sut.recordFailure({ account: email, ip })).toEqual({ blocked: 'account_ip', blockS: 30 });
      expect(await sut.check({ account: email, ip })).toMatchObject({ allowed: false, reason: 'account_ip' });
    });

    it('the address block when only the address reached its limit', async () => {
      const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '50', LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '50', LOGIN_MAX_FAILURES_PER_IP: '2', LOGIN_WINDOW_S: '20' });
      const ip = randomIp();
      const [a, b] = [randomEmail(), randomEmail()];
      subjects.push(ip, accountHash(a), accountHash(b), `${accountHash(a)}:${ip}`, `${accountHash(b)}:${ip}`);
      expect(await sut.recordFailure({ account: a, ip })).toEqual({ blocked: null, blockS: 0 });
      expect(await sut.recordFailure({ account: b, ip })).toEqual({ blocked: 'ip', blockS: 20 });
      expect(await sut.recordFailure({ ip })).toEqual({ blocked: null, blockS: 0 });
    });

    it('refuses from the failure that reaches the limit, before its block is written (a concurrent request on another instance)', async () => {
      const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '4', LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '1000' });
      const email = randomEmail();
      subjects.push(accountHash(email));
      // The count alone at the maximum, as rate-limiter-flexible leaves it between penalty() and block().
      await redis.set(accountKey(email, 'failures'), '4', 'PX', 60_000);
      expect(await sut.check({ account: email, ip: randomIp() })).toMatchObject({ allowed: false, reason: 'account' });
      await redis.set(accountKey(email, 'failures'), '3', 'PX', 60_000);
      expect(await sut.check({ account: email, ip: randomIp() })).toEqual({ allowed: true });
    });

    it('remembers the escalation level for a day after the block ends', async () => {
      const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '1', LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '1000', LOGIN_WINDOW_S: '40' });
      const email = randomEmail();
      await fail(sut, { account: email, ip: randomIp() });
      const ttl = await redis.ttl(accountKey(email, 'blocks'));
      expect(ttl).toBeGreaterThan(40 + 86_400 - 60);
      expect(ttl).toBeLessThanOrEqual(40 + 86_400);
    });

    it('keeps each counter under its own name, so refresh failures never count as login failures of the address', async () => {
      const sut = throttle({ LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '1000' });
      const email = randomEmail();
      const ip = randomIp();
      subjects.push(ip, accountHash(email), `${accountHash(email)}:${ip}`);
      for (let i = 0; i < REFRESH_MAX_FAILURES_PER_IP; i++) await sut.recordRefreshFailure(ip);
      expect(await sut.checkRefresh(ip)).toMatchObject({ allowed: false });
      expect(await sut.check({ account: randomEmail(), ip })).toEqual({ allowed: true });
      await sut.recordFailure({ account: email, ip });
      const keys = (await throttleKeys()).filter((key) => key.endsWith(`:${ip}`));
      expect(keys.sort()).toEqual(
        [`${THROTTLE_KEY_PREFIX}login-account-ip:failures:${accountHash(email)}:${ip}`, `${THROTTLE_KEY_PREFIX}login-ip:failures:${ip}`, `${THROTTLE_KEY_PREFIX}refresh-ip:blocks:${ip}`, `${THROTTLE_KEY_PREFIX}refresh-ip:failures:${ip}`].sort(),
      );
    });
  });

  describe('while the shared Redis reconnects', () => {
    it('counts in this instance only, spares no address and marks none familiar, so nothing is written to (or trusted from) the shared counters', async () => {
      const config = { LOGIN_MAX_FAILURES_PER_IP: '3', LOGIN_MAX_FAILURES_PER_ACCOUNT_IP: '1000', LOGIN_MAX_FAILURES_PER_ACCOUNT: '1000' };
      const degraded = throttle(config, reconnecting().client);
      const shared = throttle(config);
      const ip = randomIp();
      const colleague = randomEmail();
      subjects.push(ip, accountHash(colleague), `${accountHash(colleague)}:${ip}`);
      // The colleague signed in from this address before (the shared Redis knows it)…
      await shared.recordSuccess({ account: colleague, ip });
      for (let i = 0; i < 3; i++) await degraded.recordFailure({ account: randomEmail(), ip });
      // …but the degraded instance does not ask: no address is familiar, the stricter limit applies.
      expect(await degraded.check({ account: colleague, ip })).toMatchObject({ allowed: false, reason: 'ip' });
      // Its counts stayed in the instance: the shared counters never saw them.
      expect(await shared.check({ account: randomEmail(), ip })).toEqual({ allowed: true });
      expect(await redis.exists(`${THROTTLE_KEY_PREFIX}login-ip:failures:${ip}`)).toBe(0);
      // A correct password on the degraded instance marks nothing familiar.
      const other = randomEmail();
      await degraded.recordSuccess({ account: other, ip });
      expect(await redis.exists(`${THROTTLE_KEY_PREFIX}login-familiar:${accountHash(other)}:${ip}`)).toBe(0);
    });

    it('logs once that throttling is per instance, from whichever call notices first, and once when it is shared again', async () => {
      const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
      try {
        const calls: [string, (sut: LoginThrottle, ip: string) => Promise<unknown>][] = [
          ['check', (sut, ip) => sut.check({ ip })],
          ['recordFailure', (sut, ip) => sut.recordFailure({ ip })],
          ['recordSuccess', (sut, ip) => sut.recordSuccess({ account: randomEmail(), ip })],
          ['checkRefresh', (sut, ip) => sut.checkRefresh(ip)],
          ['recordRefreshFailure', (sut, ip) => sut.recordRefreshFailure(ip)],
        ];
        for (const [name, call] of calls) {
          warn.mockClear();
          log.mockClear();
          const link = reconnecting();
          const sut = throttle({}, link.client);
          const ip = randomIp();
          subjects.push(ip);
          await call(sut, ip);
          await call(sut, ip);
          expect({ name, warned: warn.mock.calls.map(([message]) => message) }).toEqual({ name, warned: ['Redis unavailable: login throttling falls back to per-instance limits'] });
          link.recover();
          await call(sut, ip);
          await call(sut, ip);
          expect({ name, logged: log.mock.calls.map(([message]) => message) }).toEqual({ name, logged: ['Redis available again: login throttling is shared across instances'] });
        }
      } finally {
        warn.mockRestore();
        log.mockRestore();
      }
    });
  });

  describe('with Redis unavailable', () => {
    const dead = new Redis('redis://127.0.0.1:1', { enableOfflineQueue: false, retryStrategy: () => null, connectTimeout: 500 });
    dead.on('error', () => undefined);
    afterAll(() => dead.disconnect());

    it('still blocks after the limit, within this instance (insurance limiter)', async () => {
      const sut = throttle({ LOGIN_MAX_FAILURES_PER_ACCOUNT: '10', LOGIN_MAX_FAILURES_PER_IP: '5', LOGIN_WINDOW_S: '60' }, dead);
      const email = randomEmail();
      for (let i = 0; i < 10; i++) await sut.recordFailure({ account: email, ip: randomIp() });
      const decision = await sut.check({ account: email, ip: randomIp() });
      expect(decision).toMatchObject({ allowed: false, reason: 'account' });
      expect(decision.allowed === false && decision.retryAfterS).toBeGreaterThan(0);

      const ip = randomIp();
      for (let i = 0; i < 5; i++) await sut.recordFailure({ account: randomEmail(), ip });
      expect(await sut.check({ account: randomEmail(), ip })).toMatchObject({ allowed: false, reason: 'ip' });
      expect(await sut.check({ account: randomEmail(), ip: randomIp() })).toEqual({ allowed: true });

      // No address is familiar without Redis: the stricter limits apply.
      const colleague = randomEmail();
      await sut.recordSuccess({ account: colleague, ip });
      expect(await sut.check({ account: colleague, ip })).toMatchObject({ allowed: false, reason: 'ip' });
    });
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { ConfigError, loadConfig } from '@benteng/config';
import { createRedis, isCluster, type RedisClient } from '@benteng/redis';
import { RATE_LIMIT_KEY_PREFIX, RateLimiter, type RateLimitResult, type RateLimitSubject } from '@benteng/security';
import { deleteKeys, ready, scanKeys, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/** Every test uses fresh owners and tenants, so files and tests never share a budget. */
const ids: string[] = [];
const fresh = (kind: 'user' | 'partner' | 'operator' | 'tenant') => {
  const id = randomUUID();
  ids.push(id);
  return kind === 'tenant' ? id : `${kind}:${id}`;
};
const freshIp = () => {
  const ip = `10.${[...randomBytes(3)].join('.')}`;
  ids.push(ip);
  return `ip:${ip}`;
};

const redisA = connect('rate-limiter-spec-a');
const redisB = connect('rate-limiter-spec-b');

function connect(name: string): RedisClient {
  return testRedis(name);
}

function realLimiter(policy: object, redis: RedisClient = redisA): RateLimiter {
  return new RateLimiter(redis, loadConfig({ ...process.env, RATE_LIMIT_POLICY: JSON.stringify(policy) }));
}

/**
 * The two ways the gate consumes: `consume` (anonymous callers, the internal listener, and every
 * request when the round trip is not possible) and `consumeUnless` without guards (the gate's one
 * round trip, apps/api/src/http/gate/gate-round-trip.ts), falling back to `consume` exactly as the
 * gate does when it answers undefined. Every budget test runs on both, so the round trip is held
 * to the same semantics.
 */
type Mode = 'consume' | 'one round trip';
function limiterFor(mode: Mode) {
  return (policy: object, redis: RedisClient = redisA): Pick<RateLimiter, 'consume'> => {
    const real = realLimiter(policy, redis);
    if (mode === 'consume') return real;
    return {
      consume: async (subject, sensitivity) => {
        const trip = await real.consumeUnless(subject, sensitivity, []);
        // On a healthy single Redis the round trip must have run (else this mode would test
        // `consume`); on a cluster it never does (scripts cannot span the keys' slots).
        if (redis.status === 'ready') expect(trip?.result !== undefined, 'the round trip ran exactly when not on a cluster').toBe(!isCluster(redis));
        return trip?.result ?? real.consume(subject, sensitivity);
      },
    };
  };
}

const times = <T>(n: number, run: (index: number) => Promise<T>) => Promise.all(Array.from({ length: n }, (_, index) => run(index)));
const allowedCount = (results: RateLimitResult[]) => results.filter((result) => result.allowed).length;

const rateLimitKeys = (): Promise<string[]> => scanKeys(redisA, `${RATE_LIMIT_KEY_PREFIX}*`);

beforeAll(async () => {
  await Promise.all([ready(redisA), ready(redisB)]);
});

afterAll(async () => {
  const ours = (await rateLimitKeys()).filter((key) => ids.some((id) => key.endsWith(id)));
  await deleteKeys(redisA, ours);
  redisA.disconnect();
  redisB.disconnect();
});

// draft-ietf-httpapi-ratelimit-headers-10: a list of items, each a quoted policy name with integer parameters.
const POLICY_ITEM = /^"([a-z-]+)";q=(\d+);w=(\d+)$/;
const STATE_ITEM = /^"([a-z-]+)";r=(\d+);t=(\d+)$/;

function parseList(header: string | undefined, pattern: RegExp): { name: string; a: number; b: number }[] {
  expect(header, 'header present').toBeTypeOf('string');
  return header!.split(', ').map((item) => {
    const match = pattern.exec(item);
    expect(match, `item ${item}`).not.toBeNull();
    return { name: match![1]!, a: Number(match![2]), b: Number(match![3]) };
  });
}

describe.each<Mode>(['consume', 'one round trip'])(tag('RATE-LIMIT', 'RateLimiter on Redis (%s)'), (mode) => {
  const limiter = limiterFor(mode);

  it('allows exactly N of N + k concurrent requests', async () => {
    const sut = limiter({ user: { write: [10, 60] } });
    const subject: RateLimitSubject = { principalClass: 'user', owner: fresh('user'), tenantId: fresh('tenant') };

    const results = await times(25, () => sut.consume(subject, 'write'));

    expect(allowedCount(results)).toBe(10);
    for (const refused of results.filter((result) => !result.allowed)) {
      expect(refused).toMatchObject({ exceeded: 'principal', policy: 'user-write' });
      // The window began with this burst: the budget comes back in (almost) the whole 60 s.
      expect(refused.retryAfterS).toBeGreaterThanOrEqual(58);
      expect(refused.retryAfterS).toBeLessThanOrEqual(60);
    }
  });

  it('shares one budget between two instances on two connections', async () => {
    const policy = { 'partner:standard': { search: [6, 60] } };
    const [a, b] = [limiter(policy, redisA), limiter(policy, redisB)];
    const subject: RateLimitSubject = { principalClass: 'partner:standard', owner: fresh('partner'), tenantId: fresh('tenant') };

    for (let i = 0; i < 3; i++) expect((await a.consume(subject, 'search')).allowed).toBe(true);
    for (let i = 0; i < 3; i++) expect((await b.consume(subject, 'search')).allowed).toBe(true);
    expect(await a.consume(subject, 'search')).toMatchObject({ allowed: false, exceeded: 'principal', policy: 'partner-standard-search' });
    expect((await b.consume(subject, 'search')).allowed).toBe(false);

    const racing: RateLimitSubject = { ...subject, owner: fresh('partner') };
    const results = await times(20, (index) => (index % 2 === 0 ? a : b).consume(racing, 'search'));
    expect(allowedCount(results)).toBe(6);
  });

  it('counts every key of one partner client against one budget', async () => {
    // The owner is the client, whatever key authenticated the request: callers pass the client id.
    const sut = limiter({ 'partner:free': { read: [3, 60] } });
    const client = fresh('partner');
    const results = await times(5, () => sut.consume({ principalClass: 'partner:free', owner: client }, 'read'));
    expect(allowedCount(results)).toBe(3);
  });

  it('counts anonymous IPv6 callers per /64, so rotating addresses inside one does not reset the budget', async () => {
    const sut = limiter({ anonymous: { search: [2, 60] } });
    const hextet = () => randomBytes(2).readUInt16BE().toString(16);
    const net = `2001:db8:${hextet()}:${hextet()}`;
    ids.push(`${net}::/64`);
    const results = await times(4, (i) => sut.consume({ principalClass: 'anonymous', owner: `ip:${net}::${hextet()}:${i + 1}` }, 'search'));
    expect(allowedCount(results)).toBe(2);
    expect((await sut.consume({ principalClass: 'anonymous', owner: `ip:2001:db8:${hextet()}:${hextet()}::1` }, 'search')).allowed).toBe(true);
  });

  describe('tenant cap', () => {
    it('refuses when the tenant is over its cap although each principal is within budget, and refunds the principal', async () => {
      const sut = limiter({ user: { read: [100, 60] }, tenant: [5, 60] });
      const tenantId = fresh('tenant');
      for (let i = 0; i < 5; i++) {
        expect((await sut.consume({ principalClass: 'user', owner: fresh('user'), tenantId }, 'read')).allowed).toBe(true);
      }

      const owner = fresh('user');
      const refused = await sut.consume({ principalClass: 'user', owner, tenantId }, 'read');
      expect(refused).toMatchObject({ allowed: false, exceeded: 'tenant', policy: 'user-read' });
      expect(refused.retryAfterS).toBeGreaterThanOrEqual(1);
      expect(refused.headers['Retry-After']).toBe(String(refused.retryAfterS));

      // The refused request cost the principal nothing: its counter is back to zero, and the
      // header says the whole budget is left.
      expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}user:read:${owner}`)).toBe('0');
      const [principal, tenant] = parseList(refused.headers.RateLimit, STATE_ITEM);
      expect(principal).toMatchObject({ name: 'user-read', a: 100 });
      expect(tenant).toMatchObject({ name: 'tenant', a: 0 });

      // Another tenant is not affected.
      expect((await sut.consume({ principalClass: 'user', owner, tenantId: fresh('tenant') }, 'read')).allowed).toBe(true);
    });

    it('aggregates every principal class and sensitivity of the tenant', async () => {
      const sut = limiter({ tenant: [4, 60] });
      const tenantId = fresh('tenant');
      const results = [
        await sut.consume({ principalClass: 'user', owner: fresh('user'), tenantId }, 'read'),
        await sut.consume({ principalClass: 'user', owner: fresh('user'), tenantId }, 'write'),
        await sut.consume({ principalClass: 'partner:premium', owner: fresh('partner'), tenantId }, 'search'),
        await sut.consume({ principalClass: 'operator', owner: fresh('operator'), tenantId }, 'export'),
        await sut.consume({ principalClass: 'partner:free', owner: fresh('partner'), tenantId }, 'read'),
      ];
      expect(results.map((result) => result.allowed)).toEqual([true, true, true, true, false]);
      expect(results[4]).toMatchObject({ exceeded: 'tenant' });
    });

    it('is not consumed by requests the principal budget refuses', async () => {
      const sut = limiter({ user: { export: [2, 60] }, tenant: [1000, 60] });
      const tenantId = fresh('tenant');
      const owner = fresh('user');
      const results = await times(5, () => sut.consume({ principalClass: 'user', owner, tenantId }, 'export'));
      expect(allowedCount(results)).toBe(2);
      expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}tenant:${tenantId}`)).toBe('2');
    });
  });

  describe('headers', () => {
    it('follow the draft format, with the tenant item for a tenant principal', async () => {
      const sut = limiter({ user: { read: [3, 60] }, tenant: [50, 30] });
      const subject: RateLimitSubject = { principalClass: 'user', owner: fresh('user'), tenantId: fresh('tenant') };

      const first = await sut.consume(subject, 'read');
      expect(first.allowed).toBe(true);
      expect(first.headers['RateLimit-Policy']).toBe('"user-read";q=3;w=60, "tenant";q=50;w=30');
      expect(parseList(first.headers['RateLimit-Policy'], POLICY_ITEM)).toEqual([
        { name: 'user-read', a: 3, b: 60 },
        { name: 'tenant', a: 50, b: 30 },
      ]);
      const [principal, tenant] = parseList(first.headers.RateLimit, STATE_ITEM);
      expect(principal).toMatchObject({ name: 'user-read', a: 2 });
      expect(principal!.b).toBeGreaterThanOrEqual(59);
      expect(principal!.b).toBeLessThanOrEqual(60);
      expect(tenant).toMatchObject({ name: 'tenant', a: 49 });
      expect(tenant!.b).toBeLessThanOrEqual(30);
      expect(Object.keys(first.headers).sort()).toEqual(['RateLimit', 'RateLimit-Policy']);

      await sut.consume(subject, 'read');
      await sut.consume(subject, 'read');
      const refused = await sut.consume(subject, 'read');
      expect(refused.allowed).toBe(false);
      expect(Object.keys(refused.headers).sort()).toEqual(['RateLimit', 'RateLimit-Policy', 'Retry-After']);
      expect(refused.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
      expect(Number(refused.headers['Retry-After'])).toBeLessThanOrEqual(60);
      const [exhausted, untouched] = parseList(refused.headers.RateLimit, STATE_ITEM);
      expect(exhausted).toMatchObject({ name: 'user-read', a: 0 });
      expect(exhausted!.b).toBeGreaterThanOrEqual(1);
      // The tenant cap was read, not consumed, by the refused request.
      expect(untouched).toMatchObject({ name: 'tenant', a: 47 });
    });

    it('have no tenant item for an anonymous caller', async () => {
      const sut = limiter({ anonymous: { auth: [1, 60] } });
      const subject: RateLimitSubject = { principalClass: 'anonymous', owner: freshIp() };

      const allowed = await sut.consume(subject, 'auth');
      expect(allowed).toMatchObject({ allowed: true, policy: 'anonymous-auth' });
      expect(allowed.headers['RateLimit-Policy']).toBe('"anonymous-auth";q=1;w=60');
      expect(allowed.headers.RateLimit).toMatch(/^"anonymous-auth";r=0;t=(60|59)$/);

      const refused = await sut.consume(subject, 'auth');
      expect(refused).toMatchObject({ allowed: false, exceeded: 'principal' });
      expect(refused.headers.RateLimit).toMatch(/^"anonymous-auth";r=0;t=\d+$/);
      expect(Number(refused.headers['Retry-After'])).toBeGreaterThanOrEqual(58);
      expect(Number(refused.headers['Retry-After'])).toBeLessThanOrEqual(60);
    });
  });

  it("reports a tenant nothing has counted yet with its whole budget when the principal's cell refuses", async () => {
    const sut = limiter({ user: { read: [1, 60] }, tenant: [50, 30] });
    const owner = fresh('user');
    expect((await sut.consume({ principalClass: 'user', owner, tenantId: fresh('tenant') }, 'read')).allowed).toBe(true);
    const untouched = fresh('tenant');
    const refused = await sut.consume({ principalClass: 'user', owner, tenantId: untouched }, 'read');
    expect(refused).toMatchObject({ allowed: false, exceeded: 'principal' });
    expect(refused.headers.RateLimit).toMatch(/^"user-read";r=0;t=\d+, "tenant";r=50;t=30$/);
    expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}tenant:${untouched}`)).toBeNull();
  });

  it('tells how long the refusing budget lasts: Retry-After from the tenant cap when it refuses', async () => {
    const sut = limiter({ user: { read: [100, 600] }, tenant: [1, 5] });
    const tenantId = fresh('tenant');
    expect((await sut.consume({ principalClass: 'user', owner: fresh('user'), tenantId }, 'read')).allowed).toBe(true);
    const refused = await sut.consume({ principalClass: 'user', owner: fresh('user'), tenantId }, 'read');
    expect(refused).toMatchObject({ allowed: false, exceeded: 'tenant', policy: 'user-read' });
    expect(refused.retryAfterS).toBeGreaterThanOrEqual(1);
    expect(refused.retryAfterS).toBeLessThanOrEqual(5);
    expect(refused.headers['Retry-After']).toBe(String(refused.retryAfterS));
    // The principal got its point back: its whole budget is left.
    expect(refused.headers.RateLimit).toMatch(/^"user-read";r=100;t=\d+, "tenant";r=0;t=[1-5]$/);
  });

  it('refuses a subject without an owner, and an unknown class or sensitivity, instead of pooling them', async () => {
    const sut = limiter({});
    for (const owner of ['', 'ip:']) {
      await expect(sut.consume({ principalClass: 'anonymous', owner }, 'read')).rejects.toThrow('A rate-limit subject needs an owner');
    }
    await expect(sut.consume({ principalClass: 'user', owner: fresh('user') }, 'nonsense' as 'read')).rejects.toThrow('Unknown principal class or sensitivity');
    await expect(sut.consume({ principalClass: 'robot' as 'user', owner: fresh('user') }, 'read')).rejects.toThrow('Unknown principal class or sensitivity');
  });

  it('keeps separate budgets per sensitivity', async () => {
    const sut = limiter({ user: { read: [2, 60], write: [2, 60] } });
    const subject: RateLimitSubject = { principalClass: 'user', owner: fresh('user'), tenantId: fresh('tenant') };
    await sut.consume(subject, 'read');
    await sut.consume(subject, 'read');
    expect((await sut.consume(subject, 'read')).allowed).toBe(false);

    expect(await sut.consume(subject, 'write')).toMatchObject({ allowed: true, policy: 'user-write' });
    expect((await sut.consume(subject, 'write')).allowed).toBe(true);
    expect((await sut.consume(subject, 'write')).allowed).toBe(false);
  });

  it('refuses to start with an unknown class in RATE_LIMIT_POLICY, naming it but not the values', () => {
    let error: unknown;
    try {
      realLimiter({ robots: { read: [123_457, 61] } });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems).toEqual([{ variable: 'RATE_LIMIT_POLICY', rule: expect.stringContaining('"robots"') }]);
    expect((error as Error).message).toContain('RATE_LIMIT_POLICY');
    expect((error as Error).message).not.toContain('123457');
  });

  describe('with Redis unavailable', () => {
    const dead = createRedis('redis://127.0.0.1:1', 'rate-limiter-spec-dead');
    dead.on('error', () => undefined);
    afterAll(() => dead.disconnect());

    it('still limits, per instance (insurance limiter), instead of failing open', async () => {
      const sut = limiter({ user: { write: [3, 60] }, tenant: [100, 60] }, dead);
      const subject: RateLimitSubject = { principalClass: 'user', owner: fresh('user'), tenantId: fresh('tenant') };
      const results = await times(6, () => sut.consume(subject, 'write'));
      expect(allowedCount(results)).toBe(3);
      expect(results.find((result) => !result.allowed)?.headers['Retry-After']).toMatch(/^[1-9]\d*$/);
    });
  });
});

describe('RateLimiter while the shared Redis reconnects', () => {
  it('warns once that limits fall back to per-instance limits, and logs once when they are shared again', async () => {
    let status: string | undefined = 'reconnecting';
    const client = new Proxy(redisA, {
      get(target, prop) {
        if (prop === 'status') return status ?? target.status;
        const value = Reflect.get(target, prop, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const ours = (spy: typeof warn) => spy.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('rate limits'));
    try {
      const sut = realLimiter({ user: { read: [5, 60] } }, client);
      const subject: RateLimitSubject = { principalClass: 'user', owner: fresh('user') };
      expect((await sut.consume(subject, 'read')).allowed).toBe(true);
      expect((await sut.consume(subject, 'read')).allowed).toBe(true);
      expect(ours(warn)).toEqual(['Redis unavailable: rate limits fall back to per-instance limits']);
      expect(ours(log)).toEqual([]);
      status = undefined;
      expect((await sut.consume(subject, 'read')).allowed).toBe(true);
      expect((await sut.consumeUnless(subject, 'read', []))?.result?.allowed).toBe(true);
      expect(ours(log)).toEqual(['Redis available again: rate limits are shared across instances']);
      expect(ours(warn)).toHaveLength(1);
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });
});

describe(tag('RATE-LIMIT', 'RateLimiter.consumeUnless on Redis Cluster and on a single Redis'), () => {
  // Runs in both suites (npm test on one Redis, npm run test:scale on a cluster), so neither skips it.
  it('is not possible on a cluster (undefined, nothing consumed: the gate reads its guards and consumes one by one, as before); on a single Redis it consumes in the round trip', async () => {
    const sut = realLimiter({ user: { read: [3, 60] } });
    const owner = fresh('user');
    const result = await sut.consumeUnless({ principalClass: 'user', owner, tenantId: fresh('tenant') }, 'read', []);
    const cluster = isCluster(redisA);
    expect({ cluster, combined: result !== undefined }).toEqual({ cluster, combined: !cluster });
    expect({ cluster, consumed: (await redisA.get(`${RATE_LIMIT_KEY_PREFIX}user:read:${owner}`)) !== null }).toEqual({ cluster, consumed: !cluster });
  });
});

describe.skipIf(isCluster(redisA))(tag('RATE-LIMIT', 'RateLimiter.consumeUnless: guards read in the same round trip'), () => {
  const guardKey = () => `benteng:test:guard:${fresh('user')}`;

  it('stops before consuming anything when a present-guard key exists or an absent-guard key is missing, and returns what it read', async () => {
    const sut = realLimiter({ user: { read: [5, 60] }, tenant: [100, 60] });
    const owner = fresh('user');
    const tenantId = fresh('tenant');
    const marker = guardKey();
    await redisA.set(marker, 'revoked', 'EX', 30);
    try {
      const stopped = await sut.consumeUnless({ principalClass: 'user', owner, tenantId }, 'read', [
        { key: guardKey(), stopWhen: 'present' },
        { key: marker, stopWhen: 'present' },
      ]);
      expect(stopped?.result).toBeUndefined();
      expect(stopped?.reads[0]).toEqual({ value: null, pttlMs: -2 });
      expect(stopped?.reads[1]?.value).toBe('revoked');
      expect(stopped?.reads[1]?.pttlMs).toBeGreaterThan(25_000);
      const missing = await sut.consumeUnless({ principalClass: 'user', owner, tenantId }, 'read', [{ key: guardKey(), stopWhen: 'absent' }]);
      expect(missing).toEqual({ reads: [{ value: null, pttlMs: -2 }] });
      // Neither the principal's cell nor the tenant cap was touched.
      expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}user:read:${owner}`)).toBeNull();
      expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}tenant:${tenantId}`)).toBeNull();

      const passed = await sut.consumeUnless({ principalClass: 'user', owner, tenantId }, 'read', [
        { key: marker, stopWhen: 'absent' },
        { key: guardKey(), stopWhen: 'present' },
      ]);
      expect(passed?.result).toMatchObject({ allowed: true, policy: 'user-read' });
      expect(passed?.reads.map((read) => read.value)).toEqual(['revoked', null]);
      expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}user:read:${owner}`)).toBe('1');
      expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}tenant:${tenantId}`)).toBe('1');
    } finally {
      await redisA.del(marker);
    }
  });

  it('serves the same budget as consume, on the same keys (instances of either kind side by side)', async () => {
    const policy = { 'partner:standard': { read: [7, 60] }, tenant: [1000, 60] };
    const [a, b] = [realLimiter(policy, redisA), realLimiter(policy, redisB)];
    const subject: RateLimitSubject = { principalClass: 'partner:standard', owner: fresh('partner'), tenantId: fresh('tenant') };
    const results = await times(16, async (index) => (index % 2 === 0 ? a.consume(subject, 'read') : (await b.consumeUnless(subject, 'read', []))!.result!));
    expect(allowedCount(results)).toBe(7);
    expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}tenant:${subject.tenantId}`)).toBe('7');
  });

  it('refunds the principal in the same script when the tenant cap refuses, so its concurrent requests are never refused by its own budget', async () => {
    const sut = realLimiter({ user: { read: [3, 60] }, tenant: [1, 60] });
    const tenantId = fresh('tenant');
    expect((await sut.consume({ principalClass: 'user', owner: fresh('user'), tenantId }, 'read')).allowed).toBe(true);
    const owner = fresh('user');
    const results = await times(30, async () => (await sut.consumeUnless({ principalClass: 'user', owner, tenantId }, 'read', []))!.result!);
    expect(results.map((result) => result.exceeded)).toEqual(Array.from({ length: 30 }, () => 'tenant'));
    expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}user:read:${owner}`)).toBe('0');
  });

  it('answers undefined, with a warning and nothing consumed, when the script fails', async () => {
    const sut = realLimiter({ user: { read: [5, 60] }, tenant: [100, 60] });
    const owner = fresh('user');
    const tenantId = fresh('tenant');
    const wrongType = guardKey();
    await redisA.hset(wrongType, 'field', 'a hash: GET fails with WRONGTYPE');
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    try {
      expect(await sut.consumeUnless({ principalClass: 'user', owner, tenantId }, 'read', [{ key: wrongType, stopWhen: 'present' }])).toBeUndefined();
      expect(warn.mock.calls.map(([message]) => String(message))).toEqual([expect.stringMatching(/^Gate round trip failed \(.*WRONGTYPE.*\): checks read one by one$/)]);
      expect(await redisA.get(`${RATE_LIMIT_KEY_PREFIX}user:read:${owner}`)).toBeNull();
    } finally {
      warn.mockRestore();
      await redisA.del(wrongType);
    }
  });

  it('checks the subject like consume does', async () => {
    const sut = realLimiter({});
    for (const owner of ['', 'ip:']) {
      await expect(sut.consumeUnless({ principalClass: 'anonymous', owner }, 'read', [])).rejects.toThrow('A rate-limit subject needs an owner');
    }
    await expect(sut.consumeUnless({ principalClass: 'user', owner: fresh('user') }, 'nonsense' as 'read', [])).rejects.toThrow('Unknown principal class or sensitivity');
  });

  it('is not possible (undefined) while Redis is not ready: the caller reads and consumes one by one', async () => {
    const dead = createRedis('redis://127.0.0.1:1', 'rate-limiter-spec-dead-2');
    dead.on('error', () => undefined);
    try {
      const sut = realLimiter({ user: { read: [3, 60] } }, dead);
      expect(await sut.consumeUnless({ principalClass: 'user', owner: fresh('user'), tenantId: fresh('tenant') }, 'read', [])).toBeUndefined();
    } finally {
      dead.disconnect();
    }
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '@benteng/config';
import { createRedis, type RedisClient } from '@benteng/redis';
import { ABUSE_KEY_PREFIX, AbuseDetector, principalBlockKey, SHARED_ADDRESS_FACTOR, type AbuseObservation, type PlacedBlock } from '@benteng/security';
import { deleteKeys, ready, scanKeys, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/** Every test uses fresh principals and IPs, so files and tests never share a counter. */
const ids: string[] = [];
const freshPrincipal = () => {
  const id = randomUUID();
  ids.push(id);
  return `user:${id}`;
};
const freshIp = () => {
  const ip = `10.${[...randomBytes(3)].join('.')}`;
  ids.push(ip);
  return ip;
};
const TENANT = randomUUID();
const hextet = () => randomBytes(2).readUInt16BE().toString(16);

const redisA = connect('abuse-detector-spec-a');
const redisB = connect('abuse-detector-spec-b');

function connect(name: string): RedisClient {
  return testRedis(name);
}

/** Tiny thresholds for the signal under test; the others stay out of the way. */
function detector(env: Record<string, string>, redis: RedisClient = redisA): AbuseDetector {
  return new AbuseDetector(
    redis,
    loadConfig({
      ...process.env,
      ABUSE_WINDOW_S: '60',
      ABUSE_MAX_NOT_FOUND: '1000',
      ABUSE_MAX_AUTH_FAILURES: '1000',
      ABUSE_MAX_DISTINCT_OBJECTS: '1000',
      ABUSE_MAX_BURST: '1000',
      ABUSE_BURST_WINDOW_S: '5',
      ABUSE_BLOCK_S: '120',
      ...env,
    }),
  );
}

const notFound = (ip: string, principal?: string): AbuseObservation => ({
  ip,
  ...(principal ? { principal, tenantId: TENANT } : {}),
  method: 'GET',
  status: 404,
  objectRoute: true,
  objectId: randomUUID(),
});
/** Any answered request without a principal: counted for `burst` only. */
const anonymous = (ip: string): AbuseObservation => ({ ip, method: 'GET', status: 200, objectRoute: false });
const read = (ip: string, principal: string, objectId: string, overrides: Partial<AbuseObservation> = {}): AbuseObservation => ({
  ip,
  principal,
  tenantId: TENANT,
  method: 'GET',
  status: 200,
  objectRoute: true,
  objectId,
  ...overrides,
});
async function observeAll(sut: AbuseDetector, observations: AbuseObservation[]): Promise<PlacedBlock[]> {
  const placed: PlacedBlock[] = [];
  for (const observation of observations) placed.push(...(await sut.observe(observation)));
  return placed;
}
/** Each observation by one of two detectors (two instances), all at once. */
async function race(detectors: [AbuseDetector, AbuseDetector], observations: AbuseObservation[]): Promise<PlacedBlock[]> {
  return (await Promise.all(observations.map((observation, i) => detectors[i % 2]!.observe(observation)))).flat();
}

/**
 * The shared client with a switch: while `down`, every command fails with `failure` (an ioredis
 * error, or anything else a broken client could reject with); otherwise it is the real client.
 */
function switchable(client: RedisClient): { client: RedisClient; down: boolean; failure: unknown } {
  const link = { down: false, failure: new Error('connection lost') as unknown, client };
  link.client = new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (link.down ? Promise.reject(link.failure) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  return link;
}

const abuseKeys = (): Promise<string[]> => scanKeys(redisA, `${ABUSE_KEY_PREFIX}*`);

beforeAll(async () => {
  await Promise.all([ready(redisA), ready(redisB)]);
});

afterAll(async () => {
  const ours = (await abuseKeys()).filter((key) => ids.some((id) => key.includes(id)));
  await deleteKeys(redisA, ours);
  redisA.disconnect();
  redisB.disconnect();
});

describe(tag('ABUSE-DETECTION', 'AbuseDetector on Redis'), () => {
  describe('not_found', () => {
    it('blocks the principal at the threshold and the IP past its own, once each, even when crossings race on two instances', async () => {
      const env = { ABUSE_MAX_NOT_FOUND: '3' };
      const instances: [AbuseDetector, AbuseDetector] = [detector(env, redisA), detector(env, redisB)];
      const principal = freshPrincipal();
      const ip = freshIp();
      const addressLimit = 3 * SHARED_ADDRESS_FACTOR;

      // One principal's misses fill its address up to the address's limit: only the principal is blocked.
      const byPrincipal = await race(instances, Array.from({ length: addressLimit }, () => notFound(ip, principal)));
      expect(byPrincipal).toEqual([
        { subject: { kind: 'principal', principal, tenantId: TENANT }, signal: 'not_found', observed: 4, threshold: 3, windowS: 60, blockS: 120, ip },
      ]);
      expect(await instances[1].blockedFor(ip)).toBeUndefined();
      const stored = JSON.parse((await redisA.get(`${ABUSE_KEY_PREFIX}block:principal:${principal}`))!) as Record<string, unknown>;
      expect(stored).toMatchObject({ signal: 'not_found', observed: 4, threshold: 3, windowS: 60 });
      expect(Date.parse(stored.blockedAt as string)).toBeGreaterThan(Date.now() - 60_000);

      // Authenticated misses of other principals push the address past its limit: it is blocked once.
      const byOthers = await race(instances, Array.from({ length: 10 }, () => notFound(ip, freshPrincipal())));
      expect(byOthers).toEqual([
        { subject: { kind: 'ip', ip }, signal: 'not_found', observed: addressLimit + 1, threshold: addressLimit, windowS: 60, blockS: 120, ip },
      ]);
      const ttl = await redisA.ttl(`${ABUSE_KEY_PREFIX}block:ip:${ip}`);
      expect(ttl).toBeGreaterThan(100);
      expect(ttl).toBeLessThanOrEqual(120);

      // Unauthenticated misses count against their address at the plain threshold: blocked once too.
      const other = freshIp();
      expect(await race(instances, Array.from({ length: 10 }, () => notFound(other)))).toEqual([
        { subject: { kind: 'ip', ip: other }, signal: 'not_found', observed: 4, threshold: 3, windowS: 60, blockS: 120, ip: other },
      ]);
    });

    it('allows exactly the threshold and blocks on the next one', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3' });
      const principal = freshPrincipal();
      const ip = freshIp();
      expect(await observeAll(sut, [notFound(ip, principal), notFound(ip, principal), notFound(ip, principal)])).toEqual([]);
      expect(await sut.blockedFor(ip, principal)).toBeUndefined();
      expect((await sut.observe(notFound(ip, principal))).map((block) => block.subject.kind)).toEqual(['principal']);

      // The address carries SHARED_ADDRESS_FACTOR times as many authenticated misses: 4 so far, then
      // colleagues' misses up to exactly that are fine, and the next one blocks it.
      const addressLimit = 3 * SHARED_ADDRESS_FACTOR;
      expect(await observeAll(sut, Array.from({ length: addressLimit - 4 }, () => notFound(ip, freshPrincipal())))).toEqual([]);
      expect(await sut.blockedFor(ip)).toBeUndefined();
      expect(await sut.observe(notFound(ip, freshPrincipal()))).toEqual([
        expect.objectContaining({ subject: { kind: 'ip', ip }, signal: 'not_found', observed: addressLimit + 1, threshold: addressLimit }),
      ]);
    });

    it('blocks a principal that crosses the threshold, but not the address it shares with others', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3' });
      const [principal, colleague] = [freshPrincipal(), freshPrincipal()];
      const ip = freshIp();
      const placed = await observeAll(sut, Array.from({ length: 4 }, () => notFound(ip, principal)));
      expect(placed).toEqual([
        { subject: { kind: 'principal', principal, tenantId: TENANT }, signal: 'not_found', observed: 4, threshold: 3, windowS: 60, blockS: 120, ip },
      ]);
      expect(await sut.blockedFor(ip, principal)).toMatchObject({ subject: 'principal', signal: 'not_found' });
      // A colleague behind the same address carries on.
      expect(await sut.observe(notFound(ip, colleague))).toEqual([]);
      expect(await sut.blockedFor(ip, colleague)).toBeUndefined();
      expect(await sut.blockedFor(ip)).toBeUndefined();
    });

    it("judges a principal's block from the gate's round-trip read (principalBlockKey and its PTTL) as it judges its own read", async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3' });
      const principal = freshPrincipal();
      const ip = freshIp();
      await observeAll(sut, Array.from({ length: 4 }, () => notFound(ip, principal)));
      const key = principalBlockKey(principal);
      const read = { value: await redisA.get(key), pttlMs: await redisA.pttl(key) };
      expect(read.value).toEqual(expect.any(String));
      const own = await sut.blockedFor(undefined, principal);
      expect(own).toMatchObject({ subject: 'principal', signal: 'not_found', source: 'detector' });
      expect(await sut.blockedFor(undefined, principal, read)).toEqual(own);
      // Nothing under the key: no block, whatever the detector would read now.
      expect(await sut.blockedFor(undefined, principal, { value: null, pttlMs: -2 })).toBeUndefined();
      // An entry the detector did not write is explicit, as from its own read.
      expect(await sut.blockedFor(undefined, principal, { value: 'by hand', pttlMs: -1 })).toMatchObject({ source: 'explicit', retryAfterS: 120 });
    });

    it('blocks an address at the plain threshold when its observations carry no principal', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3' });
      const ip = freshIp();
      expect(await observeAll(sut, [notFound(ip), notFound(ip), notFound(ip)])).toEqual([]);
      expect(await sut.blockedFor(ip)).toBeUndefined();
      expect(await sut.observe(notFound(ip))).toEqual([
        { subject: { kind: 'ip', ip }, signal: 'not_found', observed: 4, threshold: 3, windowS: 60, blockS: 120, ip },
      ]);
      expect(await sut.blockedFor(ip, freshPrincipal())).toMatchObject({ subject: 'ip', signal: 'not_found' });
    });

    it('blocks an IP that spreads its misses over many principals, without blocking any of them', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3' });
      const ip = freshIp();
      // One miss each: no principal comes near its threshold, the address exceeds 3 × SHARED_ADDRESS_FACTOR.
      const principals = Array.from({ length: 3 * SHARED_ADDRESS_FACTOR + 1 }, () => freshPrincipal());
      const placed = await observeAll(sut, principals.map((principal) => notFound(ip, principal)));
      expect(placed).toEqual([
        expect.objectContaining({ subject: { kind: 'ip', ip }, signal: 'not_found', observed: 3 * SHARED_ADDRESS_FACTOR + 1 }),
      ]);
      for (const principal of principals) expect(await sut.blockedFor(freshIp(), principal)).toBeUndefined();
    });

    it('does not count 404s on routes that are not object routes', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3' });
      const principal = freshPrincipal();
      const ip = freshIp();
      const observations = Array.from({ length: 10 }, () => ({ ...notFound(ip, principal), objectRoute: false }));
      expect(await observeAll(sut, observations)).toEqual([]);
      expect(await sut.blockedFor(ip, principal)).toBeUndefined();
    });

    it('counts an empty principal as no principal: the address at the plain threshold', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3' });
      const ip = freshIp();
      const placed = await observeAll(sut, Array.from({ length: 4 }, () => ({ ...notFound(ip), principal: '' })));
      expect(placed).toEqual([{ subject: { kind: 'ip', ip }, signal: 'not_found', observed: 4, threshold: 3, windowS: 60, blockS: 120, ip }]);
    });

    it('names the most specific signal when one request crosses several', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3', ABUSE_MAX_BURST: '3' });
      const principal = freshPrincipal();
      const ip = freshIp();
      const placed = await observeAll(sut, Array.from({ length: 4 }, () => notFound(ip, principal)));
      expect(placed.map((block) => [block.subject.kind, block.signal])).toEqual([['principal', 'not_found']]);
      const unauthenticated = await observeAll(sut, Array.from({ length: 4 }, () => notFound(ip)));
      expect(unauthenticated.map((block) => [block.subject.kind, block.signal])).toEqual([['ip', 'not_found']]);
    });
  });

  describe('auth_failure', () => {
    it('is named before burst when one request crosses both', async () => {
      const sut = detector({ ABUSE_MAX_AUTH_FAILURES: '2', ABUSE_MAX_BURST: '2' });
      const ip = freshIp();
      const failure = (): AbuseObservation => ({ ip, method: 'POST', status: 401, objectRoute: false });
      expect((await observeAll(sut, [failure(), failure(), failure()])).map((block) => block.signal)).toEqual(['auth_failure']);
    });

    it('blocks an IP after 401s and 403s without a known principal', async () => {
      const sut = detector({ ABUSE_MAX_AUTH_FAILURES: '2' });
      const ip = freshIp();
      const failure = (status: number): AbuseObservation => ({ ip, method: 'POST', status, objectRoute: false });
      expect(await observeAll(sut, [failure(401), failure(403)])).toEqual([]);
      expect(await observeAll(sut, [failure(200), failure(404)])).toEqual([]);
      expect(await sut.observe(failure(401))).toEqual([
        { subject: { kind: 'ip', ip }, signal: 'auth_failure', observed: 3, threshold: 2, windowS: 60, blockS: 120, ip },
      ]);
    });

    it('blocks an address once its principals together exceed threshold × SHARED_ADDRESS_FACTOR', async () => {
      const sut = detector({ ABUSE_MAX_AUTH_FAILURES: '2' });
      const ip = freshIp();
      const failure = (principal: string): AbuseObservation => ({ ip, principal, tenantId: TENANT, method: 'POST', status: 403, objectRoute: false });
      // SHARED_ADDRESS_FACTOR principals, each at exactly its own threshold: nobody is blocked.
      const principals = Array.from({ length: SHARED_ADDRESS_FACTOR }, () => freshPrincipal());
      expect(await observeAll(sut, principals.flatMap((principal) => [failure(principal), failure(principal)]))).toEqual([]);
      expect(await sut.blockedFor(ip)).toBeUndefined();

      // One more failure, from yet another principal, takes the address past 2 × SHARED_ADDRESS_FACTOR.
      const last = freshPrincipal();
      expect(await sut.observe(failure(last))).toEqual([
        {
          subject: { kind: 'ip', ip },
          signal: 'auth_failure',
          observed: 2 * SHARED_ADDRESS_FACTOR + 1,
          threshold: 2 * SHARED_ADDRESS_FACTOR,
          windowS: 60,
          blockS: 120,
          ip,
        },
      ]);
      expect(await sut.blockedFor(ip, freshPrincipal())).toMatchObject({ subject: 'ip', signal: 'auth_failure' });
      for (const principal of [...principals, last]) expect(await sut.blockedFor(freshIp(), principal)).toBeUndefined();
    });
  });

  describe('scraping', () => {
    it('counts distinct objects: 50 ids read twice stay under a threshold of 50, the 51st id blocks', async () => {
      const sut = detector({ ABUSE_MAX_DISTINCT_OBJECTS: '50' });
      const principal = freshPrincipal();
      const ip = freshIp();
      const objects = Array.from({ length: 50 }, () => randomUUID());

      expect(await observeAll(sut, objects.map((id) => read(ip, principal, id)))).toEqual([]);
      expect(await observeAll(sut, objects.map((id) => read(ip, principal, id)))).toEqual([]);
      // Writes, failures and list routes are not reads of an object.
      const other = randomUUID();
      expect(
        await observeAll(sut, [
          read(ip, principal, other, { method: 'PATCH' }),
          read(ip, principal, other, { status: 404, objectRoute: false }),
          read(ip, principal, other, { objectRoute: false }),
        ]),
      ).toEqual([]);

      expect(await sut.observe(read(ip, principal, randomUUID()))).toEqual([
        { subject: { kind: 'principal', principal, tenantId: TENANT }, signal: 'scraping', observed: 51, threshold: 50, windowS: 60, blockS: 120, ip },
      ]);
      expect(await sut.blockedFor(freshIp(), principal)).toMatchObject({ subject: 'principal', signal: 'scraping' });
      // Scraping is counted per principal only: the IP is not blocked.
      expect(await sut.blockedFor(ip)).toBeUndefined();
    });
  });

  describe('scraping, what counts as a read', () => {
    it('counts successful GETs of an object (any 2xx, the method in any case), not 300s, nor reads without an id', async () => {
      const sut = detector({ ABUSE_MAX_DISTINCT_OBJECTS: '2', ABUSE_MAX_BURST: '1000' });
      const principal = freshPrincipal();
      const ip = freshIp();
      expect(
        await observeAll(sut, [
          read(ip, principal, randomUUID(), { status: 300 }),
          read(ip, principal, randomUUID(), { status: 199 }),
          read(ip, principal, randomUUID(), { objectId: undefined }),
          read(ip, principal, randomUUID(), { status: 299 }),
          read(ip, principal, randomUUID(), { method: 'get' }),
        ]),
      ).toEqual([]);
      expect((await sut.observe(read(ip, principal, randomUUID(), { status: 204 }))).map((block) => [block.signal, block.observed])).toEqual([['scraping', 3]]);
    });

    it('is named before burst when one read crosses both', async () => {
      const sut = detector({ ABUSE_MAX_DISTINCT_OBJECTS: '2', ABUSE_MAX_BURST: '2' });
      const principal = freshPrincipal();
      const ip = freshIp();
      const placed = await observeAll(sut, Array.from({ length: 3 }, () => read(ip, principal, randomUUID())));
      expect(placed.map((block) => [block.subject.kind, block.signal])).toEqual([['principal', 'scraping']]);
    });
  });

  describe('recentObjects (incident view)', () => {
    it("lists the ids a principal missed (once each, colons kept) and the distinct objects it read, nobody else's", async () => {
      const sut = detector({});
      const principal = freshPrincipal();
      const ip = freshIp();
      const [missed, colons, seen] = [randomUUID(), 'inv:2026:0007', randomUUID()];
      await observeAll(sut, [
        { ...notFound(ip, principal), objectId: missed },
        { ...notFound(ip, principal), objectId: missed },
        { ...notFound(ip, principal), objectId: colons },
        { ...notFound(ip, principal), objectId: undefined },
        read(ip, principal, seen),
        read(ip, principal, seen),
        notFound(ip, freshPrincipal()),
      ]);
      const sut2 = await sut.recentObjects(principal);
      expect({ notFound: [...sut2.notFound].sort(), read: sut2.read }).toEqual({ notFound: [missed, colons].sort(), read: [seen] });
      expect(sut2.notFound).toHaveLength(2);
      expect(await sut.recentObjects(freshPrincipal())).toEqual({ notFound: [], read: [] });
    });

    it('leaves out what is older than ABUSE_WINDOW_S, although the counter still holds it', async () => {
      const sut = detector({ ABUSE_WINDOW_S: '60' });
      const principal = freshPrincipal();
      const ip = freshIp();
      const recent = randomUUID();
      await sut.observe({ ...notFound(ip, principal), objectId: recent });
      await sut.observe(read(ip, principal, recent));
      // What a counter holds between two observations: entries up to a window old, trimmed only by
      // the next observation (here written directly, 61 s and 59 s old).
      const tag = `{principal:${principal}}`;
      const at = (ageS: number) => Date.now() - ageS * 1000;
      await redisA.zadd(`${ABUSE_KEY_PREFIX}not_found:${tag}`, at(61), `${at(61)}:aaaa:too-old`, at(59), `${at(59)}:bbbb:still-in`);
      await redisA.zadd(`${ABUSE_KEY_PREFIX}scraping:${tag}`, at(61), 'too-old', at(59), 'still-in');
      const found = await sut.recentObjects(principal);
      expect({ notFound: [...found.notFound].sort(), read: [...found.read].sort() }).toEqual({ notFound: [recent, 'still-in'].sort(), read: [recent, 'still-in'].sort() });
    });
  });

  describe('burst', () => {
    it('blocks the principal, and an IP without principal, when requests exceed the burst threshold', async () => {
      const sut = detector({ ABUSE_MAX_BURST: '5', ABUSE_BURST_WINDOW_S: '5' });
      const principal = freshPrincipal();
      const ip = freshIp();
      const ok = () => read(ip, principal, randomUUID(), { objectRoute: false });
      expect(await observeAll(sut, Array.from({ length: 5 }, ok))).toEqual([]);
      const placed = await sut.observe(ok());
      expect(placed.map((block) => [block.subject.kind, block.signal, block.observed, block.windowS])).toEqual([['principal', 'burst', 6, 5]]);

      const other = freshIp();
      expect(await observeAll(sut, Array.from({ length: 5 }, () => anonymous(other)))).toEqual([]);
      const flood = await sut.observe(anonymous(other));
      expect(flood.map((block) => [block.subject.kind, block.signal, block.observed, block.windowS])).toEqual([['ip', 'burst', 6, 5]]);
    });

    it('forgets requests older than the window and counts the recent ones (sliding, not fixed)', async () => {
      const sut = detector({ ABUSE_MAX_BURST: '5', ABUSE_BURST_WINDOW_S: '1' });
      const principal = freshPrincipal();
      const ip = freshIp();
      const other = freshIp();
      // Each step: n requests of the principal, and n from another address without principal.
      const ok = () => read(ip, principal, randomUUID(), { objectRoute: false });
      const both = (n: number) => observeAll(sut, Array.from({ length: n }, () => [ok(), anonymous(other)]).flat());
      // t=0: three requests; t=0.6 s: two more (which also keep the key alive); t=1.1 s: the first
      // three have left the window, the two are still in it.
      expect(await both(3)).toEqual([]);
      await sleep(600);
      expect(await both(2)).toEqual([]);
      await sleep(500);
      expect(await both(3)).toEqual([]);
      expect(await sut.observe(ok())).toEqual([
        expect.objectContaining({ subject: expect.objectContaining({ kind: 'principal' }), signal: 'burst', observed: 6 }),
      ]);
      expect(await sut.observe(anonymous(other))).toEqual([
        expect.objectContaining({ subject: { kind: 'ip', ip: other }, signal: 'burst', observed: 6 }),
      ]);
    });
  });

  describe('blockedFor and lift', () => {
    it('reports the block with its retry-after, the principal first, until lifted', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '1', ABUSE_BLOCK_S: '30' });
      const principal = freshPrincipal();
      const ip = freshIp();
      // The principal's misses block the principal; misses without principal block the address.
      const placed = await observeAll(sut, [notFound(ip, principal), notFound(ip, principal), notFound(ip), notFound(ip)]);
      expect(placed.map((block) => block.subject.kind)).toEqual(['principal', 'ip']);

      const block = await sut.blockedFor(ip, principal);
      expect(block).toMatchObject({ subject: 'principal', signal: 'not_found' });
      expect(block!.retryAfterS).toBeGreaterThanOrEqual(1);
      expect(block!.retryAfterS).toBeLessThanOrEqual(30);
      // The principal is blocked from any address, the address for any principal.
      expect(await sut.blockedFor(freshIp(), principal)).toMatchObject({ subject: 'principal' });
      expect(await sut.blockedFor(ip, freshPrincipal())).toMatchObject({ subject: 'ip', signal: 'not_found' });
      expect(await sut.blockedFor(freshIp(), freshPrincipal())).toBeUndefined();

      expect(await sut.lift({ principal })).toBe(true);
      expect(await sut.lift({ principal })).toBe(false);
      expect(await sut.blockedFor(ip, principal)).toMatchObject({ subject: 'ip' });
      expect(await sut.lift({ ip })).toBe(true);
      expect(await sut.blockedFor(ip, principal)).toBeUndefined();
    });

    it('marks its own blocks automatic; an operator deny, or anything else under a block key, is explicit', async () => {
      const sut = detector({ ABUSE_MAX_AUTH_FAILURES: '1', ABUSE_BLOCK_S: '30' });
      const ip = freshIp();
      const failure = (): AbuseObservation => ({ ip, method: 'GET', status: 401, objectRoute: false });
      expect(await observeAll(sut, [failure(), failure()])).toEqual([expect.objectContaining({ subject: { kind: 'ip', ip }, signal: 'auth_failure' })]);
      expect(await sut.blockedFor(ip)).toMatchObject({ subject: 'ip', signal: 'auth_failure', source: 'detector' });

      // The operator's deny replaces the automatic block and lasts its own time.
      await sut.deny(ip, 600, 'operator:test');
      const denied = await sut.blockedFor(ip);
      expect(denied).toMatchObject({ subject: 'ip', source: 'explicit' });
      expect(denied!.retryAfterS).toBeGreaterThan(30);
      // A later crossing does not turn it back into an automatic block (SET NX keeps the deny).
      await observeAll(sut, [failure(), failure()]);
      expect(await sut.blockedFor(ip)).toMatchObject({ source: 'explicit' });

      // A value set by hand, or one that cannot be read, keeps its full effect (fails closed).
      const other = freshIp();
      await redisA.set(`${ABUSE_KEY_PREFIX}block:ip:${other}`, 'deny', 'EX', 30);
      expect(await sut.blockedFor(other)).toMatchObject({ subject: 'ip', source: 'explicit' });
      expect(await sut.lift({ ip })).toBe(true);
      expect(await sut.lift({ ip: other })).toBe(true);
    });
  });

  describe('deny and the details of a block', () => {
    it('denies for at least one second, rounding the duration up, and records who denied', async () => {
      const sut = detector({});
      const ip = freshIp();
      const key = `${ABUSE_KEY_PREFIX}block:ip:${ip}`;
      await sut.deny(ip, 0.2, 'operator:alice');
      const pttl = await redisA.pttl(key);
      expect(pttl).toBeGreaterThan(0);
      expect(pttl).toBeLessThanOrEqual(1000);
      const details = JSON.parse((await redisA.get(key))!) as Record<string, unknown>;
      expect(details).toEqual({ source: 'operator', by: 'operator:alice', blockedAt: expect.any(String) });
      expect(Math.abs(Date.parse(details.blockedAt as string) - Date.now())).toBeLessThan(60_000);
      await sut.deny(ip, 90.01, 'operator:alice');
      expect(await redisA.pttl(key)).toBeGreaterThan(90_000);
      const denied = await sut.blockedFor(ip);
      expect(denied).toMatchObject({ subject: 'ip', source: 'explicit', signal: 'burst' });
      expect(denied!.retryAfterS).toBeGreaterThan(89);
      expect(denied!.retryAfterS).toBeLessThanOrEqual(91);
      expect(await sut.lift({ ip })).toBe(true);
    });

    it('reads the signal from the details, and calls a block it cannot read a burst', async () => {
      const sut = detector({ ABUSE_BLOCK_S: '120' });
      const cases: [string, string, object][] = [
        ['{"signal":"scraping"}', 'PX 5000', { signal: 'scraping', source: 'explicit', retryAfterS: 5 }],
        ['{"signal":"nonsense","source":"detector"}', 'PX 1500', { signal: 'burst', source: 'detector', retryAfterS: 2 }],
        ['{"signal":"auth_failure","source":"detector"}', 'PX 400', { signal: 'auth_failure', source: 'detector', retryAfterS: 1 }],
        ['null', '', { signal: 'burst', source: 'explicit', retryAfterS: 120 }],
        ['deny', '', { signal: 'burst', source: 'explicit', retryAfterS: 120 }],
      ];
      for (const [value, expiry, expected] of cases) {
        const ip = freshIp();
        const key = `${ABUSE_KEY_PREFIX}block:ip:${ip}`;
        await (expiry === '' ? redisA.set(key, value) : redisA.set(key, value, 'PX', Number(expiry.slice(3))));
        expect({ value, block: await sut.blockedFor(ip) }).toEqual({ value, block: { subject: 'ip', ...expected } });
        await redisA.del(key);
      }
    });

    it("judges the gate's read only for a principal alone: with an address it reads both itself", async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '1' });
      const ip = freshIp();
      await observeAll(sut, [notFound(ip), notFound(ip)]);
      const none = { value: null, pttlMs: -2 };
      expect(await sut.blockedFor(ip, freshPrincipal(), none)).toMatchObject({ subject: 'ip', signal: 'not_found' });
      expect(await sut.blockedFor(undefined, undefined, { value: 'deny', pttlMs: 5000 })).toBeUndefined();
      expect(await sut.blockedFor(undefined, freshPrincipal(), { value: 'deny', pttlMs: -2 })).toMatchObject({ subject: 'principal', retryAfterS: 1 });
      expect(await sut.lift({ ip })).toBe(true);
    });
  });

  describe('while Redis fails and comes back', () => {
    it('fails open, warns once when detection goes off (naming the operation) and logs once when it is back', async () => {
      const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
      const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
      const ours = (spy: typeof warn) => spy.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('abuse detection'));
      try {
        const link = switchable(redisA);
        const sut = detector({ ABUSE_MAX_NOT_FOUND: '1' }, link.client);
        const ip = freshIp();
        link.down = true;
        expect(await observeAll(sut, [notFound(ip), notFound(ip)])).toEqual([]);
        expect(await sut.blockedFor(ip)).toBeUndefined();
        expect(ours(warn)).toEqual(['Redis unavailable in observe (connection lost): abuse detection is off until it answers again']);
        expect(ours(log)).toEqual([]);

        link.down = false;
        expect(await sut.observe(notFound(ip))).toEqual([]);
        expect(await sut.observe(notFound(ip))).toEqual([expect.objectContaining({ subject: { kind: 'ip', ip } })]);
        expect(await sut.blockedFor(ip)).toMatchObject({ subject: 'ip' });
        expect(ours(log)).toEqual(['Redis available again: abuse detection is back on']);

        link.down = true;
        link.failure = 'not an Error';
        expect(await sut.blockedFor(ip)).toBeUndefined();
        expect(ours(warn)).toHaveLength(2);
        expect(ours(warn)[1]).toBe('Redis unavailable in blockedFor (unknown error): abuse detection is off until it answers again');
        link.down = false;
        expect(await sut.blockedFor(ip)).toMatchObject({ subject: 'ip' });
        expect(ours(log)).toHaveLength(2);
        expect(await sut.lift({ ip })).toBe(true);
      } finally {
        warn.mockRestore();
        log.mockRestore();
      }
    });
  });

  describe('IPv6', () => {
    it('counts and blocks a /64, so rotating addresses inside it does not help', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '3' });
      const net = `2001:db8:${hextet()}:${hextet()}`;
      ids.push(`${net}::/64`);
      const placed = await observeAll(sut, [1, 2, 3, 4].map((i) => notFound(`${net}::${hextet()}:${i}`)));
      expect(placed).toEqual([expect.objectContaining({ subject: { kind: 'ip', ip: `${net}::/64` }, signal: 'not_found' })]);
      expect(await sut.blockedFor(`${net}:ffff:ffff:ffff:ffff`)).toMatchObject({ subject: 'ip' });
      expect(await sut.blockedFor(`2001:db8:${hextet()}:${hextet()}::1`)).toBeUndefined();
      expect(await sut.lift({ ip: `${net}::1` })).toBe(true);
    });
  });

  describe('with Redis unavailable', () => {
    const dead = createRedis('redis://127.0.0.1:1', 'abuse-detector-spec-dead');
    dead.on('error', () => undefined);
    afterAll(() => dead.disconnect());

    it('lets requests through: observe places nothing and blockedFor finds nothing', async () => {
      const sut = detector({ ABUSE_MAX_NOT_FOUND: '1' }, dead);
      const ip = freshIp();
      expect(await observeAll(sut, [notFound(ip), notFound(ip), notFound(ip)])).toEqual([]);
      expect(await sut.blockedFor(ip)).toBeUndefined();
    });
  });
});

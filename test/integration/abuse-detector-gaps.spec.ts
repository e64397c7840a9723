import { randomBytes, randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '@benteng/config';
import type { RedisClient } from '@benteng/redis';
import { ABUSE_KEY_PREFIX, AbuseDetector, type AbuseObservation } from '@benteng/security';
import { deleteKeys, ready, testRedis } from '../support/redis.js';

/**
 * What test/integration/abuse-detector.spec.ts leaves open: the recovery notice of `observe` on its
 * own, and the incident view when one of its reads fails inside the MULTI. Real Redis; a failing
 * Redis is the real client behind a switch, as in that spec.
 */

const redis = testRedis('abuse-detector-gaps-spec');
const keys: string[] = [];
const TENANT = randomUUID();

const freshPrincipal = () => `user:${randomUUID()}`;
const freshIp = () => `10.${[...randomBytes(3)].join('.')}`;

function detector(client: RedisClient): AbuseDetector {
  return new AbuseDetector(client, loadConfig({ ...process.env, ABUSE_WINDOW_S: '60', ABUSE_MAX_NOT_FOUND: '1000', ABUSE_MAX_AUTH_FAILURES: '1000', ABUSE_MAX_DISTINCT_OBJECTS: '1000', ABUSE_MAX_BURST: '1000', ABUSE_BURST_WINDOW_S: '5', ABUSE_BLOCK_S: '120' }));
}

/** The real client; while `down`, every command fails with `failure`. */
function switchable(client: RedisClient): { client: RedisClient; down: boolean } {
  const link = { down: false, client };
  link.client = new Proxy(client, {
    get(target, prop) {
      const value = Reflect.get(target, prop, target) as unknown;
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => (link.down ? Promise.reject(new Error('connection lost')) : (value as (...a: unknown[]) => unknown).apply(target, args));
    },
  });
  return link;
}

const counterKeys = (principal: string, ip: string) => [
  ...['burst', 'not_found', 'scraping', 'auth_failure'].map((signal) => `${ABUSE_KEY_PREFIX}${signal}:{principal:${principal}}`),
  ...['burst', 'not_found', 'auth_failure'].map((signal) => `${ABUSE_KEY_PREFIX}${signal}:{ip:${ip}}`),
];

beforeAll(() => ready(redis));

afterAll(async () => {
  await deleteKeys(redis, keys);
  redis.disconnect();
});

describe('AbuseDetector, the gaps of its main spec', () => {
  it('logs that detection is back as soon as an observation succeeds again, before any block is read', async () => {
    const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
    const ours = (spy: typeof warn) => spy.mock.calls.map(([message]) => String(message)).filter((message) => message.includes('abuse detection'));
    try {
      const link = switchable(redis);
      const sut = detector(link.client);
      const principal = freshPrincipal();
      const ip = freshIp();
      keys.push(...counterKeys(principal, ip));
      const observation: AbuseObservation = { ip, principal, tenantId: TENANT, method: 'GET', status: 200, objectRoute: false };

      link.down = true;
      expect(await sut.observe(observation)).toEqual([]);
      expect(ours(warn)).toEqual(['Redis unavailable in observe (connection lost): abuse detection is off until it answers again']);
      expect(ours(log)).toEqual([]);

      link.down = false;
      expect(await sut.observe(observation)).toEqual([]);
      expect(ours(log)).toEqual(['Redis available again: abuse detection is back on']);
      expect(await redis.zcard(`${ABUSE_KEY_PREFIX}burst:{principal:${principal}}`)).toBe(1);
      expect(await sut.observe(observation)).toEqual([]);
      expect(ours(log)).toHaveLength(1);
      expect(ours(warn)).toHaveLength(1);
    } finally {
      warn.mockRestore();
      log.mockRestore();
    }
  });

  it('passes on an error of one read of the incident view instead of answering an empty list', async () => {
    const sut = detector(redis);
    const principal = freshPrincipal();
    const notFoundKey = `${ABUSE_KEY_PREFIX}not_found:{principal:${principal}}`;
    const scrapingKey = `${ABUSE_KEY_PREFIX}scraping:{principal:${principal}}`;
    keys.push(notFoundKey, scrapingKey);
    await redis.zadd(scrapingKey, Date.now(), 'an-object-it-read');
    // A counter key holding another type: ZRANGEBYSCORE on it fails inside the MULTI (WRONGTYPE),
    // which ioredis reports per command while the other read succeeds.
    await redis.set(notFoundKey, 'not a sorted set', 'EX', 60);
    await expect(sut.recentObjects(principal)).rejects.toThrow(/WRONGTYPE/);

    await redis.del(notFoundKey);
    expect(await sut.recentObjects(principal)).toEqual({ notFound: [], read: ['an-object-it-read'] });
  });
});

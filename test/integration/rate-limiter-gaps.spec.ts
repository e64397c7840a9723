import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { loadConfig } from '@benteng/config';
import { createRedis, isCluster, type RedisClient } from '@benteng/redis';
import { RATE_LIMIT_KEY_PREFIX, RateLimiter, type RateLimitSubject } from '@benteng/security';
import { deleteKeys, ready, testRedis } from '../support/redis.js';

/**
 * What test/integration/rate-limiter.spec.ts leaves open about the gate's one round trip
 * (`consumeUnless`): what it logs while Redis is not ready, when it comes back, and when the script
 * fails with something that is not an Error. Real Redis; a client in another state is the real
 * client seen through a Proxy (its status, or one failing command).
 */

const redis = testRedis('rate-limiter-gaps-spec');
const keys: string[] = [];

function limiter(client: RedisClient): RateLimiter {
  return new RateLimiter(client, loadConfig({ ...process.env, RATE_LIMIT_POLICY: JSON.stringify({ user: { read: [5, 60] }, tenant: [100, 60] }) }));
}

function freshSubject(): RateLimitSubject {
  const owner = `user:${randomUUID()}`;
  const tenantId = randomUUID();
  keys.push(`${RATE_LIMIT_KEY_PREFIX}user:read:${owner}`, `${RATE_LIMIT_KEY_PREFIX}tenant:${tenantId}`);
  return { principalClass: 'user', owner, tenantId };
}

/** The real client, reporting `status` while it is set, and failing `evalsha` with `failure` while that is set. */
function seen(client: RedisClient, state: { status?: string; failure?: unknown }): RedisClient {
  return new Proxy(client, {
    get(target, prop) {
      if (prop === 'status') return state.status ?? target.status;
      if (prop === 'evalsha' && state.failure !== undefined) return () => Promise.reject(state.failure);
      const value = Reflect.get(target, prop, target) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
}

function captureLogs() {
  const warn = vi.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
  const log = vi.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  const messages = (spy: typeof warn) => spy.mock.calls.map(([message]) => String(message));
  return {
    warnings: () => messages(warn),
    logs: () => messages(log),
    restore: () => {
      warn.mockRestore();
      log.mockRestore();
    },
  };
}

beforeAll(() => ready(redis));

afterAll(async () => {
  await deleteKeys(redis, keys);
  redis.disconnect();
});

describe.skipIf(isCluster(redis))('RateLimiter.consumeUnless: what it logs', () => {
  it('says that limits are shared again when the round trip is the first call after Redis came back', async () => {
    const state: { status?: string } = { status: 'reconnecting' };
    const sut = limiter(seen(redis, state));
    const subject = freshSubject();
    const logs = captureLogs();
    try {
      expect((await sut.consume(subject, 'read')).allowed).toBe(true);
      expect(logs.warnings()).toEqual(['Redis unavailable: rate limits fall back to per-instance limits']);
      expect(logs.logs()).toEqual([]);

      delete state.status;
      const trip = await sut.consumeUnless(subject, 'read', []);
      expect(trip?.result?.allowed).toBe(true);
      expect(logs.logs()).toEqual(['Redis available again: rate limits are shared across instances']);
      expect(logs.warnings()).toHaveLength(1);
    } finally {
      logs.restore();
    }
  });

  it('answers undefined while Redis is not ready without trying the script or logging a thing: the one-by-one fallback warns, once', async () => {
    const dead = createRedis('redis://127.0.0.1:1', 'rate-limiter-gaps-spec-dead');
    dead.on('error', () => undefined);
    const logs = captureLogs();
    try {
      const sut = limiter(dead);
      const subject = freshSubject();
      for (let i = 0; i < 3; i++) expect(await sut.consumeUnless(subject, 'read', [])).toBeUndefined();
      expect(logs.warnings()).toEqual([]);
      expect(logs.logs()).toEqual([]);
      // What the gate does next: consume, on the per-instance limits, with one warning.
      expect((await sut.consume(subject, 'read')).allowed).toBe(true);
      expect(logs.warnings()).toEqual(['Redis unavailable: rate limits fall back to per-instance limits']);
    } finally {
      logs.restore();
      dead.disconnect();
    }
  });

  it('names a failure that is no Error as an unknown error, and consumes nothing', async () => {
    const sut = limiter(seen(redis, { failure: 'not an Error' }));
    const subject = freshSubject();
    const logs = captureLogs();
    try {
      expect(await sut.consumeUnless(subject, 'read', [])).toBeUndefined();
      expect(logs.warnings()).toEqual(['Gate round trip failed (unknown error): checks read one by one']);
      expect(await redis.get(`${RATE_LIMIT_KEY_PREFIX}user:read:${subject.owner}`)).toBeNull();
    } finally {
      logs.restore();
    }
  });
});

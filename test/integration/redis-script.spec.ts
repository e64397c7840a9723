import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isCluster, type RedisClient } from '@benteng/redis';
import { RedisScript } from '../../libs/security/src/redis-script.js';
import { ready, testRedis } from '../support/redis.js';

/**
 * RedisScript (libs/security/src/redis-script.ts) against the real Redis: a script Redis has never
 * seen is sent once in full (EVAL, which also caches it) and then by its SHA; any other failure is
 * passed on and never retried, since the script may already have run.
 */

const redis = testRedis('redis-script-spec');
const keys: string[] = [];
const key = () => {
  const name = `benteng:test:redis-script:{${randomUUID()}}`;
  keys.push(name);
  return name;
};

beforeAll(async () => {
  await ready(redis);
});

afterAll(async () => {
  for (const name of keys) await redis.del(name);
  redis.disconnect();
});

describe.skipIf(isCluster(redis))('RedisScript', () => {
  it('runs a script Redis does not know (NOSCRIPT: sent once in full), then by its SHA', async () => {
    // A source no one has loaded: its SHA is unknown to this Redis.
    const source = `-- ${randomUUID()}\nreturn redis.call('INCR', KEYS[1])`;
    const sut = new RedisScript(source);
    const counter = key();
    const sha = createHash('sha1').update(source).digest('hex');
    expect(await redis.script('EXISTS', sha)).toEqual([0]);
    expect(await sut.evalsha(redis, [1, counter])).toBe(1);
    expect(await sut.evalsha(redis, [1, counter])).toBe(2);
    expect(await redis.script('EXISTS', sha)).toEqual([1]);
  });

  it('sends the source only once: later calls go by SHA alone', async () => {
    const sut = new RedisScript(`-- ${randomUUID()}\nreturn redis.call('INCR', KEYS[1])`);
    const counter = key();
    let sent = 0;
    const counting = new Proxy(redis, {
      get(target, prop) {
        const value = Reflect.get(target, prop, target) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => {
          if (prop === 'eval') sent += 1;
          return (value as (...a: unknown[]) => unknown).apply(target, args);
        };
      },
    });
    for (let i = 0; i < 3; i += 1) await sut.evalsha(counting, [1, counter]);
    expect(await redis.get(counter)).toBe('3');
    expect(sent).toBe(1);
  });

  it('passes on an error of the script itself without running it again', async () => {
    const sut = new RedisScript(`-- ${randomUUID()}\nredis.call('INCR', KEYS[1])\nreturn redis.call('HGET', KEYS[2], 'field')`);
    const [counter, text] = [key(), key()];
    await redis.set(text, 'a string, not a hash');
    // Loaded first, so the failure below is the script's own, not NOSCRIPT.
    await expect(sut.evalsha(redis, [2, counter, text])).rejects.toThrow(/WRONGTYPE/);
    await expect(sut.evalsha(redis, [2, counter, text])).rejects.toThrow(/WRONGTYPE/);
    expect(await redis.get(counter)).toBe('2');
  });

  it('passes on a failure that is not an Error as it is', async () => {
    const sut = new RedisScript('return 1');
    const broken = { evalsha: () => Promise.reject('connection lost'), eval: () => Promise.resolve('ran again') } as unknown as RedisClient;
    await expect(sut.evalsha(broken, [0])).rejects.toBe('connection lost');
  });

  it('passes on an Error that is not NOSCRIPT without sending the script again', async () => {
    const sut = new RedisScript('return 1');
    const broken = { evalsha: () => Promise.reject(new Error('ERR max number of clients reached, NOSCRIPT later')), eval: () => Promise.resolve('ran again') } as unknown as RedisClient;
    await expect(sut.evalsha(broken, [0])).rejects.toThrow('ERR max number of clients reached');
  });
});

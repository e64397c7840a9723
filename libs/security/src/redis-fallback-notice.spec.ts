import { describe, expect, it } from 'vitest';
import { RedisFallbackNotice } from './redis-fallback-notice.js';

/** The client's status as ioredis reports it, and what the notice logged, in order. */
function setup() {
  const redis = { status: 'ready' };
  const logged: string[] = [];
  const logger = { warn: (message: string) => logged.push(`warn: ${message}`), log: (message: string) => logged.push(`log: ${message}`) };
  const sut = new RedisFallbackNotice(redis, logger, { lost: 'limits per instance', back: 'limits shared again' });
  return { redis, logged, sut };
}

describe('RedisFallbackNotice', () => {
  it('says nothing while Redis is ready', () => {
    const { logged, sut } = setup();
    sut.note();
    sut.note();
    expect(logged).toEqual([]);
  });

  it('warns once when Redis is lost and logs once when it is back, for each outage', () => {
    const { redis, logged, sut } = setup();
    sut.note();
    for (const status of ['reconnecting', 'reconnecting', 'end']) {
      redis.status = status;
      sut.note();
    }
    expect(logged).toEqual(['warn: limits per instance']);
    redis.status = 'ready';
    sut.note();
    sut.note();
    expect(logged).toEqual(['warn: limits per instance', 'log: limits shared again']);
    redis.status = 'connecting';
    sut.note();
    redis.status = 'ready';
    sut.note();
    expect(logged).toEqual(['warn: limits per instance', 'log: limits shared again', 'warn: limits per instance', 'log: limits shared again']);
  });

  it('warns at the first note when Redis is not ready from the start', () => {
    const { redis, logged, sut } = setup();
    redis.status = 'wait';
    sut.note();
    expect(logged).toEqual(['warn: limits per instance']);
  });
});

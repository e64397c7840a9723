import { describe, expect, it } from 'vitest';
import { obliterateQueues, startWorker, uniqueQueuePrefix } from '../support/worker.js';

describe('worker process', () => {
  it('connects to Redis, reports ready, and exits cleanly on SIGTERM', async () => {
    // Its own queue prefix: a worker on the default one would take jobs of anything else on this Redis.
    const prefix = uniqueQueuePrefix('worker');
    const worker = startWorker({ QUEUE_PREFIX: prefix });
    await worker.waitFor('worker ready', 20_000);
    const ready = worker.output().split('\n').find((l) => l.includes('worker ready'))!;
    expect(JSON.parse(ready)).toMatchObject({ service: 'benteng-worker', queues: ['jobs', 'platform'], jobs: { tenant: expect.arrayContaining(['jobs.probe']) } });
    worker.kill('SIGTERM');
    expect(await worker.exit).toBe(0);
    await obliterateQueues(prefix);
  });

  it('stops with a clear error, without echoing the URL, when Redis is unreachable', async () => {
    const worker = startWorker({ REDIS_URL: 'redis://:topsecret@127.0.0.1:1' });
    expect(await worker.exit).toBe(1);
    expect(worker.output()).toContain('Redis is not reachable at REDIS_URL');
    expect(worker.output()).not.toContain('topsecret');
  });

  it('refuses to start with invalid configuration, naming the variable only', async () => {
    const worker = startWorker({ REDIS_URL: 'http://nope-SENTINEL' });
    expect(await worker.exit).toBe(1);
    expect(worker.output()).toContain('REDIS_URL must be a redis:// or rediss:// URL');
    expect(worker.output()).not.toContain('SENTINEL');
  });
});

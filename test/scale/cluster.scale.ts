import { randomUUID } from 'node:crypto';
import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevocationStore } from '@benteng/auth';
import { loadConfig } from '@benteng/config';
import { JOBS_QUEUE, PLATFORM_QUEUE } from '@benteng/jobs';
import { QueueBoardQueues } from '@benteng/platform';
import { getEach, hashTag, isCluster, REDIS, type RedisClient } from '@benteng/redis';
import { RedisNonceStore } from '../../apps/api/src/internal/redis-nonce-store.js';
import { buildAuthApi, Caller, randomPassword, SecretLedger, setPassword } from '../support/auth-client.js';
import type { TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { deleteKeys, ready, scanKeys, testRedis } from '../support/redis.js';
import { testQueue, uniqueQueuePrefix } from '../support/worker.js';

/**
 * What the other scale specs assume: the Redis here is a real cluster, keys of a multi-key
 * operation in different slots are refused (so the fixes are needed, and the reused specs would
 * have failed without them), and the pieces with no spec of their own (the internal nonce store,
 * the revocation resync, BullMQ's keys, the queue board's queues) work on it.
 */
const redis = testRedis('scale-cluster-spec') as Cluster;
const owner = ownerPool();
const secrets = new SecretLedger();
let api: TestApi;
const ours: string[] = [];

/** The master that serves `key`'s slot, as host:port. */
async function masterOf(key: string): Promise<string> {
  const slot = Number(await redis.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await redis.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  const range = ranges.find(([from, to]) => slot >= from && slot <= to)!;
  return `${range[2][0]}:${range[2][1]}`;
}

beforeAll(async () => {
  await ready(redis);
  api = secrets.watch(await buildAuthApi());
});
afterAll(async () => {
  await api?.close();
  await deleteKeys(redis, ours);
  redis.disconnect();
});

describe('the Redis Cluster of npm run test:scale', () => {
  it('is 3 masters with a replica each, and the application connects to it as a cluster', async () => {
    expect(isCluster(redis)).toBe(true);
    expect(redis.nodes('master')).toHaveLength(3);
    const nodes = String(await redis.call('CLUSTER', 'NODES')).trim().split('\n');
    expect(nodes.filter((line) => line.includes('master'))).toHaveLength(3);
    expect(nodes.filter((line) => line.includes('slave'))).toHaveLength(3);
    expect(api.app.get<RedisClient>(REDIS)).toBeInstanceOf(Cluster);
  });

  it('refuses an MGET and a MULTI over keys in different slots (CROSSSLOT): what the single-node code sent', async () => {
    const keys = [`benteng:rev:session:${randomUUID()}`, `benteng:rev:user:${randomUUID()}`, 'benteng:rev:ready'];
    expect(new Set(await Promise.all(keys.map((key) => redis.call('CLUSTER', 'KEYSLOT', key)))).size).toBeGreaterThan(1);
    await expect(redis.mget(...keys)).rejects.toThrow(/CROSSSLOT|same slot/);
    await expect(redis.multi().set(keys[0]!, '1').set(keys[1]!, '1').exec()).rejects.toThrow(/CROSSSLOT|same slot/);
    // getEach is the replacement: one GET per key, pipelined per node.
    expect(await getEach(redis, keys.slice(0, 2))).toEqual([null, null]);
  });

  it('keeps the keys of one hash tag in one slot, and spreads different tags over the masters', async () => {
    const a = hashTag(`principal:user:${randomUUID()}`);
    expect(await redis.call('CLUSTER', 'KEYSLOT', `benteng:abuse:burst:${a}`)).toBe(await redis.call('CLUSTER', 'KEYSLOT', `benteng:abuse:not_found:${a}`));
    const masters = new Set<string>();
    for (let i = 0; i < 30; i++) masters.add(await masterOf(`benteng:abuse:burst:${hashTag(`ip:10.0.0.${i}`)}`));
    expect(masters.size).toBe(3);
  });
});

describe('revocation markers on the cluster', () => {
  it('a logout on one instance is refused on another, with the markers spread over several masters; a resync after READY is lost rebuilds them', async () => {
    const b = secrets.watch(await buildAuthApi());
    try {
      const tenant = await createTenant(owner, 'scale-rev');
      const password = await setPassword(owner, secrets, tenant.users.member.id);
      const onA = new Caller(api, secrets);
      const onB = new Caller(b, secrets, onA.ip);
      const sessions = await Promise.all(Array.from({ length: 6 }, () => onA.loginOk(tenant.users.member.email, password)));
      for (const session of sessions) expect((await onB.me(session.accessToken)).status).toBe(200);
      for (const session of sessions) expect((await onA.call('post', '/v1/auth/logout', { token: session.accessToken })).status).toBe(204);
      for (const session of sessions) expect((await onB.me(session.accessToken)).status).toBe(401);

      const markers = sessions.map((session) => `benteng:rev:session:${session.sessionId}`);
      expect(await getEach(redis, markers)).toEqual(markers.map(() => '1'));
      expect(new Set(await Promise.all(markers.map(masterOf))).size).toBeGreaterThan(1);

      // READY gone (a master lost its data): checks ask PostgreSQL, and a resync writes every
      // marker again (separate SETs, no cross-slot MULTI), READY last.
      await deleteKeys(redis, markers);
      await redis.del('benteng:rev:ready');
      for (const session of sessions) expect((await onB.me(session.accessToken)).status).toBe(401);
      await b.app.get(RevocationStore).resync();
      expect(await redis.get('benteng:rev:ready')).toBe('1');
      expect(await getEach(redis, markers)).toEqual(markers.map(() => '1'));
      const fresh = await onA.loginOk(tenant.users.member.email, password);
      expect((await onB.me(fresh.accessToken)).status).toBe(200);
    } finally {
      await b.close();
    }
  });

  it('a password change (user marker) and the markers of other tenants are honoured too', async () => {
    const tenant = await createTenant(owner, 'scale-rev-user');
    const password = await setPassword(owner, secrets, tenant.users.admin.id);
    const client = new Caller(api, secrets);
    const [current, other] = [await client.loginOk(tenant.users.admin.email, password), await client.loginOk(tenant.users.admin.email, password)];
    const newPassword = randomPassword();
    secrets.add(newPassword);
    expect((await client.call('post', '/v1/auth/password', { token: current.accessToken, body: { currentPassword: password, newPassword } })).status).toBe(204);
    expect((await client.me(current.accessToken)).status).toBe(200);
    expect((await client.me(other.accessToken)).status).toBe(401);
  });
});

describe('the internal nonce store on the cluster', () => {
  it('remembers a nonce once across instances (SET NX EX), on whichever master its slot is', async () => {
    const other = testRedis('scale-cluster-nonce');
    await ready(other);
    try {
      const first = new RedisNonceStore(redis);
      const second = new RedisNonceStore(other);
      const nonces = Array.from({ length: 12 }, () => `kid-scale:${randomUUID()}`);
      ours.push(...nonces.map((nonce) => `benteng:internal:nonce:${nonce}`));
      const results = await Promise.all(nonces.flatMap((nonce) => [first.remember(nonce, 30), second.remember(nonce, 30)]));
      // Each nonce accepted exactly once, whichever instance saw it first.
      for (let i = 0; i < nonces.length; i++) expect([results[2 * i], results[2 * i + 1]].filter(Boolean)).toHaveLength(1);
      expect(new Set(await Promise.all(nonces.map((nonce) => masterOf(`benteng:internal:nonce:${nonce}`)))).size).toBeGreaterThan(1);
    } finally {
      other.disconnect();
    }
  });
});

describe('BullMQ on the cluster', () => {
  it('puts every key of a queue under the hash-tagged prefix, in one slot, and the queue board reads the counts', async () => {
    const prefix = uniqueQueuePrefix('scale');
    const queue = testQueue(JOBS_QUEUE, prefix);
    const board = new QueueBoardQueues(loadConfig({ ...process.env, QUEUE_PREFIX: prefix }));
    try {
      expect(queue.opts.prefix).toBe(`{${prefix}}`);
      await queue.add('probe', { n: 1 });
      await queue.add('probe', { n: 2 }, { delay: 60_000 });
      const keys = await scanKeys(redis, `{${prefix}}:*`);
      expect(keys.length).toBeGreaterThan(3);
      expect(new Set(await Promise.all(keys.map((key) => redis.call('CLUSTER', 'KEYSLOT', key)))).size).toBe(1);
      const counts = await board.queues.find((q) => q.name === JOBS_QUEUE)!.getJobCounts('waiting', 'delayed');
      expect(counts).toEqual({ waiting: 1, delayed: 1 });
      expect(await board.queues.find((q) => q.name === PLATFORM_QUEUE)!.getJobCounts('waiting')).toEqual({ waiting: 0 });
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      await board.onModuleDestroy();
    }
  });
});

import { Cluster } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RevocationStore } from '@benteng/auth';
import { createRedis, REDIS, type RedisClient } from '@benteng/redis';
import type { TestApi } from '../support/api.js';
import { buildAuthApi, Caller, SecretLedger, setPassword, type Session } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { startRedisCluster, type TestRedisCluster } from './support/redis-cluster.js';
import { until } from './support/wait.js';

/**
 * A Redis master fails over under an API instance: on a cluster of its own (the run's shared one
 * must not lose a master under the other files). The revocation check must refuse a revoked
 * session at every moment (it asks PostgreSQL while a node is gone, RevocationStore's generation),
 * and come back to the markers once the replica is promoted and a resync has rewritten them.
 */
const owner = ownerPool();
const secrets = new SecretLedger();
let cluster: TestRedisCluster;
let api: TestApi;
let redis: RedisClient;

beforeAll(async () => {
  cluster = await startRedisCluster(3);
  api = secrets.watch(await buildAuthApi({ env: { REDIS_CLUSTER_NODES: cluster.seeds } }));
  redis = api.app.get<RedisClient>(REDIS);
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
  await api.app.get(RevocationStore).resync();
});
afterAll(async () => {
  await api?.close();
  await cluster?.stop();
});

/** The port of the master serving `key`'s slot, as the cluster says now. */
async function masterPortOf(client: RedisClient, key: string): Promise<number> {
  const slot = Number(await client.call('CLUSTER', 'KEYSLOT', key));
  const ranges = (await client.call('CLUSTER', 'SLOTS')) as [number, number, [string, number]][];
  return ranges.find(([from, to]) => slot >= from && slot <= to)![2][1];
}

describe('a Redis master failing over under the API', () => {
  it('never accepts a revoked session while the master is down or after its replica took over; valid sessions keep working', async () => {
    const tenant = await createTenant(owner, 'failover');
    const password = await setPassword(owner, secrets, tenant.users.member.id);
    const client = new Caller(api, secrets);
    const sessions: Session[] = [];
    for (let i = 0; i < 8; i++) sessions.push(await client.loginOk(tenant.users.member.email, password));
    const [revoked, valid] = [sessions.slice(0, 4), sessions.slice(4)];
    for (const session of revoked) expect((await client.call('post', '/v1/auth/logout', { token: session.accessToken })).status).toBe(204);

    const victimPort = await masterPortOf(redis, `benteng:rev:session:${revoked[0]!.sessionId}`);
    const victim = cluster.nodes.find((node) => node.port === victimPort)!;
    const killedAt = Date.now();
    await victim.kill();

    // Traffic through the failover: until the cluster is whole again, and 3 s beyond.
    const seen = { revoked: new Map<number, number>(), valid: new Map<number, number>() };
    const note = (map: Map<number, number>, status: number) => map.set(status, (map.get(status) ?? 0) + 1);
    let whole = 0;
    const probe = createRedis('redis://127.0.0.1:6379', 'failover-probe', cluster.nodes.filter((n) => n !== victim).map((n) => ({ host: '127.0.0.1', port: n.port }))) as Cluster;
    probe.on('error', () => undefined);
    try {
      while (whole === 0 || Date.now() - whole < 3_000) {
        await Promise.all([
          ...revoked.map(async (s) => note(seen.revoked, (await client.me(s.accessToken)).status)),
          ...valid.map(async (s) => note(seen.valid, (await client.me(s.accessToken)).status)),
        ]);
        if (whole === 0 && probe.status === 'ready') {
          const info = String(await probe.call('CLUSTER', 'INFO').catch(() => ''));
          if (info.includes('cluster_state:ok') && (await masterPortOf(probe, `benteng:rev:session:${revoked[0]!.sessionId}`).catch(() => victimPort)) !== victimPort) whole = Date.now();
        }
        if (Date.now() - killedAt > 60_000) throw new Error('the replica was not promoted within 60 s');
      }
    } finally {
      probe.disconnect();
    }
    process.stdout.write(`failover: replica promoted ${whole - killedAt} ms after the master was killed; revoked ${JSON.stringify([...seen.revoked])}, valid ${JSON.stringify([...seen.valid])}\n`);
    expect(seen.revoked.get(200) ?? 0).toBe(0);
    expect(seen.valid.get(200) ?? 0).toBeGreaterThan(0);

    // After the failover the markers are trusted again: READY and every revoked marker are there
    // (rewritten by the resync the lost node triggered), and a new logout lands on the new master.
    await until(async () => (await redis.get('benteng:rev:ready')) === '1', 'READY after the failover', 20_000, 200);
    for (const session of revoked) expect(await redis.get(`benteng:rev:session:${session.sessionId}`)).toBe('1');
    const after = await client.loginOk(tenant.users.member.email, password);
    expect((await client.call('post', '/v1/auth/logout', { token: after.accessToken })).status).toBe(204);
    expect((await client.me(after.accessToken)).status).toBe(401);
    for (const session of valid) expect((await client.me(session.accessToken)).status).toBe(200);
  }, 120_000);
});

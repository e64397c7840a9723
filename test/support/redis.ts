import { clusterNodes, createRedis, isCluster, type RedisClient } from '@benteng/redis';

/**
 * A client as the application makes it (createRedis) for this test process's Redis: REDIS_URL, or
 * the Redis Cluster of REDIS_CLUSTER_NODES when set (`npm run test:scale`).
 */
export function testRedis(connectionName: string): RedisClient {
  const redis = createRedis(process.env.REDIS_URL!, connectionName, clusterNodes({ REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES }));
  redis.on('error', () => undefined);
  return redis;
}

/** Every key matching `pattern` (SCAN, never KEYS, so a busy shared Redis is not blocked); on a cluster, over every master. */
export async function scanKeys(redis: RedisClient, pattern: string): Promise<string[]> {
  if (isCluster(redis)) return (await Promise.all(redis.nodes('master').map((node) => scanKeys(node, pattern)))).flat();
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  return keys;
}

/** DEL of keys that may live in different cluster slots: one DEL per key (one DEL for all on a single Redis); how many existed. */
export async function deleteKeys(redis: RedisClient, keys: string[]): Promise<number> {
  if (keys.length === 0) return 0;
  if (isCluster(redis)) return (await Promise.all(keys.map((key) => redis.del(key)))).reduce((sum, n) => sum + n, 0);
  return redis.del(...keys);
}

/** createRedis does not queue commands while connecting: wait until the client is ready. */
export async function ready(redis: RedisClient): Promise<void> {
  if (redis.status !== 'ready') await new Promise((resolve) => redis.once('ready', resolve));
}

import { Global, Inject, Injectable, Module, OnModuleDestroy } from '@nestjs/common';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import { AppConfig } from '@benteng/config';

/**
 * The shared Redis client of a process: one connection to REDIS_URL, or an ioredis Cluster when
 * REDIS_CLUSTER_NODES is set. Both speak the same commands; code that sends a multi-key command,
 * a MULTI or a Lua script must keep its keys in one hash slot (see `hashTag`, `getEach`).
 */
export type RedisClient = Redis | Cluster;

/** Options common to the single connection and to each node of a cluster. */
const COMMON = {
  // A hung Redis must not stall requests: a command that takes longer fails, and callers fall
  // back (revocation checks ask Postgres, throttles use their per-instance insurance).
  commandTimeout: 1_500,
  connectTimeout: 2_000,
  maxRetriesPerRequest: 1,
} as const satisfies RedisOptions;

/** `REDIS_CLUSTER_NODES` as ioredis seed nodes, or undefined for single-node mode. */
export function clusterNodes(config: Pick<AppConfig, 'REDIS_CLUSTER_NODES'>): { host: string; port: number }[] | undefined {
  if (!config.REDIS_CLUSTER_NODES) return undefined;
  return config.REDIS_CLUSTER_NODES.split(',').map((node) => {
    const at = node.lastIndexOf(':');
    const port = Number(node.slice(at + 1));
    if (!(port >= 1 && port <= 65535)) throw new Error('REDIS_CLUSTER_NODES: a port must be 1-65535');
    return { host: node.slice(0, at), port };
  });
}

/** The user, password and TLS of REDIS_URL, applied to every node of a cluster. */
function credentialsOf(url: string): Pick<RedisOptions, 'username' | 'password' | 'tls'> {
  const parsed = new URL(url);
  return {
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/**
 * A cluster client. Commands are routed by key slot; auto-pipelining batches the commands of one
 * tick per node. Commands of a MULTI or a script must share one slot (hash tags), or Redis answers
 * CROSSSLOT.
 */
export function createCluster(nodes: { host: string; port: number }[], url: string, connectionName: string, options: { failFast: boolean; blocking?: boolean } = { failFast: true }): Cluster {
  const clusterOptions: ClusterOptions = {
    enableOfflineQueue: !options.failFast,
    enableAutoPipelining: true,
    // A failover moves slots: retry a command redirected or refused with CLUSTERDOWN a few times
    // instead of failing it at once.
    retryDelayOnFailover: 200,
    retryDelayOnClusterDown: 300,
    clusterRetryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    redisOptions: {
      ...credentialsOf(url),
      connectionName,
      ...(options.blocking ? { maxRetriesPerRequest: null } : COMMON),
    },
  };
  return new Cluster(nodes, clusterOptions);
}

/**
 * The Redis client of a process (revocations, rate limits and anomaly counters live in Redis so
 * that N instances behave as one). Commands fail fast instead of queueing while Redis is down:
 * callers decide how to degrade, and none of them may fail open.
 */
export function createRedis(url: string, connectionName: string, nodes?: { host: string; port: number }[]): RedisClient {
  if (nodes) return createCluster(nodes, url, connectionName);
  return new Redis(url, {
    ...COMMON,
    connectionName,
    enableOfflineQueue: false,
    // Commands issued in the same tick (the block checks, revocation lookup and limiter scripts of
    // concurrent requests) go out in one write: -14 % CPU per GET /v1/invoices/:id, +20 % req/s at
    // 64 connections (docs/benchmarks.md). Order per connection is unchanged, so is every result.
    enableAutoPipelining: true,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
  });
}

export function isCluster(redis: RedisClient): redis is Cluster {
  return redis instanceof Cluster;
}

/**
 * `{part}`: the hash tag that makes Redis Cluster place every key containing it in the same slot
 * (only the text between the first `{` and the next `}` is hashed). Harmless on a single Redis, so
 * key names are the same in both modes. Braces in `part` itself would end the tag early: they are
 * replaced.
 */
export function hashTag(part: string): string {
  return `{${part.replace(/[{}]/g, '_')}}`;
}

/**
 * GET of several keys. On one Redis a single MGET; on a cluster, where keys of different slots
 * cannot share an MGET (CROSSSLOT), one GET per key, which auto-pipelining sends as one write per
 * node in the same tick. Not atomic across keys in either mode (MGET is, but no caller relies on it).
 */
export async function getEach(redis: RedisClient, keys: string[]): Promise<(string | null)[]> {
  if (keys.length === 0) return [];
  if (!isCluster(redis)) return redis.mget(...keys);
  return Promise.all(keys.map((key) => redis.get(key)));
}

/** Options BullMQ opens a single-node connection with. */
export interface SingleQueueConnection {
  url: string;
  maxRetriesPerRequest: number | null;
  connectionName: string;
  enableOfflineQueue?: boolean;
}

/**
 * BullMQ's connection and key prefix. Single-node: options for REDIS_URL (BullMQ opens and closes
 * its own connections) and QUEUE_PREFIX. Cluster: a Cluster instance, which the caller must close
 * (`close`), and the prefix `{QUEUE_PREFIX}` so that every key of every queue hashes to one slot, as
 * BullMQ's Lua scripts require (its documented cluster setup). All queues of a deployment then live
 * on one master: BullMQ's load does not spread across the cluster, the rest of Benteng's keys do.
 */
export function queueConnection(
  config: Pick<AppConfig, 'REDIS_URL' | 'REDIS_CLUSTER_NODES' | 'QUEUE_PREFIX'>,
  options: { connectionName: string; maxRetriesPerRequest: number | null; enableOfflineQueue?: boolean },
): { connection: Cluster | SingleQueueConnection; prefix: string; close(): Promise<void> } {
  const nodes = clusterNodes(config);
  if (!nodes) {
    return {
      connection: {
        url: config.REDIS_URL,
        maxRetriesPerRequest: options.maxRetriesPerRequest,
        connectionName: options.connectionName,
        ...(options.enableOfflineQueue === false ? { enableOfflineQueue: false } : {}),
      },
      prefix: config.QUEUE_PREFIX,
      close: async () => undefined,
    };
  }
  const cluster = createCluster(nodes, config.REDIS_URL, options.connectionName, {
    failFast: options.enableOfflineQueue === false,
    blocking: options.maxRetriesPerRequest === null,
  });
  cluster.on('error', () => undefined);
  return {
    connection: cluster,
    prefix: hashTag(config.QUEUE_PREFIX),
    close: async () => {
      await cluster.quit().catch(() => cluster.disconnect());
    },
  };
}

export const REDIS = Symbol('REDIS');
export const InjectRedis = () => Inject(REDIS);

@Injectable()
class RedisLifecycle implements OnModuleDestroy {
  constructor(@InjectRedis() private readonly redis: RedisClient) {}

  async onModuleDestroy(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({
  providers: [
    {
      provide: REDIS,
      inject: [AppConfig],
      useFactory: (config: AppConfig) => {
        const redis = createRedis(config.REDIS_URL, 'benteng', clusterNodes(config));
        // Errors surface through failed commands and the readiness check; without a listener
        // ioredis would print every reconnect attempt as an unhandled error event.
        redis.on('error', () => undefined);
        return redis;
      },
    },
    RedisLifecycle,
  ],
  exports: [REDIS],
})
export class RedisModule {}

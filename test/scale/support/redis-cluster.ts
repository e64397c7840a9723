import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { freePort } from '../../support/net.js';
import { until } from './wait.js';

const REDIS_SERVER = process.env.SCALE_REDIS_SERVER ?? '/usr/bin/redis-server';
const REDIS_CLI = process.env.SCALE_REDIS_CLI ?? '/usr/bin/redis-cli';

export interface RedisClusterNode {
  port: number;
  /** SIGKILL this node (a crash). */
  kill(): Promise<void>;
}

export interface TestRedisCluster {
  nodes: RedisClusterNode[];
  /** `127.0.0.1:p1,127.0.0.1:p2,…`: the value of REDIS_CLUSTER_NODES. */
  seeds: string;
  stop(): Promise<void>;
}

/** A loopback port for a server, never 2024 (reserved on this machine) nor one whose bus port would be. */
async function serverPort(): Promise<number> {
  for (;;) {
    const port = await freePort();
    if (port !== 2024) return port;
  }
}

/**
 * A real Redis Cluster from the Debian redis-server: `masters` masters with one replica each
 * (default 3 + 3), every node a redis-server process with `cluster-enabled yes` on a free
 * 127.0.0.1 port (and an explicit free cluster bus port, `cluster-port`, so the bus never lands on
 * port + 10000 out of range or on a taken port), joined by `redis-cli --cluster create …
 * --cluster-replicas 1 --cluster-yes`. Resolves once every node reports `cluster_state:ok`.
 * No persistence: the data lives in a temp directory removed by `stop()`.
 */
export async function startRedisCluster(masters = 3): Promise<TestRedisCluster> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`redis-server not found at ${REDIS_SERVER} (set SCALE_REDIS_SERVER)`);
  const dir = mkdtempSync(join(tmpdir(), 'benteng-scale-redis-'));
  const children: ChildProcess[] = [];
  const nodes: RedisClusterNode[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < masters * 2; i++) {
      const port = await serverPort();
      const bus = await serverPort();
      let output = '';
      const child = spawn(
        REDIS_SERVER,
        [
          '--port', String(port),
          '--cluster-port', String(bus),
          '--bind', '127.0.0.1',
          '--protected-mode', 'yes',
          '--cluster-enabled', 'yes',
          '--cluster-config-file', join(dir, `nodes-${port}.conf`),
          '--cluster-node-timeout', '2000',
          '--dir', dir,
          '--dbfilename', `dump-${port}.rdb`,
          '--save', '',
          '--appendonly', 'no',
          '--daemonize', 'no',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      child.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-10_000)));
      child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-10_000)));
      children.push(child);
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      nodes.push({
        port,
        async kill() {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill('SIGKILL');
          await exited;
        },
      });
      await until(async () => {
        if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited:\n${output}`);
        return ping(port);
      }, `redis-server on ${port}`, 10_000, 50);
    }

    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    const create = spawnSync(REDIS_CLI, ['--cluster', 'create', ...addresses, '--cluster-replicas', '1', '--cluster-yes'], { encoding: 'utf8', timeout: 60_000 });
    if (create.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${create.stdout}\n${create.stderr}`);
    // Every node must agree the cluster is up (slots all covered, replicas attached) before use.
    for (const node of nodes) {
      await until(async () => (await clusterInfo(node.port)).includes('cluster_state:ok'), `cluster_state:ok on ${node.port}`, 30_000, 100);
    }
    await until(async () => (await replicasAttached(nodes[0]!.port)) === masters, `${masters} replicas attached`, 30_000, 100);
    // And replicating: a replica that never finished its first sync would refuse to fail over.
    await until(async () => (await Promise.all(nodes.map((node) => replicationOf(node.port)))).filter((info) => info.includes('master_link_status:up')).length === masters, `${masters} replicas in sync`, 30_000, 100);
    return { nodes, seeds: addresses.join(','), stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function withNode<T>(port: number, run: (redis: Redis) => Promise<T>): Promise<T> {
  const redis = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    return await run(redis);
  } finally {
    redis.disconnect();
  }
}

const ping = (port: number) => withNode(port, async (redis) => (await redis.ping()) === 'PONG');
const replicationOf = (port: number) => withNode(port, async (redis) => String(await redis.info('replication')));
const clusterInfo = (port: number) => withNode(port, async (redis) => String(await redis.call('CLUSTER', 'INFO')));

/** Replicas in a connected state, per CLUSTER NODES as one node sees it. */
const replicasAttached = (port: number) =>
  withNode(port, async (redis) => {
    const lines = String(await redis.call('CLUSTER', 'NODES')).trim().split('\n');
    return lines.filter((line) => line.split(' ')[2]!.includes('slave') && line.includes(' connected')).length;
  });

import type { TestProject } from 'vitest/node';
import servicesSetup from '../../support/global-setup.js';
import { startPgBouncer } from './pgbouncer.js';
import { startRedisCluster } from './redis-cluster.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** REDIS_CLUSTER_NODES of the run's Redis Cluster (3 masters, 3 replicas). */
    redisClusterNodes: string;
    /** The runtime role's URL through PgBouncer (pool_mode = transaction). */
    pgbouncerAppUrl: string;
    pgbouncerVersion: string;
    /** The admin console (`SHOW STATS`, `SHOW POOLS`). */
    pgbouncerAdminUrl: string;
  }
}

/**
 * `npm run test:scale` (test/scale/vitest.config.ts): the run's migrated test database and keys
 * as in `npm test` (test/support/global-setup.ts, direct connection to PostgreSQL), plus a real
 * 3-master + 3-replica Redis Cluster and a PgBouncer in transaction mode in front of that
 * PostgreSQL, all on free loopback ports and stopped at the end.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const started = Date.now();
  const teardownServices = await servicesSetup(project);
  const cleanups: (() => Promise<void>)[] = [teardownServices];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
  };
  try {
    const provided = project.getProvidedContext();
    const databaseUrl = new URL(provided.databaseUrl);
    const appUrl = new URL(provided.appDatabaseUrl);
    const database = decodeURIComponent(databaseUrl.pathname.slice(1));
    const [cluster, bouncer] = await Promise.all([
      startRedisCluster(3),
      startPgBouncer({
        upstream: { host: databaseUrl.hostname, port: Number(databaseUrl.port || 5432) },
        // postgres: only for the admin console (SHOW STATS); migrations never go through PgBouncer.
        users: { [decodeURIComponent(appUrl.username)]: decodeURIComponent(appUrl.password), postgres: 'scale-owner-password' },
        adminUser: 'postgres',
      }),
    ]);
    cleanups.push(() => cluster.stop(), () => bouncer.stop());
    project.provide('redisClusterNodes', cluster.seeds);
    project.provide('pgbouncerAppUrl', bouncer.urlFor(decodeURIComponent(appUrl.username), decodeURIComponent(appUrl.password), database));
    project.provide('pgbouncerVersion', bouncer.version);
    project.provide('pgbouncerAdminUrl', bouncer.urlFor('postgres', 'scale-owner-password', 'pgbouncer'));
    process.stdout.write(`scale: Redis Cluster ${cluster.seeds} and ${bouncer.version} on 127.0.0.1:${bouncer.port} up in ${Date.now() - started} ms\n`);
  } catch (error) {
    await cleanup();
    throw error;
  }
  return cleanup;
}

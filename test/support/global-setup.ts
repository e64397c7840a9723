import { randomBytes } from 'node:crypto';
import type { TestProject } from 'vitest/node';
import { Redis } from 'ioredis';
import { generateSigningJwk } from '@benteng/auth';
import { internalDatabaseUrl, loadConfig, runtimeDatabaseUrl } from '@benteng/config';
import { dropDatabase, migrateDatabase, recreateDatabase, startLocalPostgres, type LocalPostgres } from '@benteng/database';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Owner (migration) connection to the test database. */
    databaseUrl: string;
    /** Runtime-role connection to the test database (RLS applies). */
    appDatabaseUrl: string;
    /** Internal-role connection to the test database (benteng_internal: the operator functions). */
    internalDatabaseUrl: string;
    redisUrl: string;
    /** Shared by every API instance a test starts, as in a real multi-instance deployment. */
    signingKeys: string;
    tokenPepper: string;
  }
}

const LOCAL_PG_PORT = Number(process.env.BENTENG_TEST_PG_PORT ?? 54330);

/**
 * Each run gets its own database, `<name>_test_<random>` beside the one DATABASE_URL names (or
 * `benteng_test_<random>` on the embedded PostgreSQL), migrated afresh and dropped at the end, so
 * concurrent runs never share one. Test files isolate themselves further by creating their own
 * tenants.
 */
function testDatabaseUrl(adminUrl: string): string {
  const url = new URL(adminUrl);
  const name = (decodeURIComponent(url.pathname.slice(1)) || 'benteng').replace(/_test(_[a-z0-9]+)?$/, '');
  url.pathname = `/${name}_test_${randomBytes(4).toString('hex')}`;
  return url.toString();
}

async function assertRedis(url: string): Promise<void> {
  const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, connectTimeout: 2000, retryStrategy: () => null });
  try {
    await redis.connect();
    await redis.ping();
  } catch {
    throw new Error(`Redis is not reachable at REDIS_URL (default redis://127.0.0.1:6379). Start one: redis-server --daemonize yes`);
  } finally {
    redis.disconnect();
  }
}

interface RunServices {
  provided: { databaseUrl: string; appDatabaseUrl: string; internalDatabaseUrl: string; redisUrl: string; signingKeys: string; tokenPepper: string };
  teardown: () => Promise<void>;
  users: number;
}

/** Shared by the projects of one run (Vitest calls a project's global setup once per project, in this process). */
const RUN = Symbol.for('benteng.test.services');
type WithRun = typeof globalThis & { [RUN]?: Promise<RunServices> };

async function startServices(): Promise<RunServices> {
  let local: LocalPostgres | undefined;
  let adminUrl = process.env.DATABASE_URL;
  if (!adminUrl) {
    local = await startLocalPostgres('pg-test', LOCAL_PG_PORT);
    adminUrl = local.urlFor('benteng');
  }
  const databaseUrl = testDatabaseUrl(adminUrl);
  await recreateDatabase(databaseUrl);
  const config = loadConfig({ ...process.env, NODE_ENV: 'test', DATABASE_URL: databaseUrl, DATABASE_APP_URL: undefined, DATABASE_INTERNAL_URL: undefined });
  await migrateDatabase(config);
  const redisUrl = config.REDIS_URL;
  await assertRedis(redisUrl);
  return {
    provided: {
      databaseUrl,
      appDatabaseUrl: runtimeDatabaseUrl(config),
      // migrateDatabase gave both roles their login, as `npm run db:migrate` does.
      internalDatabaseUrl: internalDatabaseUrl(config),
      redisUrl,
      signingKeys: JSON.stringify([await generateSigningJwk(), await generateSigningJwk()]),
      tokenPepper: randomBytes(32).toString('base64url'),
    },
    teardown: async () => {
      await dropDatabase(databaseUrl).catch(() => undefined);
      await local?.stop();
    },
    users: 0,
  };
}

/**
 * The global setup of every project that needs services (integration, e2e, security in
 * test/vitest.config.ts): the first one to start makes the run's database and keys, the others
 * get the same, and the last teardown drops the database. One database per run, as before the
 * suite was split into projects.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const run = ((globalThis as WithRun)[RUN] ??= startServices());
  const services = await run;
  services.users++;
  for (const [key, value] of Object.entries(services.provided)) project.provide(key as keyof RunServices['provided'], value);
  return async () => {
    if (--services.users > 0) return;
    delete (globalThis as WithRun)[RUN];
    await services.teardown();
  };
}

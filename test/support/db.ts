import pg from 'pg';
import { afterAll } from 'vitest';
import { loadConfig } from '@benteng/config';
import { PrismaService, TenantDatabase } from '@benteng/database';

/**
 * Connections for integration tests. `ownerPool` is the migration owner (a superuser on test
 * machines, so it bypasses RLS): use it only to arrange data and to read the catalog, never to
 * test isolation. `appPool` and `tenantDatabase` connect as the runtime role, like the public
 * listener and the worker; `internalPool` as benteng_internal, like the internal listener.
 */
export function ownerPool(): pg.Pool {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_URL, max: 3 });
  afterAll(() => pool.end());
  return pool;
}

export function appPool(max = 3): pg.Pool {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_APP_URL, max });
  afterAll(() => pool.end());
  return pool;
}

export function internalPool(max = 3): pg.Pool {
  const pool = new pg.Pool({ connectionString: process.env.DATABASE_INTERNAL_URL, max });
  afterAll(() => pool.end());
  return pool;
}

/**
 * The application's own TenantDatabase on the application's own Prisma client and pool. `poolMax`
 * overrides DATABASE_POOL_MAX: with 1, every call provably reuses the same connection, which is how
 * a test shows that nothing a call set survives it on the pool.
 */
export function tenantDatabase(poolMax?: number): { db: TenantDatabase; prisma: PrismaService } {
  const config = loadConfig();
  const prisma = new PrismaService(poolMax === undefined ? config : { ...config, DATABASE_POOL_MAX: poolMax });
  afterAll(() => prisma.onModuleDestroy());
  return { db: new TenantDatabase(prisma), prisma };
}

/**
 * Runs `work` on the owner connection in one transaction bound to the tenant, as the application's
 * would be: tables that force row-level security are then written inside the tenant, not around it.
 */
export async function ownerInTenant<T>(owner: pg.Pool, tenantId: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await owner.connect();
  try {
    await client.query('BEGIN');
    await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK');
    throw error;
  } finally {
    client.release();
  }
}

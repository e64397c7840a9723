import pg from 'pg';
import { afterAll } from 'vitest';
import { loadConfig } from '@benteng/config';
import { PrismaService, TenantDatabase } from '@benteng/database';

/**
 * Connections for integration tests. `ownerPool` is the migration owner (a superuser on test
 * machines, so it bypasses RLS): use it only to arrange data and to read the catalog, never to
 * test isolation. `appPool` and `tenantDatabase` connect as the runtime role, like the app.
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

export function tenantDatabase(): { db: TenantDatabase; prisma: PrismaService } {
  const prisma = new PrismaService(loadConfig());
  afterAll(() => prisma.onModuleDestroy());
  return { db: new TenantDatabase(prisma), prisma };
}

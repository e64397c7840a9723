import { join } from 'node:path';
import pg from 'pg';
import { type AppConfig, ownerDatabaseUrl, runtimeRolePassword } from '@benteng/config';
import { ensureDatabase } from './ensure-database.js';
import { Migrator, type DeployResult } from './migrator.js';
import { enableRuntimeRoleLogin } from './runtime-role.js';
import { projectRoot } from '../project-root.js';

export const migrationsDir = (): string => join(projectRoot(), 'prisma', 'migrations');

/** `npm run db:migrate`: create the database if needed, apply migrations, enable the runtime role. */
export async function migrateDatabase(
  config: AppConfig,
  log: (message: string) => void = () => undefined,
  dir: string = migrationsDir(),
): Promise<DeployResult> {
  const url = ownerDatabaseUrl(config);
  if ((await ensureDatabase(url)) === 'created') log('created database');
  const client = new pg.Client({ connectionString: url, application_name: 'benteng-migrate' });
  await client.connect();
  try {
    const result = await new Migrator(client, dir, log).deploy();
    await enableRuntimeRoleLogin(client, runtimeRolePassword(config));
    return result;
  } finally {
    await client.end();
  }
}

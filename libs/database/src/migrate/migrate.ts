import { join } from 'node:path';
import pg from 'pg';
import { type AppConfig, internalRolePassword, ownerDatabaseUrl, runtimeRolePassword } from '@benteng/config';
import { ensureDatabase } from './ensure-database.js';
import { Migrator, type DeployResult } from './migrator.js';
import { enableInternalRoleLogin, enableRuntimeRoleLogin } from './runtime-role.js';
import { projectRoot } from '../project-root.js';

export const migrationsDir = (): string => join(projectRoot(), 'prisma', 'migrations');

/** `npm run db:migrate`: create the database if needed, apply migrations, let the runtime and internal roles log in. */
export async function migrateDatabase(
  config: AppConfig,
  log: (message: string) => void = () => undefined,
  dir: string = migrationsDir(),
): Promise<DeployResult> {
  const url = ownerDatabaseUrl(config);
  // Both passwords before any change: production without one stops here, not half-way.
  const runtimePassword = runtimeRolePassword(config);
  const internalPassword = internalRolePassword(config);
  if ((await ensureDatabase(url)) === 'created') log('created database');
  const client = new pg.Client({ connectionString: url, application_name: 'benteng-migrate' });
  await client.connect();
  try {
    const result = await new Migrator(client, dir, log).deploy();
    await enableRuntimeRoleLogin(client, runtimePassword);
    await enableInternalRoleLogin(client, internalPassword);
    return result;
  } finally {
    await client.end();
  }
}

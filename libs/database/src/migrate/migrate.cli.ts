// `npm run db:migrate`: applies prisma/migrations to DATABASE_URL (the owner connection).
import { loadConfig } from '@benteng/config';
import { migrateDatabase } from './migrate.js';
import { MigrationError } from './migrator.js';

try {
  const result = await migrateDatabase(loadConfig(), (line) => process.stdout.write(`db:migrate ${line}\n`));
  process.stdout.write(
    `db:migrate ${result.applied.length} applied, ${result.alreadyApplied.length} already applied; runtime role benteng_app can log in\n`,
  );
} catch (error) {
  const message = error instanceof MigrationError || (error as Error).name === 'ConfigError' ? (error as Error).message : `database error: ${(error as Error).message}`;
  process.stderr.write(`db:migrate failed: ${message}\n`);
  process.exitCode = 1;
}

import { createHash, randomUUID } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Client } from 'pg';

/** Prisma's own lock id: `prisma migrate deploy` and this runner never migrate at the same time. */
export const PRISMA_MIGRATE_LOCK_ID = 72707369;

/** Exactly the table Prisma's migration engine creates, so both tools agree on what is applied. */
const CREATE_MIGRATIONS_TABLE = `
CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
  "id"                  VARCHAR(36) PRIMARY KEY NOT NULL,
  "checksum"            VARCHAR(64) NOT NULL,
  "finished_at"         TIMESTAMPTZ,
  "migration_name"      VARCHAR(255) NOT NULL,
  "logs"                TEXT,
  "rolled_back_at"      TIMESTAMPTZ,
  "started_at"          TIMESTAMPTZ NOT NULL DEFAULT now(),
  "applied_steps_count" INTEGER NOT NULL DEFAULT 0
)`;

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationRecord {
  migration_name: string;
  checksum: string;
  finished_at: Date | null;
  rolled_back_at: Date | null;
}

export type MigrationErrorCode = 'FAILED_MIGRATION_RECORDED' | 'CHECKSUM_MISMATCH' | 'MIGRATION_FAILED';

export class MigrationError extends Error {
  constructor(
    readonly code: MigrationErrorCode,
    readonly migration: string,
    message: string,
  ) {
    super(message);
    this.name = 'MigrationError';
  }
}

export function checksumOf(bytes: Buffer | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Reads `<dir>/<timestamp>_<name>/migration.sql`, in name order (Prisma's order). */
export async function readMigrations(dir: string): Promise<MigrationFile[]> {
  const entries = await readdir(dir, { withFileTypes: true });
  const names = entries.filter((e) => e.isDirectory()).map((e) => e.name).sort();
  const files: MigrationFile[] = [];
  for (const name of names) {
    const bytes = await readFile(join(dir, name, 'migration.sql'));
    files.push({ name, sql: bytes.toString('utf8'), checksum: checksumOf(bytes) });
  }
  return files;
}

export interface DeployResult {
  applied: string[];
  alreadyApplied: string[];
  missingLocally: string[];
}

/**
 * Applies pending SQL migrations the way `prisma migrate deploy` does, with the `pg` driver.
 * Hand-written because the Prisma CLI needs a native engine download that these machines cannot
 * make (docs/architecture.md, "Migrations"). Each file is sent as one simple-protocol query, which
 * PostgreSQL runs as a single implicit transaction: a failing file leaves nothing behind but its
 * record with the error in `logs`, and the runner then refuses to continue until that record is
 * resolved, as Prisma does.
 */
export class Migrator {
  constructor(
    private readonly client: Client,
    private readonly migrationsDir: string,
    private readonly log: (message: string) => void = () => undefined,
  ) {}

  async deploy(): Promise<DeployResult> {
    await this.client.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_ID]);
    try {
      await this.client.query(CREATE_MIGRATIONS_TABLE);
      const files = await readMigrations(this.migrationsDir);
      const records = await this.records();
      this.refuseFailed(records);
      const applied = new Map(records.filter((r) => r.finished_at && !r.rolled_back_at).map((r) => [r.migration_name, r]));
      const byName = new Map(files.map((f) => [f.name, f]));

      for (const [name, record] of applied) {
        const file = byName.get(name);
        if (file && file.checksum !== record.checksum) {
          throw new MigrationError(
            'CHECKSUM_MISMATCH',
            name,
            `Migration ${name} was modified after it was applied (checksum differs). Applied migrations are immutable: add a new migration instead.`,
          );
        }
      }
      const missingLocally = [...applied.keys()].filter((name) => !byName.has(name));
      for (const name of missingLocally) this.log(`warning: migration ${name} is applied but missing from ${this.migrationsDir}`);

      const result: DeployResult = { applied: [], alreadyApplied: [...applied.keys()].filter((n) => byName.has(n)), missingLocally };
      for (const file of files) {
        if (applied.has(file.name)) continue;
        await this.apply(file);
        result.applied.push(file.name);
        this.log(`applied ${file.name}`);
      }
      return result;
    } finally {
      await this.client.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_ID]);
    }
  }

  async records(): Promise<MigrationRecord[]> {
    const { rows } = await this.client.query<MigrationRecord>(
      'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at, migration_name',
    );
    return rows;
  }

  private refuseFailed(records: MigrationRecord[]): void {
    const failed = records.find((r) => !r.finished_at && !r.rolled_back_at);
    if (failed) {
      throw new MigrationError(
        'FAILED_MIGRATION_RECORDED',
        failed.migration_name,
        `Migration ${failed.migration_name} failed earlier (see _prisma_migrations.logs). Fix the database, then mark it rolled back ` +
          '(UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = ...) or applied, and run again.',
      );
    }
  }

  private async apply(file: MigrationFile): Promise<void> {
    const id = randomUUID();
    await this.client.query(
      'INSERT INTO "_prisma_migrations" (id, checksum, migration_name, started_at, applied_steps_count) VALUES ($1, $2, $3, now(), 0)',
      [id, file.checksum, file.name],
    );
    try {
      // No parameters: node-postgres uses the simple query protocol, one implicit transaction.
      await this.client.query(file.sql);
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error);
      // A file that opened its own transaction (BEGIN) leaves the session in an aborted transaction
      // block: end it, or recording the error and releasing the lock fail too (25P02). Outside a
      // transaction ROLLBACK only raises a warning.
      await this.client.query('ROLLBACK').catch(() => undefined);
      await this.client.query('UPDATE "_prisma_migrations" SET logs = $2 WHERE id = $1', [id, message]);
      throw new MigrationError('MIGRATION_FAILED', file.name, `Migration ${file.name} failed and was rolled back: ${message}`);
    }
    await this.client.query(
      'UPDATE "_prisma_migrations" SET finished_at = now(), applied_steps_count = 1 WHERE id = $1',
      [id],
    );
  }
}

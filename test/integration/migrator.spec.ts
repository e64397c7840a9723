import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterEach, describe, expect, it } from 'vitest';
import { internalDatabaseUrl, internalRolePassword, loadConfig, runtimeDatabaseUrl, runtimeRolePassword } from '@benteng/config';
import {
  MigrationError,
  Migrator,
  PRISMA_MIGRATE_LOCK_ID,
  migrateDatabase,
  migrationsDir,
  readMigrations,
} from '@benteng/database';
import { enableInternalRoleLogin, enableRuntimeRoleLogin } from '../../libs/database/src/migrate/runtime-role.js';

/**
 * The project's migration runner (libs/database/src/migrate) against real PostgreSQL. Every test
 * gets its own scratch database `benteng_migrator_<random>` and its own temporary migrations
 * directory, so nothing here touches the shared test database. Advisory locks are scoped to one
 * database, so the lock tests cannot interfere with migrations elsewhere either.
 */

const ownerUrl = (): string => {
  const url = process.env.DATABASE_URL;
  if (!url) throw new Error('DATABASE_URL must name the owner connection');
  return url;
};

function urlFor(database: string): string {
  const url = new URL(ownerUrl());
  url.pathname = `/${database}`;
  return url.toString();
}

const scratchName = (): string => `benteng_migrator_${randomBytes(6).toString('hex')}`;

async function admin<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: urlFor('postgres') });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

const databaseExists = (name: string): Promise<boolean> =>
  admin(async (c) => (await c.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount === 1);

// Per-test resources, released in afterEach (clients first, then databases, then directories).
let clients: pg.Client[] = [];
let databases: string[] = [];
let directories: string[] = [];

afterEach(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  const drop = databases;
  if (drop.length > 0) {
    await admin(async (c) => {
      for (const name of drop) await c.query(`DROP DATABASE IF EXISTS ${c.escapeIdentifier(name)} WITH (FORCE)`);
    });
  }
  await Promise.all(directories.map((d) => rm(d, { recursive: true, force: true })));
  clients = [];
  databases = [];
  directories = [];
});

async function scratchDatabase(): Promise<string> {
  const name = scratchName();
  databases.push(name);
  await admin((c) => c.query(`CREATE DATABASE ${c.escapeIdentifier(name)}`));
  return name;
}

async function connect(database: string, applicationName = 'migrator-spec'): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: urlFor(database), application_name: applicationName });
  clients.push(client);
  await client.connect();
  return client;
}

/** A temporary Prisma-layout migrations directory: `<dir>/<name>/migration.sql`. */
async function migrationsFolder(): Promise<{
  dir: string;
  write(name: string, sql: string | Buffer): Promise<Buffer>;
  remove(name: string): Promise<void>;
}> {
  const dir = await mkdtemp(join(tmpdir(), 'benteng-migrator-'));
  directories.push(dir);
  return {
    dir,
    async write(name, sql) {
      const bytes = Buffer.isBuffer(sql) ? sql : Buffer.from(sql, 'utf8');
      await mkdir(join(dir, name), { recursive: true });
      await writeFile(join(dir, name, 'migration.sql'), bytes);
      return bytes;
    },
    remove: (name) => rm(join(dir, name), { recursive: true, force: true }),
  };
}

interface Row {
  id: string;
  checksum: string;
  finished_at: Date | null;
  migration_name: string;
  logs: string | null;
  rolled_back_at: Date | null;
  started_at: Date;
  applied_steps_count: number;
}

async function migrationRows(client: pg.Client): Promise<Row[]> {
  const { rows } = await client.query<Row>('SELECT * FROM "_prisma_migrations" ORDER BY started_at, migration_name');
  return rows;
}

async function tableExists(client: pg.Client, table: string): Promise<boolean> {
  const { rows } = await client.query<{ reg: string | null }>('SELECT to_regclass($1)::text AS reg', [`public.${table}`]);
  return rows[0].reg !== null;
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function deployError(promise: Promise<unknown>): Promise<MigrationError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(MigrationError);
  return error as MigrationError;
}

/** Advisory locks on PRISMA_MIGRATE_LOCK_ID (single bigint key: classid 0, objid id, objsubid 1) held or awaited by `pid`. */
async function prismaLocks(observer: pg.Client, pid: number): Promise<{ granted: boolean }[]> {
  const { rows } = await observer.query<{ granted: boolean }>(
    `SELECT granted FROM pg_locks
      WHERE locktype = 'advisory' AND pid = $1 AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
        AND classid = 0 AND objid = $2 AND objsubid = 1`,
    [pid, PRISMA_MIGRATE_LOCK_ID],
  );
  return rows;
}

async function advisoryLocksOf(observer: pg.Client, pid: number): Promise<number> {
  const { rows } = await observer.query<{ n: number }>(
    "SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND pid = $1",
    [pid],
  );
  return rows[0].n;
}

const backendPid = async (client: pg.Client): Promise<number> =>
  (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0].pid;

/** Another session can take the migrate lock at once; it releases it again. */
async function lockIsFree(other: pg.Client): Promise<boolean> {
  const { rows } = await other.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1) AS ok', [PRISMA_MIGRATE_LOCK_ID]);
  if (rows[0].ok) await other.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_ID]);
  return rows[0].ok;
}

describe('Migrator (own runner mimicking prisma migrate deploy)', () => {
  it('applies a fresh database in name order and records each file exactly as Prisma does', async () => {
    const db = await scratchDatabase();
    const client = await connect(db);
    const folder = await migrationsFolder();
    // Written out of order: the runner must sort by name, not by directory listing order.
    const second = await folder.write(
      '20240102000000_second',
      "ALTER TABLE step_log ADD COLUMN note text;\nINSERT INTO step_log (name, note) VALUES ('second', 'Gudang — Jl. Merdeka №5');\n",
    );
    const first = await folder.write(
      '20240101000000_first',
      "-- first: créé\r\nCREATE TABLE step_log (seq serial PRIMARY KEY, name text NOT NULL);\r\nINSERT INTO step_log (name) VALUES ('first');\r\n",
    );
    // Prisma's migrations directory also holds migration_lock.toml: not a migration.
    await writeFile(join(folder.dir, 'migration_lock.toml'), 'provider = "postgresql"\n');

    const logLines: string[] = [];
    const result = await new Migrator(client, folder.dir, (line) => logLines.push(line)).deploy();

    expect(result).toEqual({ applied: ['20240101000000_first', '20240102000000_second'], alreadyApplied: [], missingLocally: [] });
    expect(logLines).toEqual(['applied 20240101000000_first', 'applied 20240102000000_second']);
    const { rows: log } = await client.query('SELECT seq, name, note FROM step_log ORDER BY seq');
    expect(log).toEqual([
      { seq: 1, name: 'first', note: null },
      { seq: 2, name: 'second', note: 'Gudang — Jl. Merdeka №5' },
    ]);

    const { rows: columns } = await client.query(
      `SELECT column_name, data_type, character_maximum_length, is_nullable, column_default
         FROM information_schema.columns
        WHERE table_schema = 'public' AND table_name = '_prisma_migrations'
        ORDER BY ordinal_position`,
    );
    expect(columns).toEqual([
      { column_name: 'id', data_type: 'character varying', character_maximum_length: 36, is_nullable: 'NO', column_default: null },
      { column_name: 'checksum', data_type: 'character varying', character_maximum_length: 64, is_nullable: 'NO', column_default: null },
      { column_name: 'finished_at', data_type: 'timestamp with time zone', character_maximum_length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'migration_name', data_type: 'character varying', character_maximum_length: 255, is_nullable: 'NO', column_default: null },
      { column_name: 'logs', data_type: 'text', character_maximum_length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'rolled_back_at', data_type: 'timestamp with time zone', character_maximum_length: null, is_nullable: 'YES', column_default: null },
      { column_name: 'started_at', data_type: 'timestamp with time zone', character_maximum_length: null, is_nullable: 'NO', column_default: 'now()' },
      { column_name: 'applied_steps_count', data_type: 'integer', character_maximum_length: null, is_nullable: 'NO', column_default: '0' },
    ]);
    const { rows: pk } = await client.query(
      `SELECT kcu.column_name
         FROM information_schema.table_constraints tc
         JOIN information_schema.key_column_usage kcu
           ON kcu.constraint_name = tc.constraint_name AND kcu.table_schema = tc.table_schema AND kcu.table_name = tc.table_name
        WHERE tc.table_schema = 'public' AND tc.table_name = '_prisma_migrations' AND tc.constraint_type = 'PRIMARY KEY'`,
    );
    expect(pk).toEqual([{ column_name: 'id' }]);

    const rows = await migrationRows(client);
    expect(rows.map((r) => r.migration_name)).toEqual(['20240101000000_first', '20240102000000_second']);
    expect(rows.map((r) => r.checksum)).toEqual([sha256(first), sha256(second)]);
    for (const row of rows) {
      expect(row.checksum).toMatch(/^[0-9a-f]{64}$/);
      expect(row.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(row.finished_at).toBeInstanceOf(Date);
      expect(row.finished_at!.getTime()).toBeGreaterThanOrEqual(row.started_at.getTime());
      expect(row.applied_steps_count).toBe(1);
      expect(row.logs).toBeNull();
      expect(row.rolled_back_at).toBeNull();
    }
    expect(rows[0].started_at.getTime()).toBeLessThanOrEqual(rows[1].started_at.getTime());
    // readMigrations agrees with what was recorded (bytes, not re-encoded text).
    expect((await readMigrations(folder.dir)).map((f) => [f.name, f.checksum])).toEqual(rows.map((r) => [r.migration_name, r.checksum]));
  });

  it('is idempotent: a second deploy applies nothing, a later file is applied alone', async () => {
    const db = await scratchDatabase();
    const client = await connect(db);
    const folder = await migrationsFolder();
    await folder.write('20240101000000_a', 'CREATE TABLE a (id int PRIMARY KEY);');
    await folder.write('20240102000000_b', 'CREATE TABLE b (id int PRIMARY KEY); INSERT INTO b VALUES (1);');

    expect((await new Migrator(client, folder.dir).deploy()).applied).toEqual(['20240101000000_a', '20240102000000_b']);
    const before = await migrationRows(client);

    const again = await new Migrator(client, folder.dir).deploy();
    expect(again).toEqual({ applied: [], alreadyApplied: ['20240101000000_a', '20240102000000_b'], missingLocally: [] });
    expect(await migrationRows(client)).toEqual(before);
    // b's INSERT would fail with a duplicate key (or double the rows) had it run again.
    expect((await client.query('SELECT count(*)::int AS n FROM b')).rows[0].n).toBe(1);

    await folder.write('20240103000000_c', 'CREATE TABLE c (id int PRIMARY KEY);');
    const later = await new Migrator(client, folder.dir).deploy();
    expect(later).toEqual({ applied: ['20240103000000_c'], alreadyApplied: ['20240101000000_a', '20240102000000_b'], missingLocally: [] });
    expect(await tableExists(client, 'c')).toBe(true);
    const after = await migrationRows(client);
    expect(after.map((r) => r.migration_name)).toEqual(['20240101000000_a', '20240102000000_b', '20240103000000_c']);
    expect(after.slice(0, 2)).toEqual(before);
  });

  it('applies a failing file atomically, records the failure and refuses to continue until it is resolved', async () => {
    const db = await scratchDatabase();
    const client = await connect(db);
    const folder = await migrationsFolder();
    await folder.write('20240101000000_ok', 'CREATE TABLE ok_table (id int PRIMARY KEY);');
    const bad = await folder.write(
      '20240102000000_bad',
      'CREATE TABLE half_done (id int PRIMARY KEY);\nINSERT INTO half_done VALUES (1);\nSELECT 1 / 0;\n',
    );

    const failure = await deployError(new Migrator(client, folder.dir).deploy());
    expect(failure.code).toBe('MIGRATION_FAILED');
    expect(failure.migration).toBe('20240102000000_bad');
    expect(failure.message).toContain('division by zero');

    // The earlier file stays applied; nothing of the failing file does.
    expect(await tableExists(client, 'ok_table')).toBe(true);
    expect(await tableExists(client, 'half_done')).toBe(false);
    const afterFailure = await migrationRows(client);
    expect(afterFailure).toHaveLength(2);
    expect(afterFailure[0]).toMatchObject({ migration_name: '20240101000000_ok', applied_steps_count: 1, logs: null });
    expect(afterFailure[0].finished_at).toBeInstanceOf(Date);
    expect(afterFailure[1]).toMatchObject({
      migration_name: '20240102000000_bad',
      checksum: sha256(bad),
      finished_at: null,
      rolled_back_at: null,
      applied_steps_count: 0,
    });
    expect(afterFailure[1].logs).toContain('division by zero');

    // A later, valid file is not applied while the failure is recorded; nor is the bad one retried.
    await folder.write('20240103000000_later', 'CREATE TABLE later_table (id int PRIMARY KEY);');
    const refused = await deployError(new Migrator(client, folder.dir).deploy());
    expect(refused.code).toBe('FAILED_MIGRATION_RECORDED');
    expect(refused.migration).toBe('20240102000000_bad');
    expect(await tableExists(client, 'later_table')).toBe(false);
    expect(await tableExists(client, 'half_done')).toBe(false);
    expect(await migrationRows(client)).toEqual(afterFailure);

    // Resolve as Prisma's `migrate resolve --rolled-back` does, fix the file, and deploy again.
    await client.query('UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1', ['20240102000000_bad']);
    const fixed = await folder.write('20240102000000_bad', 'CREATE TABLE half_done (id int PRIMARY KEY);\nINSERT INTO half_done VALUES (1);\n');
    const result = await new Migrator(client, folder.dir).deploy();
    expect(result).toEqual({
      applied: ['20240102000000_bad', '20240103000000_later'],
      alreadyApplied: ['20240101000000_ok'],
      missingLocally: [],
    });
    expect((await client.query('SELECT id FROM half_done')).rows).toEqual([{ id: 1 }]);
    expect(await tableExists(client, 'later_table')).toBe(true);

    const badRows = (await migrationRows(client)).filter((r) => r.migration_name === '20240102000000_bad');
    expect(badRows).toHaveLength(2);
    expect(badRows[0]).toMatchObject({ checksum: sha256(bad), finished_at: null, applied_steps_count: 0 });
    expect(badRows[0].rolled_back_at).toBeInstanceOf(Date);
    expect(badRows[1]).toMatchObject({ checksum: sha256(fixed), rolled_back_at: null, logs: null, applied_steps_count: 1 });
    expect(badRows[1].finished_at).toBeInstanceOf(Date);

    // And now it is simply applied.
    expect(await new Migrator(client, folder.dir).deploy()).toEqual({
      applied: [],
      alreadyApplied: ['20240101000000_ok', '20240102000000_bad', '20240103000000_later'],
      missingLocally: [],
    });
  });

  it('handles files that manage their own transaction: applied on success, fully recorded and unlocked on failure', async () => {
    const db = await scratchDatabase();
    const client = await connect(db);
    const other = await connect(db);
    const folder = await migrationsFolder();
    await folder.write('20240101000000_own_tx', 'BEGIN;\nCREATE TABLE own_tx (id int PRIMARY KEY);\nCOMMIT;\n');
    await folder.write('20240102000000_own_tx_bad', 'BEGIN;\nCREATE TABLE own_tx_bad (id int PRIMARY KEY);\nSELECT 1 / 0;\nCOMMIT;\n');
    const pid = await backendPid(client);

    const failure = await deployError(new Migrator(client, folder.dir).deploy());
    // Before the fix the session stayed in an aborted transaction: the log UPDATE and the unlock
    // failed with 25P02, deploy rejected with that raw error, logs stayed NULL and the lock leaked.
    expect(failure.code).toBe('MIGRATION_FAILED');
    expect(failure.migration).toBe('20240102000000_own_tx_bad');
    expect(failure.message).toContain('division by zero');
    expect(await tableExists(client, 'own_tx')).toBe(true);
    expect(await tableExists(client, 'own_tx_bad')).toBe(false);
    const rows = await migrationRows(client);
    expect(rows.map((r) => [r.migration_name, r.finished_at !== null, r.applied_steps_count])).toEqual([
      ['20240101000000_own_tx', true, 1],
      ['20240102000000_own_tx_bad', false, 0],
    ]);
    expect(rows[1].logs).toContain('division by zero');
    expect(await advisoryLocksOf(other, pid)).toBe(0);
    expect(await lockIsFree(other)).toBe(true);
    // The runner's connection is usable again (not stuck in an aborted transaction block).
    expect((await client.query('SELECT 1 AS one')).rows).toEqual([{ one: 1 }]);
  });

  it('refuses to run when an applied file was edited, and applies nothing else', async () => {
    const db = await scratchDatabase();
    const client = await connect(db);
    const folder = await migrationsFolder();
    const original = await folder.write('20240101000000_a', 'CREATE TABLE a (id int PRIMARY KEY);\n');
    await new Migrator(client, folder.dir).deploy();
    const before = await migrationRows(client);

    await folder.write('20240101000000_a', 'CREATE TABLE a (id int PRIMARY KEY);\n-- a harmless-looking edit\n');
    await folder.write('20240102000000_b', 'CREATE TABLE b (id int PRIMARY KEY);');

    const error = await deployError(new Migrator(client, folder.dir).deploy());
    expect(error.code).toBe('CHECKSUM_MISMATCH');
    expect(error.migration).toBe('20240101000000_a');
    expect(await tableExists(client, 'b')).toBe(false);
    expect(await migrationRows(client)).toEqual(before);
    expect(before[0].checksum).toBe(sha256(original));

    // Restoring the exact bytes makes it deployable again.
    await folder.write('20240101000000_a', original);
    expect((await new Migrator(client, folder.dir).deploy()).applied).toEqual(['20240102000000_b']);
  });

  it('reports an applied migration that is missing locally without blocking', async () => {
    const db = await scratchDatabase();
    const client = await connect(db);
    const folder = await migrationsFolder();
    await folder.write('20240101000000_gone', 'CREATE TABLE gone (id int);');
    await folder.write('20240102000000_kept', 'CREATE TABLE kept (id int);');
    await new Migrator(client, folder.dir).deploy();

    await folder.remove('20240101000000_gone');
    await folder.write('20240103000000_new', 'CREATE TABLE new_table (id int);');
    const logLines: string[] = [];
    const result = await new Migrator(client, folder.dir, (line) => logLines.push(line)).deploy();

    expect(result).toEqual({
      applied: ['20240103000000_new'],
      alreadyApplied: ['20240102000000_kept'],
      missingLocally: ['20240101000000_gone'],
    });
    expect(logLines).toEqual([
      `warning: migration 20240101000000_gone is applied but missing from ${folder.dir}`,
      'applied 20240103000000_new',
    ]);
    expect(await tableExists(client, 'new_table')).toBe(true);
    expect((await migrationRows(client)).map((r) => r.migration_name)).toEqual([
      '20240101000000_gone',
      '20240102000000_kept',
      '20240103000000_new',
    ]);
  });

  describe('advisory lock', () => {
    it(`waits while another session holds pg_advisory_lock(${PRISMA_MIGRATE_LOCK_ID}) and proceeds once it is released`, async () => {
      const db = await scratchDatabase();
      const holder = await connect(db, 'migrator-spec-holder');
      const client = await connect(db, 'migrator-spec-runner');
      const observer = await connect(db, 'migrator-spec-observer');
      const folder = await migrationsFolder();
      await folder.write('20240101000000_a', 'CREATE TABLE a (id int PRIMARY KEY);');
      const runnerPid = await backendPid(client);

      await holder.query('SELECT pg_advisory_lock($1)', [PRISMA_MIGRATE_LOCK_ID]);
      let settled = false;
      const deploy = new Migrator(client, folder.dir).deploy().finally(() => {
        settled = true;
      });
      await new Promise((resolve) => setTimeout(resolve, 300));

      expect(settled).toBe(false);
      expect(await prismaLocks(observer, runnerPid)).toEqual([{ granted: false }]);
      expect(await tableExists(observer, '_prisma_migrations')).toBe(false);
      expect(await tableExists(observer, 'a')).toBe(false);

      await holder.query('SELECT pg_advisory_unlock($1)', [PRISMA_MIGRATE_LOCK_ID]);
      expect(await deploy).toEqual({ applied: ['20240101000000_a'], alreadyApplied: [], missingLocally: [] });
      expect(await tableExists(observer, 'a')).toBe(true);
    });

    it('is released after a successful deploy', async () => {
      const db = await scratchDatabase();
      const client = await connect(db);
      const other = await connect(db);
      const folder = await migrationsFolder();
      await folder.write('20240101000000_a', 'CREATE TABLE a (id int PRIMARY KEY);');
      const pid = await backendPid(client);

      const result = await new Migrator(client, folder.dir).deploy();
      expect(result.applied).toEqual(['20240101000000_a']);
      expect(await advisoryLocksOf(other, pid)).toBe(0);
      expect(await lockIsFree(other)).toBe(true);
    });

    it('is released after a failed migration and after a refused deploy', async () => {
      const db = await scratchDatabase();
      const client = await connect(db);
      const other = await connect(db);
      const folder = await migrationsFolder();
      await folder.write('20240101000000_a', 'CREATE TABLE a (id int PRIMARY KEY);');
      await folder.write('20240102000000_bad', 'CREATE TABLE b (id int); SELECT * FROM no_such_table;');
      const pid = await backendPid(client);

      expect((await deployError(new Migrator(client, folder.dir).deploy())).code).toBe('MIGRATION_FAILED');
      expect(await advisoryLocksOf(other, pid)).toBe(0);
      expect(await lockIsFree(other)).toBe(true);

      expect((await deployError(new Migrator(client, folder.dir).deploy())).code).toBe('FAILED_MIGRATION_RECORDED');
      expect(await advisoryLocksOf(other, pid)).toBe(0);
      expect(await lockIsFree(other)).toBe(true);

      await client.query('UPDATE "_prisma_migrations" SET rolled_back_at = now() WHERE migration_name = $1', ['20240102000000_bad']);
      await folder.write('20240101000000_a', 'CREATE TABLE a (id int PRIMARY KEY, edited boolean);');
      expect((await deployError(new Migrator(client, folder.dir).deploy())).code).toBe('CHECKSUM_MISMATCH');
      expect(await advisoryLocksOf(other, pid)).toBe(0);
      expect(await lockIsFree(other)).toBe(true);
    });
  });

  it('applies the repository migrations to a fresh database, then nothing on a second run', async () => {
    const db = await scratchDatabase();
    const client = await connect(db);
    const files = await readMigrations(migrationsDir());
    expect(files.length).toBeGreaterThan(0);
    const names = files.map((f) => f.name);

    const first = await new Migrator(client, migrationsDir()).deploy();
    expect(first).toEqual({ applied: names, alreadyApplied: [], missingLocally: [] });
    const rows = await migrationRows(client);
    expect(rows.map((r) => [r.migration_name, r.checksum, r.applied_steps_count, r.logs])).toEqual(
      files.map((f) => [f.name, f.checksum, 1, null]),
    );
    for (const table of ['tenants', 'users', 'memberships', 'invoices', 'invoice_lines']) {
      expect(await tableExists(client, table)).toBe(true);
    }

    const second = await new Migrator(client, migrationsDir()).deploy();
    expect(second).toEqual({ applied: [], alreadyApplied: names, missingLocally: [] });
    expect(await migrationRows(client)).toEqual(rows);
  });
});

/** Checks a SCRAM-SHA-256 verifier (pg_authid.rolpassword) against a clear-text password. */
function scramMatches(verifier: string, password: string): boolean {
  const match = /^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$/.exec(verifier);
  if (!match) return false;
  const [, iterations, salt, storedKey, serverKey] = match;
  const salted = pbkdf2Sync(password.normalize('NFKC'), Buffer.from(salt, 'base64'), Number(iterations), 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const stored = createHash('sha256').update(clientKey).digest('base64');
  const server = createHmac('sha256', salted).update('Server Key').digest('base64');
  return stored === storedKey && server === serverKey;
}

const roleVerifier = (role: string): Promise<string | null> =>
  admin(async (c) => (await c.query('SELECT rolpassword FROM pg_authid WHERE rolname = $1', [role])).rows[0]?.rolpassword ?? null);
const runtimeRoleVerifier = (): Promise<string | null> => roleVerifier('benteng_app');

describe('migrateDatabase', () => {
  it('lets the roles log in when several migrations run at once: the cluster-wide ALTER ROLE is retried, not failed, when PostgreSQL reports a concurrent change', async () => {
    // Roles are per server and the migration lock per database: eight deployments migrating at once
    // all change benteng_app and benteng_internal. Without the retry most of them failed with
    // "tuple concurrently updated" (35 of 40 in 5 rounds of 8, measured).
    const config = loadConfig({ ...process.env, NODE_ENV: 'test' });
    const connections = await Promise.all(
      Array.from({ length: 8 }, async () => {
        const client = new pg.Client({ connectionString: ownerUrl() });
        clients.push(client);
        await client.connect();
        return client;
      }),
    );
    for (let round = 0; round < 3; round++) {
      const results = await Promise.allSettled(connections.map((c) => enableRuntimeRoleLogin(c, runtimeRolePassword(config)).then(() => enableInternalRoleLogin(c, internalRolePassword(config)))));
      expect(results.filter((r) => r.status === 'rejected').map((r) => String((r as PromiseRejectedResult).reason))).toEqual([]);
    }
    expect(scramMatches((await runtimeRoleVerifier())!, runtimeRolePassword(config))).toBe(true);
  });

  it('creates a missing database, migrates it and lets the runtime and internal roles log in', async () => {
    const name = scratchName();
    databases.push(name);
    expect(await databaseExists(name)).toBe(false);
    // DATABASE_APP_URL from the test environment points at the shared test database: drop it so
    // the runtime URL is derived from the new database's URL.
    const config = loadConfig({ ...process.env, DATABASE_URL: urlFor(name), DATABASE_APP_URL: undefined, DATABASE_INTERNAL_URL: undefined, NODE_ENV: 'test' });
    const names = (await readMigrations(migrationsDir())).map((f) => f.name);

    const verifierBefore = await runtimeRoleVerifier();
    const internalVerifierBefore = await roleVerifier('benteng_internal');

    const logLines: string[] = [];
    const result = await migrateDatabase(config, (line) => logLines.push(line));
    expect(result).toEqual({ applied: names, alreadyApplied: [], missingLocally: [] });
    expect(logLines).toEqual(['created database', ...names.map((n) => `applied ${n}`)]);
    expect(await databaseExists(name)).toBe(true);

    // The role is cluster-wide (the shared test database's setup configured it too), so LOGIN alone
    // proves little: check the password verifier, which ALTER ROLE ... PASSWORD rewrites with a
    // fresh salt each time, and that it matches the configured password.
    const role = await admin((c) =>
      c.query<{ rolcanlogin: boolean; rolsuper: boolean; rolbypassrls: boolean; rolpassword: string | null }>(
        "SELECT rolcanlogin, rolsuper, rolbypassrls, rolpassword FROM pg_authid WHERE rolname = 'benteng_app'",
      ),
    );
    expect(role.rows).toHaveLength(1);
    expect(role.rows[0]).toMatchObject({ rolcanlogin: true, rolsuper: false, rolbypassrls: false });
    expect(role.rows[0].rolpassword).toMatch(/^SCRAM-SHA-256\$/);
    expect(scramMatches(role.rows[0].rolpassword!, runtimeRolePassword(config))).toBe(true);
    expect(role.rows[0].rolpassword).not.toBe(verifierBefore);

    const appUrl = new URL(runtimeDatabaseUrl(config));
    expect(appUrl.username).toBe('benteng_app');
    expect(appUrl.pathname).toBe(`/${name}`);
    const app = new pg.Client({ connectionString: appUrl.toString() });
    clients.push(app);
    await app.connect();
    const { rows } = await app.query(
      "SELECT current_user AS who, current_database() AS db, has_table_privilege('invoices', 'INSERT') AS can_insert, (SELECT count(*)::int FROM tenants) AS visible_tenants",
    );
    expect(rows).toEqual([{ who: 'benteng_app', db: name, can_insert: true, visible_tenants: 0 }]);

    // The internal listener's role, the same way (prisma/migrations/20261207140000_internal_role).
    const internalVerifier = await roleVerifier('benteng_internal');
    expect(scramMatches(internalVerifier!, internalRolePassword(config))).toBe(true);
    expect(internalVerifier).not.toBe(internalVerifierBefore);
    const internal = new pg.Client({ connectionString: internalDatabaseUrl(config) });
    clients.push(internal);
    await internal.connect();
    const who = await internal.query("SELECT current_user AS who, current_database() AS db, has_function_privilege('internal_set_tenant_status(uuid, tenant_status)', 'EXECUTE') AS operator");
    expect(who.rows).toEqual([{ who: 'benteng_internal', db: name, operator: true }]);

    // A second run finds the database and applies nothing.
    const again: string[] = [];
    expect(await migrateDatabase(config, (line) => again.push(line))).toEqual({ applied: [], alreadyApplied: names, missingLocally: [] });
    expect(again).toEqual([]);
  });
});

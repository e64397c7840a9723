import pg from 'pg';

function databaseName(url: string): string {
  return decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
}

/** Runs `work` on the server's maintenance database (`postgres`), where databases are made. */
async function onServer<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates the database named in `url` when it does not exist yet, so `npm run db:migrate` works
 * on a fresh server.
 */
export async function ensureDatabase(url: string): Promise<'created' | 'exists'> {
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return 'exists';
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') throw error;
  } finally {
    await probe.end().catch(() => undefined);
  }
  await onServer(url, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(databaseName(url))}`));
  return 'created';
}

/** Drops the database named in `url`, disconnecting its sessions. For disposable test and bench databases. */
export async function dropDatabase(url: string): Promise<void> {
  await onServer(url, (client) => client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(databaseName(url))} WITH (FORCE)`));
}

/** Drops and creates the database named in `url` afresh. For disposable test and bench databases. */
export async function recreateDatabase(url: string): Promise<void> {
  await dropDatabase(url);
  await onServer(url, (client) => client.query(`CREATE DATABASE ${client.escapeIdentifier(databaseName(url))}`));
}

import pg from 'pg';

/**
 * Creates the database named in `url` when it does not exist yet (connecting to the server's
 * `postgres` database to do so), so `npm run db:migrate` works on a fresh server.
 */
export async function ensureDatabase(url: string): Promise<'created' | 'exists'> {
  const target = new URL(url);
  const database = decodeURIComponent(target.pathname.replace(/^\//, ''));
  const probe = new pg.Client({ connectionString: url });
  try {
    await probe.connect();
    return 'exists';
  } catch (error) {
    if ((error as { code?: string }).code !== '3D000') throw error;
  } finally {
    await probe.end().catch(() => undefined);
  }
  const admin = new URL(url);
  admin.pathname = '/postgres';
  const client = new pg.Client({ connectionString: admin.toString() });
  await client.connect();
  try {
    await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
    return 'created';
  } finally {
    await client.end();
  }
}

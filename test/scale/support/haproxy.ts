import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../support/net.js';
import { until } from './wait.js';

const HAPROXY = process.env.SCALE_HAPROXY ?? '/usr/sbin/haproxy';

/** The header HAProxy adds to every answer: the name of the backend server that produced it. */
export const BACKEND_HEADER = 'x-benteng-backend';

export interface HaproxyBackend {
  name: string;
  port: number;
}

export interface TestHaproxy {
  port: number;
  /** http://127.0.0.1:<port> */
  base: string;
  version: string;
  /** `show stat` from the stats socket: per server, its state (UP/DOWN/…) and requests answered. */
  servers(): Promise<Map<string, { status: string; sessions: number; responses: number }>>;
  /** HAProxy's notices so far: servers going DOWN or UP, and why. */
  events(): string[];
  stop(): Promise<void>;
}

/**
 * A real HAProxy from Debian (2.6 on Debian 12) in front of the API processes, on a free 127.0.0.1
 * port, with the configuration a production deployment would use, written by the test:
 *
 * - round-robin over the servers, active health checks on `GET /health/ready` every second (3 s
 *   to answer), a server taken out after 2 failed checks and back after 2 good ones;
 * - `option redispatch` and `retries 3`: a request whose connection to a dead server is refused is
 *   sent to another server (HAProxy retries only connection failures: a request already sent to a
 *   process that dies is answered 502, never replayed, so a POST is never sent twice by the balancer);
 * - `option forwardfor`: X-Forwarded-For carries the client address (the API trusts 127.0.0.1);
 * - every answer names its server in X-Benteng-Backend, so a test shows which instance answered.
 */
export async function startHaproxy(backends: HaproxyBackend[], healthPath = '/health/ready'): Promise<TestHaproxy> {
  if (!existsSync(HAPROXY)) throw new Error(`haproxy not found at ${HAPROXY} (set SCALE_HAPROXY)`);
  const dir = mkdtempSync(join(tmpdir(), 'benteng-scale-haproxy-'));
  let port = await freePort();
  while (port === 2024) port = await freePort();
  const socket = join(dir, 'stats.sock');
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(
    cfg,
    [
      'global',
      '  maxconn 4096',
      `  stats socket ${socket} mode 600 level admin`,
      // Server state changes only (UP/DOWN and why), on stderr: the test prints them.
      '  log stderr format short local0 notice',
      'defaults',
      '  mode http',
      '  log global',
      '  timeout connect 2s',
      '  timeout client 30s',
      '  timeout server 30s',
      '  timeout http-request 10s',
      '  option redispatch',
      '  retries 3',
      'frontend public',
      `  bind 127.0.0.1:${port}`,
      '  option forwardfor',
      '  default_backend api',
      'backend api',
      '  balance roundrobin',
      `  option httpchk GET ${healthPath}`,
      '  http-check expect status 200',
      `  http-response set-header ${BACKEND_HEADER} %s`,
      // A check every second (each one is an anonymous read from 127.0.0.1 for the API's rate
      // limiter), 3 s to answer on a loaded machine, out after 2 failures, back after 2 successes.
      '  timeout check 3s',
      '  default-server inter 1s fall 2 rise 2',
      ...backends.map((b) => `  server ${b.name} 127.0.0.1:${b.port} check`),
      '',
    ].join('\n'),
  );
  const check = spawnSync(HAPROXY, ['-c', '-f', cfg], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`haproxy -c refused the configuration:\n${check.stdout}\n${check.stderr}`);
  const version = spawnSync(HAPROXY, ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0]!.trim();

  let output = '';
  // -db: foreground, no daemon; the test owns the process.
  const child: ChildProcess = spawn(HAPROXY, ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  child.stderr!.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  process.once('exit', () => child.kill('SIGKILL'));

  const command = (line: string) =>
    new Promise<string>((resolve, reject) => {
      const conn = createConnection(socket);
      let data = '';
      conn.on('data', (c) => (data += c.toString()));
      conn.on('end', () => resolve(data));
      conn.on('error', reject);
      conn.end(`${line}\n`);
    });

  const servers = async () => {
    const csv = await command('show stat');
    const [header, ...rows] = csv.replace(/^# /, '').trim().split('\n');
    const cols = header!.split(',');
    const at = (row: string[], name: string) => row[cols.indexOf(name)] ?? '';
    const result = new Map<string, { status: string; sessions: number; responses: number }>();
    for (const row of rows.map((r) => r.split(','))) {
      if (at(row, 'pxname') !== 'api' || ['BACKEND', 'FRONTEND'].includes(at(row, 'svname'))) continue;
      const responses = ['hrsp_1xx', 'hrsp_2xx', 'hrsp_3xx', 'hrsp_4xx', 'hrsp_5xx'].reduce((n, c) => n + Number(at(row, c) || 0), 0);
      result.set(at(row, 'svname'), { status: at(row, 'status'), sessions: Number(at(row, 'stot') || 0), responses });
    }
    return result;
  };

  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  };

  try {
    await until(async () => {
      if (child.exitCode !== null) throw new Error(`haproxy exited:\n${output}`);
      return [...(await servers()).values()].some((s) => s.status === 'UP');
    }, 'haproxy to see a server UP', 20_000, 100);
  } catch (error) {
    await stop();
    throw error;
  }
  const events = () => output.split('\n').filter((l) => / is (DOWN|UP)|no server available/.test(l));
  return { port, base: `http://127.0.0.1:${port}`, version, servers, events, stop };
}

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { projectRoot } from '@benteng/database';
import { queueConnection } from '@benteng/redis';
import { logHygiene } from './log-hygiene.js';

const WORKER = join(projectRoot(), 'dist', 'apps', 'worker', 'src', 'main.js');

/**
 * A BullMQ key prefix of its own (QUEUE_PREFIX) for one test file: pass it to every producer and
 * every worker the file starts, so test files running at the same time never take each other's
 * jobs. 1-40 characters, as QUEUE_PREFIX requires.
 */
export function uniqueQueuePrefix(label = 'test'): string {
  return `t-${label.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 20) || 'x'}-${randomBytes(5).toString('hex')}`;
}

export interface WorkerProcess {
  /** The process id (CPU accounting in test/scale/topology.scale.ts). */
  pid: number;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** The JSON log lines so far, parsed (other lines are skipped). */
  lines(): Record<string, unknown>[];
  /** Resolves once the output contains `text` (or a parsed line satisfies the predicate); rejects with the output on timeout or exit. */
  waitFor(text: string | ((line: Record<string, unknown>) => boolean), ms: number): Promise<void>;
  /** Resolves with the exit code. */
  exit: Promise<number | null>;
  kill(signal: NodeJS.Signals): void;
  /** SIGTERM (graceful shutdown), then the exit code; a no-op for a process that has exited. */
  stop(): Promise<number | null>;
}

/**
 * Starts the compiled worker (dist/apps/worker/src/main.js) as a real process, with this test
 * process's environment (test database, Redis, keys and pepper from test/support/setup-env.ts,
 * so it verifies the jobs this process signs) plus `env`. LOG_LEVEL defaults to info so tests can
 * read its log lines. Build first: `npm test` does; alone, `node apps/dev/build.mjs`.
 */
export function startWorker(env: Record<string, string> = {}): WorkerProcess {
  return startCompiled(WORKER, env);
}

/** The compiled API entry point, exactly what `npm start`, compose and production run. */
export const API_ENTRY = join(projectRoot(), 'dist', 'apps', 'api', 'src', 'main.js');

/**
 * Starts a compiled entry point (the worker's or the API's `main.js`) as a real process, with this
 * test process's environment plus `env`, and watches its output like startWorker's.
 */
export function startCompiled(entry: string, env: Record<string, string> = {}): WorkerProcess {
  if (!existsSync(entry)) throw new Error('dist/ is missing: run the suite with `npm test`, which builds first');
  const child = spawn(process.execPath, [entry], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  // Its log lines join the file's log hygiene check (test/support/setup-env.ts).
  logHygiene.watch({ get raw() { return output; } });
  const lines = (): Record<string, unknown>[] =>
    output
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .flatMap((l) => {
        try {
          return [JSON.parse(l) as Record<string, unknown>];
        } catch {
          return [];
        }
      });
  return {
    pid: child.pid!,
    output: () => output,
    lines,
    exit,
    kill: (signal) => child.kill(signal),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exit;
    },
    waitFor: async (match, ms) => {
      const deadline = Date.now() + ms;
      const found = () => (typeof match === 'string' ? output.includes(match) : lines().some(match));
      while (!found()) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${entry === WORKER ? 'worker' : 'process'} never printed ${typeof match === 'string' ? `"${match}"` : 'the expected line'}:\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

/** Starts a worker on `queuePrefix` and waits for its "worker ready" line. */
export async function startReadyWorker(queuePrefix: string, env: Record<string, string> = {}, ms = 20_000): Promise<WorkerProcess> {
  const worker = startWorker({ QUEUE_PREFIX: queuePrefix, ...env });
  try {
    await worker.waitFor('worker ready', ms);
  } catch (error) {
    worker.kill('SIGKILL');
    throw error;
  }
  return worker;
}

/** Deletes every key of the given queues under a test's prefix (call in afterAll). */
export async function obliterateQueues(queuePrefix: string, names: readonly string[] = ['jobs', 'platform']): Promise<void> {
  for (const name of names) {
    const queue = testQueue(name, queuePrefix);
    try {
      await queue.obliterate({ force: true });
    } finally {
      await queue.close();
    }
  }
}

/**
 * A BullMQ queue of this test process's Redis under `queuePrefix`, connected as the application
 * connects (queueConnection): on a Redis Cluster (`npm run test:scale`) through a Cluster client and
 * with the prefix hash-tagged. `close()` closes the cluster connection too.
 */
export function testQueue(name: string, queuePrefix: string): Queue {
  const { connection, prefix, close } = queueConnection(
    { REDIS_URL: process.env.REDIS_URL!, REDIS_CLUSTER_NODES: process.env.REDIS_CLUSTER_NODES, QUEUE_PREFIX: queuePrefix },
    { connectionName: 'benteng-test', maxRetriesPerRequest: null },
  );
  const queue = new Queue(name, { connection, prefix });
  const closeQueue = queue.close.bind(queue);
  queue.close = async () => {
    await closeQueue();
    await close();
  };
  return queue;
}

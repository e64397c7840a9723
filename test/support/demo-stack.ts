import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { dropDatabase, projectRoot } from '@benteng/database';
import { freePort } from './net.js';

/**
 * `npm start` or `npm run dev` (apps/dev/start.mjs, dev.mjs) started for real by a test: on free
 * ports, with a database of its own beside the test database (dropped by `stop`), quiet logs, a
 * queue prefix of its own, and the payments secret set so the stack writes no
 * .data/dev-secrets.json into the working tree.
 */
export interface DemoStack {
  readonly port: number;
  readonly internalPort: number;
  /** Everything the stack printed so far (stdout and stderr). */
  output(): string;
  /** Waits until the output matches, failing with its tail after `ms` or when the stack exits. */
  waitFor(pattern: RegExp, ms: number, what: string): Promise<void>;
  stop(): Promise<void>;
}

export async function startDemoStack(script: 'start.mjs' | 'dev.mjs', label: string): Promise<DemoStack> {
  const root = projectRoot();
  const database = new URL(process.env.DATABASE_URL!);
  database.pathname = `${database.pathname}_${label}_${randomBytes(4).toString('hex')}`;
  const [port, internalPort] = [await freePort(), await freePort()];
  let output = '';
  const child: ChildProcess = spawn(process.execPath, [join(root, 'apps', 'dev', script)], {
    cwd: root,
    env: {
      ...process.env,
      DATABASE_URL: database.toString(),
      DATABASE_APP_URL: '',
      DATABASE_INTERNAL_URL: '',
      HOST: '127.0.0.1',
      PORT: String(port),
      INTERNAL_HOST: '127.0.0.1',
      INTERNAL_PORT: String(internalPort),
      LOG_LEVEL: 'warn',
      QUEUE_PREFIX: `t-${label}-${randomBytes(4).toString('hex')}`,
      PAYMENTS_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
  return {
    port,
    internalPort,
    output: () => output,
    async waitFor(pattern, ms, what) {
      const deadline = Date.now() + ms;
      while (!pattern.test(output)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`${script}: no ${what} within ${ms} ms:\n${output.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        await exited;
      }
      await dropDatabase(database.toString()).catch(() => undefined);
    },
  };
}

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';

const WORKER = join(projectRoot(), 'dist', 'apps', 'worker', 'src', 'main.js');

interface Run {
  output: () => string;
  waitFor: (text: string, ms: number) => Promise<void>;
  exit: Promise<number | null>;
  kill: (signal: NodeJS.Signals) => void;
}

/** Starts the compiled worker as a real process (npm test builds dist/ first). */
function startWorker(env: Record<string, string>): Run {
  if (!existsSync(WORKER)) throw new Error('dist/ is missing: run the suite with `npm test`, which builds first');
  const child = spawn(process.execPath, [WORKER], { env: { ...process.env, LOG_LEVEL: 'info', ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exit = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    output: () => output,
    exit,
    kill: (signal) => child.kill(signal),
    waitFor: async (text, ms) => {
      const deadline = Date.now() + ms;
      while (!output.includes(text)) {
        if (Date.now() > deadline || child.exitCode !== null) throw new Error(`worker never printed "${text}":\n${output}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

describe('worker process', () => {
  it('connects to Redis, reports ready, and exits cleanly on SIGTERM', async () => {
    const worker = startWorker({});
    await worker.waitFor('worker ready', 20_000);
    const ready = worker.output().split('\n').find((l) => l.includes('worker ready'))!;
    expect(JSON.parse(ready)).toMatchObject({ service: 'benteng-worker', queues: ['platform'] });
    worker.kill('SIGTERM');
    expect(await worker.exit).toBe(0);
  });

  it('stops with a clear error, without echoing the URL, when Redis is unreachable', async () => {
    const worker = startWorker({ REDIS_URL: 'redis://:topsecret@127.0.0.1:1' });
    expect(await worker.exit).toBe(1);
    expect(worker.output()).toContain('Redis is not reachable at REDIS_URL');
    expect(worker.output()).not.toContain('topsecret');
  });

  it('refuses to start with invalid configuration, naming the variable only', async () => {
    const worker = startWorker({ REDIS_URL: 'http://nope-SENTINEL' });
    expect(await worker.exit).toBe(1);
    expect(worker.output()).toContain('REDIS_URL must be a redis:// or rediss:// URL');
    expect(worker.output()).not.toContain('SENTINEL');
  });
});

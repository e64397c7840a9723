import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropDatabase, projectRoot } from '@benteng/database';
import { freePort } from '../support/net.js';

/**
 * `npm run dev` (issue 17, item 6): the `npm start` stack (apps/dev/lib/stack.mjs) plus
 * `tsc --watch`; a saved source file recompiles and restarts the API and the worker. Started for
 * real, on free ports and a database of its own beside the test database (dropped afterwards).
 * The file touched is a benchmark source (bench/), compiled like everything else but loaded by no
 * other spec, so the recompilation cannot disturb a compiled API another spec is starting.
 */
const root = projectRoot();
const probe = join(root, 'bench', 'read-path.ts');
const original = readFileSync(probe, 'utf8');

describe('npm run dev', () => {
  let dev: ChildProcess | undefined;
  let output = '';
  const database = new URL(process.env.DATABASE_URL!);
  database.pathname = `${database.pathname}_dev_${randomBytes(4).toString('hex')}`;

  afterAll(async () => {
    if (dev && dev.exitCode === null && dev.signalCode === null) {
      const exited = new Promise((resolve) => dev!.once('exit', resolve));
      dev.kill('SIGTERM');
      await exited;
    }
    // The probe file gets its bytes back once the watcher is gone.
    if (readFileSync(probe, 'utf8') !== original) writeFileSync(probe, original);
    await dropDatabase(database.toString()).catch(() => undefined);
  });

  const waitFor = async (pattern: RegExp, ms: number, what: string) => {
    const deadline = Date.now() + ms;
    while (!pattern.test(output)) {
      if (Date.now() > deadline || (dev && dev.exitCode !== null)) throw new Error(`npm run dev: no ${what} within ${ms} ms:\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }
  };

  it('starts the API and the worker, and restarts them when a source file changes', { timeout: 120_000 }, async () => {
    const [port, internalPort] = [await freePort(), await freePort()];
    dev = spawn(process.execPath, [join(root, 'apps', 'dev', 'dev.mjs')], {
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
        QUEUE_PREFIX: `t-dev-${randomBytes(4).toString('hex')}`,
        // Set, so the stack writes no .data/dev-secrets.json into the working tree.
        PAYMENTS_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    dev.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    dev.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));

    await waitFor(/Benteng is running\./, 90_000, 'ready API');
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
    await waitFor(/\[dev\] watching apps\/, libs\/ and prisma\/ for changes/, 60_000, 'armed watcher');

    // A real edit (a trailing comment), as a save in an editor makes: tsc --watch compares contents.
    writeFileSync(probe, `${original}// dev-watch probe ${randomBytes(4).toString('hex')}\n`);
    await waitFor(/\[dev\] source changed: restarting the API and the worker/, 60_000, 'restart after a change');
    await waitFor(/\[dev\] restarted; the API is ready/, 60_000, 'API ready after the restart');
    expect((await fetch(`http://127.0.0.1:${port}/health/live`)).status).toBe(200);
  });
});

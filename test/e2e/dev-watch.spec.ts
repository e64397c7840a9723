import { randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';
import { startDemoStack, type DemoStack } from '../support/demo-stack.js';

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
  let dev: DemoStack | undefined;

  afterAll(async () => {
    await dev?.stop();
    // The probe file gets its bytes back once the watcher is gone.
    if (readFileSync(probe, 'utf8') !== original) writeFileSync(probe, original);
  });

  it('starts the API and the worker, and restarts them when a source file changes', { timeout: 120_000 }, async () => {
    dev = await startDemoStack('dev.mjs', 'dev');
    await dev.waitFor(/Benteng is running\./, 90_000, 'ready API');
    expect((await fetch(`http://127.0.0.1:${dev.port}/health/live`)).status).toBe(200);
    await dev.waitFor(/\[dev\] watching apps\/, libs\/ and prisma\/ for changes/, 60_000, 'armed watcher');

    // A real edit (a trailing comment), as a save in an editor makes: tsc --watch compares contents.
    writeFileSync(probe, `${original}// dev-watch probe ${randomBytes(4).toString('hex')}\n`);
    await dev.waitFor(/\[dev\] source changed: restarting the API and the worker/, 60_000, 'restart after a change');
    await dev.waitFor(/\[dev\] restarted; the API is ready/, 60_000, 'API ready after the restart');
    expect((await fetch(`http://127.0.0.1:${dev.port}/health/live`)).status).toBe(200);
  });
});

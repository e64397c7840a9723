import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { dropDatabase, projectRoot } from '@benteng/database';
import { freePort } from '../support/net.js';

/**
 * The README's walkthrough is a script (issue 17, item 5): docs/walkthrough.sh, run here exactly as
 * a reader runs it, against a demo started with `npm start` (apps/dev/start.mjs) on free ports and a
 * database of its own beside the test database (dropped afterwards). Every step of the script checks
 * its status, so a line of the walkthrough that stops working fails this test. The documents show
 * no other curl walkthrough: what they show is what this runs.
 */
const root = projectRoot();
const script = join(root, 'docs', 'walkthrough.sh');

describe('docs/walkthrough.sh against npm start', () => {
  let demo: ChildProcess | undefined;
  let output = '';
  const database = new URL(process.env.DATABASE_URL!);
  database.pathname = `${database.pathname}_walk_${randomBytes(4).toString('hex')}`;

  afterAll(async () => {
    if (demo && demo.exitCode === null && demo.signalCode === null) {
      const exited = new Promise((resolve) => demo!.once('exit', resolve));
      demo.kill('SIGTERM');
      await exited;
    }
    await dropDatabase(database.toString()).catch(() => undefined);
  });

  it('the README and docs/api.md point to the script, and docs/api.md shows no curl line the script does not run', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('bash docs/walkthrough.sh');
    const api = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
    expect(api).toContain('bash docs/walkthrough.sh');
    const blocks = [...api.matchAll(/```(?:bash|sh)\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const shown = blocks.flatMap((b) => b.split('\n')).filter((line) => /\bcurl\b/.test(line));
    expect(shown).toEqual([]);
  });

  it('runs every step of the walkthrough with the status it documents', { timeout: 180_000 }, async () => {
    const [port, internalPort] = [await freePort(), await freePort()];
    demo = spawn(process.execPath, [join(root, 'apps', 'dev', 'start.mjs')], {
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
        QUEUE_PREFIX: `t-walk-${randomBytes(4).toString('hex')}`,
        // Set, so the stack writes no .data/dev-secrets.json into the working tree.
        PAYMENTS_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    demo.stdout!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    demo.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const deadline = Date.now() + 120_000;
    while (!/Benteng is running\./.test(output)) {
      if (Date.now() > deadline || demo.exitCode !== null) throw new Error(`npm start did not become ready:\n${output.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 250));
    }

    const run = (password?: string) =>
      spawnSync('bash', [script], {
        cwd: root,
        encoding: 'utf8',
        timeout: 60_000,
        env: { ...process.env, BASE: `http://127.0.0.1:${port}`, ...(password ? { SEED_DEMO_PASSWORD: password } : {}) },
      });
    const walk = run();
    expect(walk.stderr).toBe('');
    expect(walk.status).toBe(0);
    expect(walk.stdout).toMatch(/ok {4}POST \/partner\/oauth\/token +200/);
    expect(walk.stdout.trim().split('\n').at(-1)).toBe('walkthrough complete');

    // The checks in the script can fail: with a wrong password its first step stops it.
    const wrong = run('not-the-demo-password');
    expect(wrong.status).toBe(1);
    expect(wrong.stderr).toMatch(/^FAIL {2}POST \/v1\/auth\/login: expected 200, got 401/);
    expect(wrong.stdout).not.toContain('walkthrough complete');
  });
});

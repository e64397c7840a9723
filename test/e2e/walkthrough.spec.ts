import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';
import { startDemoStack, type DemoStack } from '../support/demo-stack.js';

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
  let demo: DemoStack | undefined;

  afterAll(() => demo?.stop());

  it('the README and docs/api.md point to the script, and docs/api.md shows no curl line the script does not run', () => {
    expect(readFileSync(join(root, 'README.md'), 'utf8')).toContain('bash docs/walkthrough.sh');
    const api = readFileSync(join(root, 'docs', 'api.md'), 'utf8');
    expect(api).toContain('bash docs/walkthrough.sh');
    const blocks = [...api.matchAll(/```(?:bash|sh)\n([\s\S]*?)```/g)].map((m) => m[1]!);
    const shown = blocks.flatMap((b) => b.split('\n')).filter((line) => /\bcurl\b/.test(line));
    expect(shown).toEqual([]);
  });

  it('runs every step of the walkthrough with the status it documents', { timeout: 180_000 }, async () => {
    demo = await startDemoStack('start.mjs', 'walk');
    await demo.waitFor(/Benteng is running\./, 120_000, 'ready API');
    const port = demo.port;

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

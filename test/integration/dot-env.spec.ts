import { execFile } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';

const run = promisify(execFile);
const root = projectRoot();

/**
 * `.env` (issue 17, item 6): the npm scripts that start something (`npm start`, `npm run dev`,
 * `npm run db:*`, `npm run internal`, `npm run keys:generate`) read <root>/.env as .env.example
 * suggests (apps/dev/lib/env.mjs, Node's own env-file parser), without overriding a variable already
 * set; `npm test` never reads it.
 *
 * The script under test is the real apps/dev/run.mjs, copied with apps/dev/lib into a temporary
 * project root (the root is where the script lives), with a build step that does nothing and an
 * entry point that prints what it was given: the repository's own .env is never touched.
 */
describe('.env loading of the npm scripts', () => {
  let tmp: string;

  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'benteng-dotenv-'));
    mkdirSync(join(tmp, 'apps', 'dev'), { recursive: true });
    cpSync(join(root, 'apps', 'dev', 'run.mjs'), join(tmp, 'apps', 'dev', 'run.mjs'));
    cpSync(join(root, 'apps', 'dev', 'lib'), join(tmp, 'apps', 'dev', 'lib'), { recursive: true });
    writeFileSync(join(tmp, 'apps', 'dev', 'build.mjs'), '');
    mkdirSync(join(tmp, 'dist'));
    writeFileSync(
      join(tmp, 'dist', 'print-env.js'),
      "process.stdout.write(JSON.stringify({ FROM_FILE: process.env.BENTENG_DOTENV_FROM_FILE, QUOTED: process.env.BENTENG_DOTENV_QUOTED, SET: process.env.BENTENG_DOTENV_SET, EMPTY: process.env.BENTENG_DOTENV_EMPTY }));\n",
    );
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  const runScript = async (env: Record<string, string>) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('BENTENG_DOTENV_')));
    const { stdout } = await run(process.execPath, [join(tmp, 'apps', 'dev', 'run.mjs'), 'print-env.js'], { cwd: tmp, env: { ...clean, ...env } });
    return JSON.parse(stdout) as Record<string, string | undefined>;
  };

  it('fills unset variables from .env; a variable set in the environment wins', async () => {
    writeFileSync(
      join(tmp, '.env'),
      ['# a comment', 'BENTENG_DOTENV_FROM_FILE=from-file', 'BENTENG_DOTENV_QUOTED="two words # not a comment"', 'BENTENG_DOTENV_SET=from-file', 'BENTENG_DOTENV_EMPTY='].join('\n'),
    );
    const seen = await runScript({ BENTENG_DOTENV_SET: 'from-environment' });
    expect(seen).toEqual({ FROM_FILE: 'from-file', QUOTED: 'two words # not a comment', SET: 'from-environment', EMPTY: '' });
    // An empty value in the environment is still "set": the file does not replace it.
    expect((await runScript({ BENTENG_DOTENV_SET: '' })).SET).toBe('');
  });

  it('runs without a .env file', async () => {
    rmSync(join(tmp, '.env'), { force: true });
    expect(await runScript({ BENTENG_DOTENV_SET: 'from-environment' })).toEqual({ SET: 'from-environment' });
  });

  it('every script that starts something loads .env; the test runner does not', () => {
    const source = (file: string) => readFileSync(join(root, 'apps', 'dev', file), 'utf8');
    // run.mjs serves db:migrate, db:seed, internal, keys:generate, keys:rotate and bench; stack.mjs serves start and dev.
    expect(source('run.mjs')).toMatch(/^loadDotEnv\(\);$/m);
    expect(source('lib/stack.mjs')).toMatch(/^\s+loadDotEnv\(\);$/m);
    for (const script of ['start.mjs', 'dev.mjs']) expect(source(script)).toContain("from './lib/stack.mjs'");
    const scripts = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const name of ['db:migrate', 'db:seed', 'internal', 'keys:generate', 'keys:rotate']) expect(scripts[name], `${name}`).toMatch(/^node apps\/dev\/run\.mjs /);
    expect(scripts.start).toBe('node apps/dev/start.mjs');
    expect(scripts.dev).toBe('node apps/dev/dev.mjs');
    // npm test: a developer's .env must not change what the suite tests.
    for (const file of ['test.mjs', 'test-faults.mjs', 'build.mjs']) expect(source(file), `${file}`).not.toMatch(/env\.mjs|loadEnvFile|env-file/);
    expect(readFileSync(join(root, 'test', 'vitest.config.ts'), 'utf8')).not.toMatch(/env\.mjs|loadEnvFile|env-file|loadEnv\(/);
  });
});

import { execFile, spawnSync } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { TestApi } from '../../support/api.js';
import type { Exercise, Outcome } from './exercises.js';

/**
 * Running an exercise's commands as a trainee pastes them (test/security/training.spec.ts).
 *
 * Each run's curl requests come from a loopback address of their own (127.x.y.z), through a `curl`
 * wrapper first on PATH that adds `--interface`: the per-address login budgets and throttles the
 * exercises spend then never touch 127.0.0.1, which other test files share. The commands
 * themselves run unchanged.
 */

/** The demo signs inbound payment events with a secret of its own (apps/dev/lib/stack.mjs); so do the apps under exercise. */
export const DEMO_ENV = { PAYMENTS_WEBHOOK_SECRET: `whsec_${randomBytes(32).toString('base64')}` };

let wrapperDir: string | undefined;
function curlWrapper(): string {
  if (wrapperDir) return wrapperDir;
  const curl = spawnSync('bash', ['-c', 'command -v curl'], { encoding: 'utf8' }).stdout.trim();
  if (!curl) throw new Error('curl is not installed: the training exercises run with curl');
  const dir = mkdtempSync(join(tmpdir(), 'benteng-training-'));
  writeFileSync(join(dir, 'curl'), `#!/bin/sh\nexec ${curl} --interface "$TRAINING_SOURCE_ADDRESS" "$@"\n`);
  chmodSync(join(dir, 'curl'), 0o755);
  process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  return (wrapperDir = dir);
}

const freshLoopback = () => `127.${randomInt(1, 255)}.${randomInt(0, 256)}.${randomInt(1, 255)}`;
const run = promisify(execFile);

/** Runs an exercise's commands with bash against `base` and returns what they print. */
export async function runCommands(exercise: Pick<Exercise, 'commands' | 'timeoutMs'>, base: string, variables: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run('bash', ['-c', exercise.commands], {
    env: { ...process.env, PATH: `${curlWrapper()}:${process.env.PATH}`, ...variables, BASE: base, TRAINING_SOURCE_ADDRESS: freshLoopback() },
    timeout: exercise.timeoutMs ?? 60_000,
    maxBuffer: 4 * 1024 * 1024,
  });
  return stdout;
}

/** Starts an in-process app listening on a free loopback port; returns its base URL. */
export async function listening(api: TestApi): Promise<string> {
  await api.app.listen({ host: '127.0.0.1', port: 0 });
  return `http://127.0.0.1:${(api.app.getHttpServer().address() as AddressInfo).port}`;
}

/** How a run's output (and the listener's log) departs from the documented outcome; empty when it matches. */
export function departures(output: string, outcome: Outcome, logs: string, mode: 'lab' | 'demo'): string[] {
  const found = outcome.shows.filter((line) => !output.includes(line)).map((line) => `the output lacks ${JSON.stringify(line)}`);
  if (outcome.log !== undefined && logs.includes(outcome.log) !== (mode === 'lab')) found.push(`the log ${mode === 'lab' ? 'lacks' : 'holds'} ${JSON.stringify(outcome.log)}`);
  return found.length > 0 ? [...found, `output was:\n${output}`] : [];
}

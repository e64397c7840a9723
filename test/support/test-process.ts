import 'reflect-metadata';
import { afterAll } from 'vitest';
import { observeMintedCredentials } from '@benteng/common';
import { leakRegistry, registerEnvironmentSecrets } from './leak-registry.js';
import { logHygiene } from './log-hygiene.js';
import { problemCodes } from './problem-codes.js';

/**
 * What every test file of every project gets (test/vitest.config.ts): quiet logs, generous limits,
 * its own queue prefix, and the whole-file checks (secret leakage, coded problems, log hygiene).
 * Called by test/support/setup-env.ts once the run's services are in the environment, and by
 * test/support/setup-unit.ts for the unit specs, which need none.
 */
export function prepareTestProcess(): void {
  process.env.NODE_ENV = 'test';
  process.env.LOG_LEVEL ??= 'silent';
  process.env.DATABASE_POOL_MAX ??= '5';
  // Every test file talks to the API from 127.0.0.1, so per-IP counters are shared by every file
  // running at the same time. Generous limits here keep files independent; the rate-limit and abuse
  // tests set their own (and isolate their client addresses through a trusted proxy).
  process.env.RATE_LIMIT_POLICY ??= JSON.stringify({
    anonymous: { auth: [1_000_000, 60], write: [1_000_000, 60], read: [1_000_000, 60], search: [1_000_000, 60], export: [1_000_000, 60] },
  });
  process.env.ABUSE_MAX_NOT_FOUND ??= '1000000';
  process.env.ABUSE_MAX_AUTH_FAILURES ??= '1000000';
  process.env.ABUSE_MAX_DISTINCT_OBJECTS ??= '1000000';
  process.env.ABUSE_MAX_BURST ??= '1000000';
  // Each test file gets its own BullMQ key prefix, so no file's worker takes another file's jobs and
  // queues left behind never meet a later run. Spawned workers inherit it (test/support/worker.ts).
  process.env.QUEUE_PREFIX ??= `t${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;
  // Every test file shares one database: only the webhook tests' worker relays the outbox, so no other
  // file's worker delivers their events with its own configuration.
  process.env.OUTBOX_RELAY_ENABLED ??= 'false';

  // Secret leakage across the whole file (test/support/leak-registry.ts): the run's signing keys and
  // pepper, every password, token, key and secret the helpers seed or the apps issue, checked against
  // every log line and response body the file's apps produced. Registered first, so it runs after the
  // file's own afterAll hooks (which close the apps and flush their last lines).
  registerEnvironmentSecrets(process.env);
  // Every credential an application in this process mints, whatever its kind, joins the check as it
  // is minted (libs/common/src/credentials.ts): it may appear in the one response that issued it only.
  observeMintedCredentials((kind, value) => leakRegistry.issued(kind, value));
  afterAll(() => {
    const leaks = leakRegistry.leaks();
    if (leaks.length > 0) {
      const list = leaks.map((leak) => `- a ${leak.kind} (${leak.hint}) in ${leak.where}`).join('\n');
      throw new Error(`secret leakage: ${leaks.length} seeded secret(s) appeared where they must not (docs/architecture.md, invariant 8):\n${list}`);
    }
  });
  // Coded problems across the whole file (test/support/problem-codes.ts): every problem+json answer of
  // every app the file built carries a code and its URN type.
  afterAll(() => {
    const uncoded = problemCodes.problems();
    if (uncoded.length > 0) {
      const list = [...new Map(uncoded.map((p) => [p.where, p])).values()].map((p) => `- ${p.where}: ${p.body}`).join('\n');
      throw new Error(`problem codes: ${uncoded.length} problem+json answer(s) without a code and its urn:benteng:problem type (issue 17):\n${list}`);
    }
  });
  // Log hygiene across the whole file (test/support/log-hygiene.ts): no captured log line binds a key
  // twice or carries Prisma's query text and arguments.
  afterAll(() => {
    const problems = logHygiene.problems();
    if (problems.length > 0) {
      const list = [...new Set(problems.map((p) => `- ${p.kind} ${p.what} in "${p.msg}"`))].join('\n');
      throw new Error(`log hygiene: ${problems.length} log line problem(s) (issue 14):\n${list}`);
    }
  });
}

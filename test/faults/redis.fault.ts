import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForExport } from '../support/exports.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { setPasswords } from '../support/public-api.js';
import { call, login, startStack, until, type Stack } from './support/stack.js';

/**
 * Redis crashes (SIGKILL) and comes back during traffic (docs/faults.md, scenario 3), on a private
 * stack whose Redis runs with the append-only file on:
 *
 * - /health/ready answers non-200 while Redis is down and 200 again once it is back, without
 *   restarting the API;
 * - the revocation check fails closed: while Redis is down it asks PostgreSQL, so no request with
 *   a session revoked before the outage, or revoked during it, is accepted (2xx), during the outage
 *   or after it, when Redis comes back (AOF) with its READY key but without the marker of the
 *   revocation made during the outage, and PostgreSQL is slow to answer the resync;
 * - BullMQ jobs queued before the crash survive it: exports requested while no worker ran are
 *   built once a worker starts after Redis is back.
 */
interface Sample {
  label: 'revokedBefore' | 'revokedDuring' | 'valid';
  startedAt: number;
  endedAt: number;
  status: number;
}

describe('faults: Redis restarts during traffic', () => {
  let stack: Stack;
  let tenant: TestTenant;
  const password = `pw-${randomBytes(12).toString('base64url')}`;

  beforeAll(async () => {
    stack = await startStack({ label: 'redis' });
    tenant = await createTenant(stack.owner, 'faults-redis');
    await setPasswords(stack.owner, [tenant.users.owner.id, tenant.users.admin.id, tenant.users.member.id], password);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('3. readiness goes red then green, revoked sessions stay refused throughout, queued jobs survive', async () => {
    const owner = await login(stack.base, tenant.users.owner.email, password);
    const valid = await login(stack.base, tenant.users.admin.email, password);
    const doomed = await login(stack.base, tenant.users.member.email, password);
    const tokens = { revokedBefore: owner.accessToken, revokedDuring: doomed.accessToken, valid: valid.accessToken };

    // Jobs queued while no worker runs: they exist only in Redis until a worker takes them.
    await stack.worker!.stop();
    const exportIds: string[] = [];
    for (const format of ['csv', 'jsonl']) {
      const res = await call(stack.base, 'POST', '/v1/exports', { token: valid.accessToken, body: { type: 'invoices', format } });
      expect(res.status, `${res.text}`).toBe(202);
      exportIds.push((res.body as { id: string }).id);
    }

    // A session revoked before the outage.
    expect((await call(stack.base, 'POST', '/v1/auth/logout', { token: owner.accessToken })).status).toBe(204);
    expect((await call(stack.base, 'GET', '/v1/me', { token: owner.accessToken })).status).toBe(401);

    // Traffic: several loops per token, and a readiness probe, until told to stop.
    const samples: Sample[] = [];
    const readiness: { at: number; status: number }[] = [];
    let running = true;
    const loop = async (label: Sample['label']) => {
      while (running) {
        const startedAt = Date.now();
        const res = await call(stack.base, 'GET', '/v1/me', { token: tokens[label], timeoutMs: 10_000 });
        samples.push({ label, startedAt, endedAt: Date.now(), status: res.status });
        if (res.status === 0) await new Promise((r) => setTimeout(r, 20));
      }
    };
    const probe = async () => {
      while (running) {
        readiness.push({ at: Date.now(), status: await stack.ready() });
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const traffic = Promise.all([probe(), ...(['revokedBefore', 'valid', 'valid', ...Array<'revokedDuring'>(10).fill('revokedDuring')] as const).map(loop)]);
    const count = (label: Sample['label'], pred: (s: Sample) => boolean) => samples.filter((s) => s.label === label && pred(s)).length;

    let killedAt = 0;
    let revokedAt = 0;
    let backAt = 0;
    try {
      await until(async () => count('valid', (s) => s.status === 200) >= 5 && count('revokedDuring', (s) => s.status === 200) >= 5, 'traffic before the crash', 30_000, 50);
      killedAt = Date.now();
      await stack.redis.kill();
      await until(async () => readiness.some((r) => r.at > killedAt && r.status !== 200), 'readiness to go red', 30_000, 50);

      // A session revoked while Redis is down: PostgreSQL takes the revocation; Redis cannot.
      const logout = await call(stack.base, 'POST', '/v1/auth/logout', { token: doomed.accessToken });
      expect(logout.status, `${logout.text}`).toBe(204);
      revokedAt = Date.now();
      await until(async () => count('revokedDuring', (s) => s.startedAt > revokedAt) >= 10, 'traffic during the outage', 30_000, 50);

      // Redis returns while PostgreSQL is slow to answer the revocation resync (here it waits on a
      // lock of the one table the resync reads, which no request reads). That holds open the
      // window in which Redis has its READY key from before the crash (persistence) but not the
      // marker of the session revoked during the outage: the check must not trust Redis yet.
      const locker = await stack.owner.connect();
      try {
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE session_revocations IN ACCESS EXCLUSIVE MODE');
        await stack.redis.start();
        await until(async () => readiness.some((r) => r.at > killedAt && r.status !== 200) && readiness.some((r) => r.at > revokedAt && r.status === 200), 'readiness to go green', 60_000, 50);
        backAt = Date.now();
        await until(async () => count('revokedDuring', (s) => s.startedAt > backAt) >= 30, 'traffic while the resync waits', 60_000, 50);
      } finally {
        await locker.query('COMMIT').catch(() => undefined);
        locker.release();
      }
      const resyncedAt = Date.now();
      await until(async () => count('valid', (s) => s.startedAt > resyncedAt && s.status === 200) >= 20 && count('revokedDuring', (s) => s.startedAt > resyncedAt) >= 20, 'traffic after the resync', 60_000, 50);
    } finally {
      running = false;
      await traffic;
    }

    const summary = (label: Sample['label']) => {
      const by = new Map<number, number>();
      for (const s of samples.filter((x) => x.label === label)) by.set(s.status, (by.get(s.status) ?? 0) + 1);
      return JSON.stringify(Object.fromEntries(by));
    };
    console.log(
      `faults: Redis restart: readiness ${readiness.map((r) => r.status).join('')
        .replace(/(200)+/g, 'G')
        .replace(/(503)+/g, 'R')}; /v1/me by token: valid ${summary('valid')}, revoked before ${summary('revokedBefore')}, revoked during ${summary('revokedDuring')}`,
    );

    // Readiness went red after the crash and green again, with the same API process.
    const red = readiness.findIndex((r) => r.at > killedAt && r.status !== 200);
    expect(red).toBeGreaterThanOrEqual(0);
    expect(readiness.slice(red).some((r) => r.status === 200)).toBe(true);
    expect(stack.api.output()).not.toContain('benteng-api failed');

    // No accepted request used a revoked session.
    const accepted = (s: Sample) => s.status >= 200 && s.status < 300;
    expect(samples.filter((s) => s.label === 'revokedBefore' && accepted(s))).toEqual([]);
    // (Times relative to Redis's return: a 2xx just after it is a stale READY marker trusted too early.)
    expect(samples.filter((s) => s.label === 'revokedDuring' && s.startedAt >= revokedAt && accepted(s)).map((s) => ({ ...s, sinceBackMs: s.startedAt - backAt }))).toEqual([]);
    // Every answer to a revoked session was a refusal or "unavailable", never a 2xx or a 5xx other than 503.
    for (const s of samples.filter((x) => x.label !== 'valid' && (x.label === 'revokedBefore' || x.startedAt >= revokedAt))) expect([0, 401, 503]).toContain(s.status);
    // The valid session works again after the restart.
    expect(samples.filter((s) => s.label === 'valid' && s.startedAt > backAt).slice(-10).map((s) => s.status)).toEqual(Array(10).fill(200));

    // The jobs queued before the crash are still there: a worker started now builds both exports.
    await stack.startWorker();
    for (const id of exportIds) {
      const done = await waitForExport(stack.owner, tenant.id, id, (r) => r.status === 'ready' || r.status === 'failed', 120_000, 250);
      expect(done.status, `export ${id}`).toBe('ready');
    }
  });
});

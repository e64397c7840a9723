import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import type { Response } from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuditLog, DeferredAuditLog, type AuditEntry } from '@benteng/audit';
import { ARGON2_OPTIONS, PasswordHasher } from '@benteng/auth';
import type { TestApi } from '../support/api.js';
import { addMembership, buildAuthApi, Caller, randomPassword, SecretLedger, setPassword, withoutRequestId } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import type { RequestCredential } from '../../apps/api/src/http/access.decorator.js';
import { listRoutes } from '../../apps/api/src/http/route-catalog.js';
import { CHEAP_HASHER_OVERRIDE, loginProbe, measureTimings, TIMING_SAMPLES, timingAccounts, verdict, type EnumerationProbe } from '../support/login-timing.js';
import { createPartnerClient } from '../support/partners.js';
import { tag } from '../security/support/controls.js';

/**
 * Account enumeration through login failures (issue 14): every failure outcome (unknown email,
 * wrong password, locked user, no membership in the named tenant, suspended tenant) answers the
 * same status and body, costs one argon2 verification with the same parameters, and does not wait
 * for its audit write, so it takes the same time whether or not the account exists. Timing is
 * measured statistically on the running app (test/support/login-timing.ts), never from one timing.
 */
const owner = ownerPool();
const secrets = new SecretLedger();
/** How long the slowed audit writer below takes per row: far above any login on this machine. */
const SLOW_AUDIT_MS = 2000;

/** AuditLog whose every row takes SLOW_AUDIT_MS longer: a response that waits for one shows it. */
class SlowAuditLog extends AuditLog {
  override async recordFor(tenantId: string, entry: AuditEntry): Promise<void> {
    await new Promise((resolve) => setTimeout(resolve, SLOW_AUDIT_MS));
    return super.recordFor(tenantId, entry);
  }
}

/** Credentials that name a principal, so a failure can depend on whether it exists (a refresh token, a link or a webhook signature is one opaque value). */
const NAMED_PRINCIPAL: readonly RequestCredential[] = ['password', 'client-secret'];

/**
 * How to probe each route that verifies such a credential (route catalog: `@Anonymous(…, { credential })`).
 * A new one fails the catalog test below until it is taught here, and then gets the timing test.
 */
const PROBES: Record<string, () => Promise<EnumerationProbe>> = {
  'POST /v1/auth/login': async () => loginProbe(await timingAccounts(owner, 'timing', 12)),
  'POST /partner/oauth/token': async () => {
    const tenant = await createTenant(owner, 'timing-oauth');
    const [real, other] = [
      await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'] }),
      await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'] }),
    ];
    secrets.add(real.clientSecret, other.clientSecret);
    // client_secret_post; a wrong secret is another client's, so it has the right form.
    const form = (clientId: string) => ({
      path: '/partner/oauth/token',
      body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: other.clientSecret }).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    return { status: 401, unknown: () => form(randomUUID()), known: () => form(real.clientId) };
  },
};

let api: TestApi;

beforeAll(async () => {
  api = secrets.watch(await buildAuthApi());
});
afterAll(() => api?.close());

/** One failed login of each outcome, for accounts of a fresh tenant (`stranger`: a tenant the user is not in). */
async function failureOutcomes(): Promise<{ tenant: TestTenant; attempts: Record<string, (caller: Caller) => Promise<Response>> }> {
  const tenant = await createTenant(owner, 'enum');
  const stranger = await createTenant(owner, 'enum-stranger');
  const suspended = await createTenant(owner, 'enum-suspended');
  const [, locked, outsider, inSuspended] = await Promise.all([
    // The member gets a password only so that a wrong one is checked against a real hash.
    setPassword(owner, secrets, tenant.users.member.id),
    setPassword(owner, secrets, tenant.users.viewer.id),
    setPassword(owner, secrets, tenant.users.admin.id),
    setPassword(owner, secrets, tenant.users.owner.id),
  ]);
  await owner.query("UPDATE users SET status = 'locked' WHERE id = $1", [tenant.users.viewer.id]);
  await addMembership(owner, suspended.id, tenant.users.owner.id, 'member');
  await owner.query("UPDATE tenants SET status = 'suspended' WHERE id = $1", [suspended.id]);
  return {
    tenant,
    attempts: {
      unknown_user: (c) => c.login(`nobody.${randomPassword().toLowerCase()}@example.test`, randomPassword()),
      wrong_password: (c) => c.login(tenant.users.member.email, randomPassword()),
      user_locked: (c) => c.login(tenant.users.viewer.email, locked),
      no_membership: (c) => c.login(tenant.users.admin.email, outsider, stranger.slug),
      tenant_suspended: (c) => c.login(tenant.users.owner.email, inSuspended, suspended.slug),
    },
  };
}

describe(tag('AUTHN-ACCOUNT-ENUMERATION', 'failed logins look alike whether or not the account exists'), () => {
  it('every failure outcome: the same 401 body, exactly one argon2 verification, with the parameters of the stored hashes', async () => {
    const { tenant, attempts } = await failureOutcomes();
    const hasher = api.app.get(PasswordHasher);
    const { rows } = await owner.query<{ password_hash: string }>('SELECT password_hash FROM users WHERE id = $1', [tenant.users.member.id]);
    const parameters = (encoded: string) => encoded.split('$').slice(1, 4).join('$');
    // The dummy hash an unknown email is verified against costs what a real one does.
    expect(parameters(await hasher.dummyHash())).toBe(parameters(rows[0]!.password_hash));
    expect(parameters(rows[0]!.password_hash)).toBe(`argon2id$v=19$m=${ARGON2_OPTIONS.memoryCost},t=${ARGON2_OPTIONS.timeCost},p=${ARGON2_OPTIONS.parallelism}`);

    const bodies = new Set<string>();
    for (const [outcome, attempt] of Object.entries(attempts)) {
      const verify = vi.spyOn(hasher, 'verify');
      try {
        const res = await attempt(new Caller(api, secrets));
        expect({ outcome, status: res.status, verifications: verify.mock.calls.length }).toEqual({ outcome, status: 401, verifications: 1 });
        bodies.add(JSON.stringify(withoutRequestId(res.body)));
      } finally {
        verify.mockRestore();
      }
    }
    expect(bodies.size).toBe(1);
  });

  it(`no failure outcome waits for its audit write (a ${SLOW_AUDIT_MS} ms audit row), and every one is still recorded, in order, afterwards`, async () => {
    const slow = secrets.watch(await buildAuthApi({ overrides: [{ token: AuditLog, useClass: SlowAuditLog }] }));
    try {
      const { tenant, attempts } = await failureOutcomes();
      const elapsed: Record<string, number> = {};
      for (const [outcome, attempt] of Object.entries(attempts)) {
        const started = performance.now();
        expect((await attempt(new Caller(slow, secrets))).status).toBe(401);
        elapsed[outcome] = Math.round(performance.now() - started);
      }
      for (const [outcome, ms] of Object.entries(elapsed)) expect({ outcome, waited: ms >= SLOW_AUDIT_MS }, `${JSON.stringify(elapsed)}`).toEqual({ outcome, waited: false });

      await slow.app.get(DeferredAuditLog).settled();
      const { rows } = await owner.query<{ data: { reason: string } }>("SELECT data FROM audit_events WHERE tenant_id = $1 AND type = 'auth.login' AND outcome = 'failure' ORDER BY seq", [tenant.id]);
      // The unknown email has no tenant (its record is a log line); the suspended tenant's attempt is audited in that tenant.
      expect(rows.map((r) => r.data.reason)).toEqual(['wrong_password', 'user_locked', 'no_membership']);
    } finally {
      await slow.close();
    }
  }, 30_000);

  it(`every route verifying a credential that names a principal (route catalog), ${TIMING_SAMPLES} unknown vs ${TIMING_SAMPLES} existing principals with a wrong secret, interleaved: not told apart (medians, paired differences, Mann-Whitney)`, async () => {
    const timed = secrets.watch(await buildAuthApi({ overrides: [CHEAP_HASHER_OVERRIDE] }));
    try {
      const routes = listRoutes(timed.app)
        .filter((r) => r.access?.auth === 'none' && r.access.credential !== undefined && NAMED_PRINCIPAL.includes(r.access.credential))
        .map((r) => `${r.method} ${r.path}`);
      expect(routes).toContain('POST /v1/auth/login');
      expect(routes.filter((route) => !PROBES[route])).toEqual([]);
      const results: Record<string, unknown> = {};
      for (const route of routes) {
        const result = verdict(await measureTimings(timed, await PROBES[route]!(), TIMING_SAMPLES));
        console.log(`${route} timing, unknown vs existing principal (ms): ${JSON.stringify(result)}`);
        results[route] = result.distinguishable ? result : 'not told apart';
      }
      expect(results).toEqual(Object.fromEntries(routes.map((route) => [route, 'not told apart'])));
    } finally {
      await timed.close();
    }
  }, 90_000);
});

it('never writes a password it was sent to the logs', () => {
  expect(secrets.counts.logLines).toBeGreaterThan(0);
  expect(secrets.leaks()).toEqual([]);
});

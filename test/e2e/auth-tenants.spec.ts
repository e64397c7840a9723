import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestApi } from '../support/api.js';
import { addMembership, buildAuthApi, Caller, PROBLEM_JSON, SecretLedger, setPassword, withoutRequestId } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

const owner = ownerPool();
const secrets = new SecretLedger();

let api: TestApi;

beforeAll(async () => {
  api = secrets.watch(await buildAuthApi());
});
afterAll(() => api?.close());

/** A member of `home` who is also an admin of `away`, logged in to `home`. */
async function twoTenantUser() {
  const home = await createTenant(owner, 'home');
  const away = await createTenant(owner, 'away');
  const user = home.users.member;
  await addMembership(owner, away.id, user.id, 'admin');
  const password = await setPassword(owner, secrets, user.id);
  const client = new Caller(api, secrets);
  return { home, away, user, client, session: await client.loginOk(user.email, password) };
}

describe('POST /v1/auth/switch-tenant', () => {
  it('exchanges the token for one of another tenant the user belongs to, with that membership’s role', async () => {
    const { home, away, user, client, session } = await twoTenantUser();

    const res = await client.call('post', '/v1/auth/switch-tenant', { token: session.accessToken, body: { tenant: away.slug } });

    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ tokenType: 'Bearer', tenantId: away.id, role: 'admin' });
    expect(res.body.refreshToken.startsWith(`rt.${away.id}.`)).toBe(true);
    const claims = decodeJwt(res.body.accessToken);
    expect(claims).toMatchObject({ sub: user.id, tid: away.id, role: 'admin' });
    expect(claims.sid).not.toBe(session.sessionId);

    const me = await client.me(res.body.accessToken);
    expect(me.body).toMatchObject({ tenant: { id: away.id, slug: away.slug }, role: 'admin' });
    expect(me.body.memberships.map((m: { tenant: { slug: string }; role: string }) => [m.tenant.slug, m.role]).sort()).toEqual(
      [
        [home.slug, 'member'],
        [away.slug, 'admin'],
      ].sort(),
    );
    // The admin role applies in the new tenant only; the old token still speaks for the old one.
    const changeRole = (token: string) => client.call('patch', `/v1/members/${randomUUID()}`, { token, body: { role: 'viewer' } });
    expect((await changeRole(res.body.accessToken)).status).toBe(404);
    expect((await changeRole(session.accessToken)).status).toBe(403);
    expect((await client.me(session.accessToken)).body.tenant.id).toBe(home.id);
  });

  it('answers a tenant the user is not a member of, a suspended one and a slug that does not exist with the same 404', async () => {
    const { user, client, session } = await twoTenantUser();
    const foreign = await createTenant(owner, 'foreign');
    const suspended = await createTenant(owner, 'closed');
    await addMembership(owner, suspended.id, user.id, 'owner');
    await owner.query("UPDATE tenants SET status = 'suspended' WHERE id = $1", [suspended.id]);

    const attempt = (tenant: string) => client.call('post', '/v1/auth/switch-tenant', { token: session.accessToken, body: { tenant } });
    const responses = [await attempt(foreign.slug), await attempt(suspended.slug), await attempt(`no-such-${foreign.slug}`)];

    for (const res of responses) {
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
      expect(res.body.accessToken).toBeUndefined();
      expect(withoutRequestId(res.body)).toEqual(withoutRequestId(responses[0]!.body));
    }
    expect(responses[0]!.body).toMatchObject({ code: 'auth.no_such_membership', status: 404 });
    expect(responses[0]!.text).not.toContain(foreign.slug);
  });
});

describe(tag('AUTHN-REVOCATION', 'switching needs an account that may still log in'), () => {
  // A lock is written to Postgres (users.status); login and refresh read it there. Switching mints
  // a new session too, so it must read it as well: otherwise an access token issued before the lock
  // keeps minting fresh sessions, each with a fresh access token, while no user marker is in Redis.
  it('refuses to switch tenants for a locked user, and creates no session', async () => {
    const { away, user, client, session } = await twoTenantUser();
    await owner.query("UPDATE users SET status = 'locked' WHERE id = $1", [user.id]);

    const res = await client.call('post', '/v1/auth/switch-tenant', { token: session.accessToken, body: { tenant: away.slug } });

    expect([401, 404]).toContain(res.status);
    expect(res.body.accessToken).toBeUndefined();
    const { rows } = await owner.query('SELECT id FROM sessions WHERE tenant_id = $1 AND user_id = $2', [away.id, user.id]);
    expect(rows).toEqual([]);
  });
});

describe('the tenant comes from the token only', () => {
  it('GET /v1/me ignores a tenant named in headers and refuses one named in the query string', async () => {
    const { home, away, client, session } = await twoTenantUser();
    const other = await createTenant(owner, 'spoof');

    for (const target of [away, other]) {
      const headers = { 'x-tenant-id': target.id, 'x-tenant': target.slug, 'x-tenant-slug': target.slug, tenant: target.id };
      const res = await client.call('get', '/v1/me', { token: session.accessToken, headers });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ tenant: { id: home.id, slug: home.slug }, role: 'member' });
      // /v1/me takes no query: every key is refused (issue 14), so a tenant there is never read either.
      const viaQuery = await client.call('get', `/v1/me?tenant=${target.slug}&tenantId=${target.id}&tid=${target.id}`, { token: session.accessToken, headers });
      expect(viaQuery.status, `${viaQuery.text}`).toBe(400);
      expect(viaQuery.text).not.toContain(target.id);
    }
  });
});

it('never writes an issued token or a password it was sent to the logs', () => {
  expect(secrets.counts.secrets).toBeGreaterThan(5);
  expect(secrets.counts.logLines).toBeGreaterThan(0);
  expect(secrets.leaks()).toEqual([]);
});

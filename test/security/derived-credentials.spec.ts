import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { arranged, PublicClient, setPasswords, testPassword } from '../support/public-api.js';
import { insertReadyExport } from './kill-switches/async.js';
import { tag } from './support/controls.js';

/**
 * Credentials derived from a session (issue 14): a signed link minted with an access token is
 * refused once the session that minted it ends, like every access token of that session, and keeps
 * working while it lives. Driven by the route catalog: every route that verifies a `signed-link`
 * credential must have a minter below, so a new link route is covered (or fails here) at once.
 */

interface Minted {
  /** The link, as path and query. */
  url: string;
  /** What the route serves to a valid link. */
  body: string;
}

/** How to mint a link for a route, with an access token of a user of `tenant`. */
type Minter = (api: TestApi, tenant: TestTenant, userId: string, accessToken: string) => Promise<Minted>;

const owner = ownerPool();

const MINTERS: Record<string, Minter> = {
  'GET /v1/exports/:id/file': async (api, tenant, userId, accessToken) => {
    const body = `id,customerName\r\n${randomUUID()},PT Tautan Turunan\r\n`;
    const id = await insertReadyExport(owner, tenant.id, userId, body);
    const res = arranged(await new PublicClient(api).call('POST', `/v1/exports/${id}/download-url`, { token: accessToken }), 200, 'download-url');
    return { url: (res.body as { url: string }).url, body };
  },
};

/** How a session ends, given that session's access token and its user's login. */
const ENDINGS: Record<string, (client: PublicClient, accessToken: string, email: string, password: string) => Promise<void>> = {
  logout: async (client, token) => void arranged(await client.call('POST', '/v1/auth/logout', { token }), 204, 'logout'),
  'logout-all': async (client, token) => void arranged(await client.call('POST', '/v1/auth/logout-all', { token }), 204, 'logout-all'),
  'password change (from another session)': async (client, _token, email, password) => {
    const { accessToken: token } = await client.login(email, password);
    arranged(await client.call('POST', '/v1/auth/password', { token, body: { currentPassword: password, newPassword: testPassword() } }), 204, 'password change');
  },
};

let api: TestApi;
let linkRoutes: RouteEntry[];

beforeAll(async () => {
  api = await buildApi();
  linkRoutes = listRoutes(api.app).filter((r) => r.access?.auth === 'none' && r.access.credential === 'signed-link');
});
afterAll(() => api?.close());

describe(tag('EXPORT-LINK', 'every signed-link route (route catalog): a link ends with the session that minted it'), () => {
  it('the catalog has signed-link routes, and each has a minter here', () => {
    expect(linkRoutes.length).toBeGreaterThan(0);
    expect(linkRoutes.map((r) => `${r.method} ${r.path}`).filter((route) => !MINTERS[route])).toEqual([]);
  });

  for (const [ending, end] of Object.entries(ENDINGS)) {
    it(`${ending}: a link minted before it is refused on every signed-link route; one of a live session still works`, async () => {
      for (const route of linkRoutes) {
        const name = `${route.method} ${route.path}`;
        const tenant = await createTenant(owner, 'derived-link');
        const password = testPassword();
        await setPasswords(owner, [tenant.users.member.id, tenant.users.admin.id], password);
        const client = new PublicClient(api);
        const { accessToken } = await client.login(tenant.users.member.email, password);
        const minted = await MINTERS[name]!(api, tenant, tenant.users.member.id, accessToken);
        // A colleague's link, from a session that stays open throughout.
        const colleague = await client.login(tenant.users.admin.email, password);
        const live = await MINTERS[name]!(api, tenant, tenant.users.admin.id, colleague.accessToken);
        const fetch = (url: string) => api.app.getHttpAdapter().getInstance().inject({ method: route.method as 'GET', url });

        expect({ name, before: (await fetch(minted.url)).body }).toEqual({ name, before: minted.body });
        await end(client, accessToken, tenant.users.member.email, password);
        const after = await fetch(minted.url);
        expect({ name, status: after.statusCode, served: after.body === minted.body }).toEqual({ name, status: 403, served: false });
        expect({ name, live: (await fetch(live.url)).body }).toEqual({ name, live: live.body });
      }
    });
  }
});

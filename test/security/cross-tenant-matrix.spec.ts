import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAbilityFor } from '@benteng/authz';
import type { MembershipRole } from '@benteng/database';
import type { RouteAccess } from '../../apps/api/src/http/access.decorator.js';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { PublicClient, setPasswords, testPassword, type ApiResponse } from '../support/public-api.js';
import { fill, label, LIST_QUERIES, paramsOf, prefixOf, randomParams, routeFactories } from '../support/route-factories.js';

/**
 * Object-level authorization across tenants (BOLA), for every route the API serves: the list comes
 * from the router's own metadata (listRoutes), so tickets, documents and whatever comes next are in
 * this matrix the day their controller is registered.
 *
 * For every authenticated route with a path parameter, an object exists in tenant A (made by the
 * factory registered for the route's prefix: a route without one fails, it is never skipped). Every
 * role of tenant B then calls the route with A's id and with a random one. Invariant 5: a role
 * without the route's permission gets 403 both times (function level, no existence involved); every
 * other role gets 404 both times, with the same body apart from the request id. Afterwards A's
 * object is exactly as it was, and nothing was written to A's audit log or outbox.
 *
 * Every authenticated list (a GET without parameters) called by any role of B never mentions an id
 * of any row tenant A owns, in any tenant table, nor A's users.
 */
const ROLES: MembershipRole[] = ['owner', 'admin', 'member', 'viewer'];

type JwtRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'public-jwt' }> };

const api = await buildApi();
afterAll(() => api.close());
const routes = listRoutes(api.app);
const jwtRoutes = routes.filter((r): r is JwtRoute => r.access?.auth === 'public-jwt');
const objectRoutes = jwtRoutes.filter((r) => paramsOf(r.path).length > 0);
const listRoutesOfV1 = jwtRoutes.filter((r) => r.method === 'GET' && paramsOf(r.path).length === 0 && r.surface === 'public');

/** May a user of this role perform the route's action on its subject at all (what the AccessGuard asks)? */
const mayCall = (route: JwtRoute, tenantId: string, userId: string, role: MembershipRole) =>
  defineAbilityFor(tenantId, { kind: 'user', userId, role }).can(route.access.action, route.access.subject);

describe('cross-tenant (BOLA) matrix', () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  let tenantA: TestTenant;
  let tenantB: TestTenant;
  const { FACTORIES, handle, factoryFor, bodyFor } = routeFactories({ api, client, owner, password });


  /** Rows tenant A's audit log and outbox hold: a refused cross-tenant call adds none. */
  async function sideEffectsIn(tenantId: string): Promise<{ audit: number; events: number }> {
    const { rows } = await owner.query<{ audit: number; events: number }>(
      'SELECT (SELECT count(*)::int FROM audit_events WHERE tenant_id = $1) AS audit, (SELECT count(*)::int FROM domain_events WHERE tenant_id = $1) AS events',
      [tenantId],
    );
    return rows[0]!;
  }

  /** Every id of every row tenant A owns, in every tenant table (new tables are included by themselves). */
  async function everyIdOf(tenant: TestTenant): Promise<string[]> {
    const { rows: tables } = await owner.query<{ table_name: string }>(
      `SELECT c.table_name FROM information_schema.columns c
        JOIN information_schema.columns i ON i.table_schema = c.table_schema AND i.table_name = c.table_name AND i.column_name = 'id'
       WHERE c.table_schema = 'public' AND c.column_name = 'tenant_id'`,
    );
    const ids: string[] = [tenant.id, ...ROLES.map((r) => tenant.users[r].id)];
    for (const { table_name } of tables) {
      const { rows } = await owner.query<{ id: string }>(`SELECT id::text AS id FROM "${table_name}" WHERE tenant_id = $1`, [tenant.id]);
      ids.push(...rows.map((r) => r.id));
    }
    return ids;
  }

  /** The problem body without its request id, which must be this response's own. */
  function comparable(res: ApiResponse): unknown {
    if (!res.body || typeof res.body !== 'object') return res.text;
    const { requestId, ...rest } = res.body as Record<string, unknown>;
    expect(requestId, 'the request id in the body is the response header').toBe(res.headers['x-request-id']);
    return rest;
  }
  const headerNames = (res: ApiResponse) => Object.keys(res.headers).sort();

  beforeAll(async () => {
    [tenantA, tenantB] = await Promise.all([createTenant(owner, 'xt-a'), createTenant(owner, 'xt-b')]);
    await setPasswords(owner, [...ROLES.map((r) => tenantA.users[r].id), ...ROLES.map((r) => tenantB.users[r].id)], password);
  });

  it('finds routes with object ids to attack, and has a factory for every prefix among them', () => {
    expect(objectRoutes.length).toBeGreaterThan(0);
    const missing = [...new Set(objectRoutes.map((r) => prefixOf(r.path)))].filter((prefix) => !FACTORIES[prefix]);
    expect(missing.map((prefix) => `add a factory for ${prefix}`)).toEqual([]);
  });

  it('has both 404 and 403 cells (a matrix that only forbids proves nothing about existence)', () => {
    const cells = objectRoutes.flatMap((r) => ROLES.map((role) => mayCall(r, randomUUID(), randomUUID(), role)));
    expect(cells).toContain(true);
    expect(cells).toContain(false);
  });

  describe.each(objectRoutes.map((r) => [label(r), r] as const))('%s', (_, route) => {
    it.each(ROLES)("tenant B's %s: A's id is answered exactly like a random id, and A's object stays as it was", async (role) => {
      const factory = factoryFor(route);
      const created = await factory.create(handle(tenantA), route);
      for (const param of paramsOf(route.path)) {
        if (!created.params[param]) throw new Error(`add a factory for ${prefixOf(route.path)} that provides :${param} (${label(route)})`);
      }
      const before = await created.read();
      expect(before, 'the factory made an object in tenant A').not.toBeNull();
      const effectsBefore = await sideEffectsIn(tenantA.id);

      const user = tenantB.users[role];
      const allowed = mayCall(route, tenantB.id, user.id, role);
      const token = (await client.login(user.email, password)).accessToken;
      const body = bodyFor(factory, route);
      const foreign = await client.call(route.method, fill(route.path, created.params), { token, body });
      const random = await client.call(route.method, fill(route.path, randomParams(route.path)), { token, body });

      const expected = allowed ? 404 : 403;
      expect(foreign.status, `${role} ${label(route)} with A's id -> ${foreign.status} ${foreign.text}`).toBe(expected);
      expect(random.status, `${role} ${label(route)} with a random id -> ${random.status} ${random.text}`).toBe(expected);
      expect(comparable(foreign), 'same body as for a random id').toEqual(comparable(random));
      expect(foreign.headers['content-type']).toBe(random.headers['content-type']);
      expect(headerNames(foreign), 'same headers as for a random id').toEqual(headerNames(random));
      expect(foreign.text).not.toContain(tenantA.id);

      expect(await created.read(), "A's object is unchanged and still there").toEqual(before);
      expect(await sideEffectsIn(tenantA.id), "nothing written to A's audit log or outbox").toEqual(effectsBefore);
    });
  });

  describe.each(listRoutesOfV1.map((r) => [label(r), r] as const))('%s', (_, route) => {
    it.each(ROLES)("tenant B's %s never sees an id of tenant A", async (role) => {
      // Objects of every registered kind in both tenants: A's must not show, B's own must (for its owner).
      const ownObjects = new Map<string, string>();
      for (const [prefix, factory] of Object.entries(FACTORIES)) {
        await factory.create(handle(tenantA));
        ownObjects.set(prefix, Object.values((await factory.create(handle(tenantB))).params)[0]!);
      }
      const foreignIds = await everyIdOf(tenantA);
      const foreignEmails = ROLES.map((r) => tenantA.users[r].email);

      const user = tenantB.users[role];
      const token = (await client.login(user.email, password)).accessToken;
      const listQuery = LIST_QUERIES[route.path];
      const res = await client.call('GET', listQuery ? `${route.path}?${listQuery.query}` : route.path, { token });
      if (res.status === 400) throw new Error(`add a query for ${route.path} to LIST_QUERIES in test/support/route-factories.ts: ${res.text}`);
      expect(res.status, `${role} ${label(route)} -> ${res.status} ${res.text}`).toBe(mayCall(route, tenantB.id, user.id, role) ? 200 : 403);
      expect(foreignIds.filter((id) => res.text.includes(id)), "A's ids in B's response").toEqual([]);
      expect(foreignEmails.filter((email) => res.text.includes(email)), "A's users in B's response").toEqual([]);
      expect(res.text).not.toContain(tenantA.slug);

      // The list works at all: B's owner sees B's own object of this kind.
      const mustShow = role === 'owner' ? ownObjects.get(listQuery?.shows ?? route.path) : undefined;
      expect(mustShow === undefined || res.text.includes(mustShow), `${label(route)} lists B's own object ${mustShow}`).toBe(true);
    });
  });
});

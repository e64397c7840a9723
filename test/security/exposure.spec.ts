import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAbilityFor } from '@benteng/authz';
import type { MembershipRole } from '@benteng/database';
import type { RouteAccess } from '../../apps/api/src/http/access.decorator.js';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { PublicClient, setPasswords, testPassword } from '../support/public-api.js';
import { fill, label, LIST_QUERIES, paramsOf, prefixOf, routeFactories, tenantTables, type Created } from '../support/route-factories.js';

/**
 * Excessive data exposure, for every authenticated GET the API serves (listRoutes): what each role
 * sees is snapshotted as the set of key paths of the JSON answer (no values, so it is stable), so a
 * field that starts leaving shows up in review. No key anywhere names an internal id or secret, and
 * no answer mentions another tenant's id.
 */
const ROLES: MembershipRole[] = ['owner', 'admin', 'member', 'viewer'];
/** Keys that must never leave, at any depth. */
const FORBIDDEN_KEYS = ['tenantId', 'userId', 'createdById', 'openedById', 'assigneeId', 'uploadedById', 'passwordHash', 'tokenHash', 'storageKey'];

type JwtRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'public-jwt' }> };

const api = await buildApi();
afterAll(() => api.close());
const routes = listRoutes(api.app);
const getRoutes = routes.filter((r): r is JwtRoute => r.access?.auth === 'public-jwt' && r.method === 'GET');

const mayCall = (route: JwtRoute, tenantId: string, userId: string, role: MembershipRole) =>
  defineAbilityFor(tenantId, { kind: 'user', userId, role }).can(route.access.action, route.access.subject);

/** Every key path of a JSON value: nested keys dotted, array elements as `[]`. */
function keyPaths(value: unknown, prefix = '', into = new Set<string>()): Set<string> {
  if (Array.isArray(value)) {
    for (const item of value) keyPaths(item, `${prefix}[]`, into);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      const path = prefix ? `${prefix}.${key}` : key;
      into.add(path);
      keyPaths(child, path, into);
    }
  }
  return into;
}
const lastKey = (path: string) => path.split('.').at(-1)!.replace(/\[\]$/, '');

describe('exposure matrix', () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  let tenant: TestTenant;
  let other: TestTenant;
  const { FACTORIES, handle, factoryFor } = routeFactories({ api, client, owner, password });
  const objects = new Map<string, Created>();
  let foreignIds: string[];

  beforeAll(async () => {
    [tenant, other] = await Promise.all([createTenant(owner, 'exp'), createTenant(owner, 'exp-other')]);
    await setPasswords(owner, [...ROLES.map((r) => tenant.users[r].id), ...ROLES.map((r) => other.users[r].id)], password);
    // One object of every kind in both tenants: lists have something to show, and the other's must not show.
    for (const [prefix, factory] of Object.entries(FACTORIES)) {
      objects.set(prefix, await factory.create(handle(tenant)));
      await factory.create(handle(other));
    }
    const ids = [other.id, ...ROLES.map((r) => other.users[r].id)];
    for (const table of await tenantTables(owner)) {
      const { rows: hasId } = await owner.query(`SELECT 1 FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 AND column_name = 'id'`, [table]);
      if (hasId.length === 0) continue;
      const { rows } = await owner.query<{ id: string }>(`SELECT id::text AS id FROM "${table}" WHERE tenant_id = $1`, [other.id]);
      ids.push(...rows.map((r) => r.id));
    }
    foreignIds = ids;
  });

  it('finds GET routes, and every role can read something', () => {
    expect(getRoutes.length).toBeGreaterThan(0);
    for (const role of ROLES) expect(getRoutes.some((r) => mayCall(r, tenant.id, tenant.users[role].id, role)), `${role} reads something`).toBe(true);
  });

  it('shows each role only the fields snapshotted, never an internal id or secret, never another tenant', async () => {
    const seen: Record<string, string[]> = {};
    for (const route of getRoutes) {
      if (paramsOf(route.path).length > 0) factoryFor(route); // a route with an id needs a factory
      const params = paramsOf(route.path).length > 0 ? objects.get(prefixOf(route.path))!.params : {};
      const query = LIST_QUERIES[route.path]?.query;
      const url = fill(route.path, params) + (query ? `?${query}` : '');
      for (const role of ROLES) {
        if (!mayCall(route, tenant.id, tenant.users[role].id, role)) continue;
        const { accessToken } = await client.login(tenant.users[role].email, password);
        const res = await client.call('GET', url, { token: accessToken });
        // The owner made the objects; a role that only sees its own rows gets 404 (recorded, so a change shows).
        if (res.status === 404 && role !== 'owner') {
          seen[`${label(route)} as ${role}`] = ['(404: not visible to this role)'];
          continue;
        }
        expect(res.status, `${role} ${label(route)} -> ${res.status} ${res.text}`).toBe(200);
        // Downloads are the file's bytes, not a JSON document: nothing to map.
        if (!/^application\/json/.test(String(res.headers['content-type']))) continue;
        const paths = [...keyPaths(res.body)].sort();
        seen[`${label(route)} as ${role}`] = paths;
        expect(paths.filter((p) => FORBIDDEN_KEYS.includes(lastKey(p))), `${role} ${label(route)}: internal keys`).toEqual([]);
        expect(foreignIds.filter((id) => res.text.includes(id)), `${role} ${label(route)}: another tenant's ids`).toEqual([]);
      }
    }
    expect(seen).toMatchSnapshot();
  });
});

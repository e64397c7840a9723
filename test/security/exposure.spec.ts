import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRoutes } from '../../apps/api/src/http/route-catalog.js';
import { buildApi } from '../support/api.js';
import { tag } from './support/controls.js';
import { ownerPool } from '../support/db.js';
import { ROLES, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { PublicClient, testPassword } from '../support/public-api.js';
import {
  callersFor,
  fill,
  isDriven,
  label,
  LIST_QUERIES,
  mayCall,
  mayCallAnywhere,
  paramsOf,
  prefixOf,
  routeFactories,
  tenantTables,
  undrivenRoutes,
  type Caller,
  type Created,
  type DrivenRoute,
} from '../support/route-factories.js';

/**
 * Excessive data exposure, for every authenticated GET the API serves (listRoutes): what each
 * caller sees is snapshotted as the set of key paths of the JSON answer (no values, so it is
 * stable), so a field that starts leaving shows up in review. Callers: every role on /v1, the
 * partner client with every scope on /partner/v1. No key anywhere names an internal id or secret,
 * no answer carries a password hash, credential hash or credential in clear, and no answer
 * mentions another tenant's id. Partner answers carry no tenant id and no user id at all: people
 * are the tenant's business, not the partner's.
 */
/** Keys that must never leave, at any depth. */
const FORBIDDEN_KEYS = [
  'tenantId',
  'userId',
  'createdById',
  'openedById',
  'assigneeId',
  'uploadedById',
  'createdByClientId',
  'openedByClientId',
  'passwordHash',
  'tokenHash',
  'secretHash',
  'keyHash',
  'clientSecret',
  'key',
  'storageKey',
  'principal',
  'liftedBy',
  'requestedById',
  // Webhook signing secrets: in clear only in the answer of the call that made one (create, rotate: not GETs).
  'secret',
  'secretCiphertext',
  'previousSecretCiphertext',
];

const api = await buildApi();
afterAll(() => api.close());
const routes = listRoutes(api.app);
const getRoutes = routes.filter((r): r is DrivenRoute => isDriven(r) && r.method === 'GET');

/** Who reads each route here: every role of the tenant on /v1; on /partner/v1 the client with every scope. */
const readersOf = (route: DrivenRoute): Caller[] => (route.access.auth === 'partner' ? callersFor(route).filter((c) => c.maker) : callersFor(route));

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

describe(tag('OUTPUT-ALLOWLIST', 'exposure matrix'), () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  let tenant: TestTenant;
  let other: TestTenant;
  const { FACTORIES, handle, factoryFor, partnerOf, as: signIn } = routeFactories({ api, client, owner, password });
  /** One session per caller for all the GETs (a login per call costs a password hash each; a GET ends no session). */
  const sessions = new Map<string, ReturnType<typeof signIn>>();
  const as: typeof signIn = (tenant, caller) => {
    const key = `${tenant.id} ${caller.name}`;
    if (!sessions.has(key)) sessions.set(key, signIn(tenant, caller));
    return sessions.get(key)!;
  };
  const objects = new Map<string, Created>();
  let foreignIds: string[];
  /** Hashes and credentials of the tenant: no answer contains one. */
  let secrets: string[];
  /** The webhook signing secrets the factories were shown once, and how many endpoints hold a current and a previous ciphertext. */
  let revealed: string[];
  let endpointsWithBothCiphertexts: number;

  beforeAll(async () => {
    [tenant, other] = await Promise.all([createTenantWithLogins(owner, 'exp', password), createTenantWithLogins(owner, 'exp-other', password)]);
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
    const partner = await partnerOf(tenant);
    const { rows } = await owner.query<{ secret: string }>(
      `SELECT password_hash AS secret FROM users WHERE id = ANY ($2::uuid[]) AND password_hash IS NOT NULL
       UNION ALL SELECT secret_hash FROM partner_clients WHERE tenant_id = $1
       UNION ALL SELECT key_hash FROM partner_api_keys WHERE tenant_id = $1
       UNION ALL SELECT token_hash FROM refresh_tokens WHERE tenant_id = $1
       UNION ALL SELECT secret_ciphertext FROM webhook_endpoints WHERE tenant_id = $1
       UNION ALL SELECT previous_secret_ciphertext FROM webhook_endpoints WHERE tenant_id = $1 AND previous_secret_ciphertext IS NOT NULL`,
      [tenant.id, ROLES.map((r) => tenant.users[r].id)],
    );
    // Secrets the factories were shown once (webhook signing secrets): no GET carries them again.
    revealed = [...objects.values()].flatMap((o) => o.secrets ?? []);
    secrets = [...rows.map((r) => r.secret), partner.key, partner.clientSecret, ...revealed];
    const { rows: endpoints } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM webhook_endpoints WHERE tenant_id = $1 AND previous_secret_ciphertext IS NOT NULL', [tenant.id]);
    endpointsWithBothCiphertexts = endpoints[0]!.n;
  });

  it('knows every auth kind and surface the routes declare, so no route escapes the matrix', () => {
    expect(undrivenRoutes(routes)).toEqual([]);
    for (const auth of ['public-jwt', 'partner']) expect(getRoutes.some((r) => r.access.auth === auth), `GET routes with auth ${auth}`).toBe(true);
  });

  it('finds GET routes, and every caller can read something', () => {
    expect(getRoutes.length).toBeGreaterThan(0);
    expect(secrets.length).toBeGreaterThan(2);
    // The checked secrets include what a webhook endpoint keeps: both ciphertexts and the secrets once revealed.
    expect(revealed.length, 'webhook signing secrets revealed to the factories').toBeGreaterThan(0);
    expect(endpointsWithBothCiphertexts, 'webhook endpoints with both secret ciphertexts').toBeGreaterThan(0);
    const readers = new Map(getRoutes.flatMap((r) => readersOf(r).map((c) => [c.name, c] as const)));
    for (const caller of readers.values()) expect(getRoutes.some((r) => readersOf(r).some((c) => c.name === caller.name) && mayCallAnywhere(r, caller)), `${caller.name} reads something`).toBe(true);
  });

  it('shows each role only the fields snapshotted, never an internal id or secret, never another tenant', async () => {
    const seen: Record<string, string[]> = {};
    for (const route of getRoutes) {
      if (paramsOf(route.path).length > 0) factoryFor(route); // a route with an id needs a factory
      const params = paramsOf(route.path).length > 0 ? objects.get(prefixOf(route.path))!.params : {};
      const query = LIST_QUERIES[route.path]?.query;
      const url = fill(route.path, params) + (query ? `?${query}` : '');
      for (const caller of readersOf(route)) {
        const { token, principal } = await as(tenant, caller);
        if (!mayCall(route, tenant.id, principal)) continue;
        const res = await client.call('GET', url, { token });
        // The maker's objects; a role that only sees its own rows gets 404 (recorded, so a change shows).
        if (res.status === 404 && !caller.maker) {
          seen[`${label(route)} as ${caller.name}`] = ['(404: not visible to this role)'];
          continue;
        }
        // A role that sees the object but may not have it (an export's file is its requester's only): recorded too.
        if (res.status === 403 && !caller.maker) {
          seen[`${label(route)} as ${caller.name}`] = ['(403: visible but refused to this role)'];
          continue;
        }
        expect(res.status, `${caller.name} ${label(route)} -> ${res.status} ${res.text}`).toBe(200);
        expect(secrets.filter((secret) => res.text.includes(secret)), `${caller.name} ${label(route)}: hashes or credentials`).toEqual([]);
        const people = route.access.auth === 'partner' ? [tenant.id, ...ROLES.map((r) => tenant.users[r].id)] : [];
        expect(people.filter((id) => res.text.includes(id)), `${caller.name} ${label(route)}: the tenant's or its users' ids`).toEqual([]);
        // Downloads are the file's bytes, not a JSON document: nothing to map.
        if (!/^application\/json/.test(String(res.headers['content-type']))) continue;
        const paths = [...keyPaths(res.body)].sort();
        seen[`${label(route)} as ${caller.name}`] = paths;
        expect(paths.filter((p) => FORBIDDEN_KEYS.includes(lastKey(p))), `${caller.name} ${label(route)}: internal keys`).toEqual([]);
        expect(foreignIds.filter((id) => res.text.includes(id)), `${caller.name} ${label(route)}: another tenant's ids`).toEqual([]);
      }
    }
    expect(seen).toMatchSnapshot();
  });
});

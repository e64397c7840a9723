import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForExport } from '../support/exports.js';
import { startReadyWorker, type WorkerProcess } from '../support/worker.js';
import { listRoutes } from '../../apps/api/src/http/route-catalog.js';
import { buildApi } from '../support/api.js';
import { tag } from './support/controls.js';
import { ownerPool } from '../support/db.js';
import { ROLES, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { PublicClient, testPassword, type ApiResponse } from '../support/public-api.js';
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
  randomParams,
  routeFactories,
  undrivenRoutes,
  type Created,
  type DrivenRoute,
} from '../support/route-factories.js';

/**
 * Object-level authorization across tenants (BOLA), for every route the API serves: the list comes
 * from the router's own metadata (listRoutes), so tickets, documents, partner routes and whatever
 * comes next are in this matrix the day their controller is registered.
 *
 * For every authenticated route with a path parameter, objects exist in tenant A (made by the
 * factory registered for the route's prefix, one of each variant it declares, e.g. a ticket opened
 * by a user and one opened by A's partner client: a route without a factory fails, it is never
 * skipped). Every caller of tenant B then calls the route with A's ids and with a random one: each
 * role of B on /v1, B's partner clients (every scope, only the route's scope, every other scope)
 * with an API key on /partner/v1. Invariant 5: a caller without the route's permission gets 403
 * every time (function level, no existence involved); every other caller gets 404 every time, with
 * the same body apart from the request id. Afterwards A's objects are exactly as they were, and
 * nothing was written to A's audit log or outbox.
 *
 * Every authenticated list (a GET without parameters) called by any caller of B never mentions an
 * id of any row tenant A owns, in any tenant table, nor A's users.
 *
 * Within one tenant, partner clients are separated too: another client of A reads exactly what the
 * factories state it may (an invoice: yes; a ticket it did not open, or its attachment: a 404 like
 * a random id's).
 */

const api = await buildApi();
afterAll(() => api.close());
const routes = listRoutes(api.app);
const drivenRoutes = routes.filter(isDriven);
const objectRoutes = drivenRoutes.filter((r) => paramsOf(r.path).length > 0);
const collectionRoutes = drivenRoutes.filter((r) => r.method === 'GET' && paramsOf(r.path).length === 0);
const partnerObjectRoutes = objectRoutes.filter((r) => r.access.auth === 'partner');
const partnerCollectionRoutes = collectionRoutes.filter((r) => r.access.auth === 'partner');

/** The cells of a route: one per caller, named for the test title. */
const cells = (route: DrivenRoute) => callersFor(route).map((caller) => [caller.name, caller] as const);

// Both layers at once: the CASL where of each repository and RLS under it (each alone: test/integration/tenant-isolation.spec.ts).
describe(tag('AUTHZ-OBJECT', tag('TENANT-RLS', 'cross-tenant (BOLA) matrix')), () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  let tenantA: TestTenant;
  let tenantB: TestTenant;
  const { FACTORIES, handle: handleOf, factoryFor, bodyFor, variantsOf, partnerOf, as: signIn } = routeFactories({ api, client, owner, password });
  /**
   * One session per tenant and caller, shared by the cells (a login per cell costs a password hash
   * each). No cell can end it: every call here is refused (403/404) or a GET.
   */
  const sessions = new Map<string, ReturnType<typeof signIn>>();
  const as: typeof signIn = (tenant, caller) => {
    const key = `${tenant.id} ${caller.name}`;
    if (!sessions.has(key)) sessions.set(key, signIn(tenant, caller));
    return sessions.get(key)!;
  };
  /** The factories' handle on a tenant, with the same shared sessions for its users. */
  const tokens = new Map<string, Promise<string>>();
  const handle: typeof handleOf = (tenant) => ({
    ...handleOf(tenant),
    token: (role) => {
      const key = `${tenant.id} ${role}`;
      if (!tokens.has(key)) tokens.set(key, handleOf(tenant).token(role));
      return tokens.get(key)!;
    },
  });

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

  /** One object of every variant the route's factory declares, in tenant A, with its state before the attack. */
  async function victims(route: DrivenRoute): Promise<{ variant: string; created: Created; before: unknown }[]> {
    const factory = factoryFor(route);
    const made = [];
    for (const variant of variantsOf(factory, route)) {
      const created = await factory.create(handle(tenantA), route, variant.name);
      for (const param of paramsOf(route.path)) {
        if (!created.params[param]) throw new Error(`add a factory for ${prefixOf(route.path)} that provides :${param} (${label(route)})`);
      }
      const before = await created.read();
      expect(before, `the factory made an object in tenant A (${variant.name})`).not.toBeNull();
      made.push({ variant: variant.name, created, before });
    }
    return made;
  }

  /** Asserts `res` is exactly the answer for a random id: status, body (bar request id), headers. */
  function expectSameAs(res: ApiResponse, random: ApiResponse, what: string): void {
    expect(comparable(res), `${what}: same body as for a random id`).toEqual(comparable(random));
    expect(res.headers['content-type'], `${what}: same content type as for a random id`).toBe(random.headers['content-type']);
    expect(headerNames(res), `${what}: same headers as for a random id`).toEqual(headerNames(random));
  }

  beforeAll(async () => {
    [tenantA, tenantB] = await Promise.all([createTenantWithLogins(owner, 'xt-a', password), createTenantWithLogins(owner, 'xt-b', password)]);
  });

  it('knows every auth kind and surface the routes declare, so no route escapes the matrix', () => {
    expect(undrivenRoutes(routes)).toEqual([]);
    // Both surfaces with callers are in the matrix, objects and lists.
    for (const auth of ['public-jwt', 'partner']) {
      expect(objectRoutes.some((r) => r.access.auth === auth), `object routes with auth ${auth}`).toBe(true);
      expect(collectionRoutes.some((r) => r.access.auth === auth), `list routes with auth ${auth}`).toBe(true);
    }
  });

  it('finds routes with object ids to attack, and has a factory for every prefix among them', () => {
    expect(objectRoutes.length).toBeGreaterThan(0);
    const missing = [...new Set(objectRoutes.map((r) => prefixOf(r.path)))].filter((prefix) => !FACTORIES[prefix]);
    expect(missing.map((prefix) => `add a factory for ${prefix}`)).toEqual([]);
  });

  it('has both 404 and 403 cells on each surface (a matrix that only forbids proves nothing about existence)', () => {
    for (const auth of ['public-jwt', 'partner']) {
      const answers = objectRoutes.filter((r) => r.access.auth === auth).flatMap((r) => callersFor(r).map((caller) => mayCallAnywhere(r, caller)));
      expect(answers, `cells with auth ${auth}`).toContain(true);
      expect(answers, `cells with auth ${auth}`).toContain(false);
    }
  });

  describe.each(objectRoutes.map((r) => [label(r), r] as const))('%s', (_, route) => {
    it.each(cells(route))("tenant B's %s: A's ids are answered exactly like a random id, and A's objects stay as they were", async (_name, caller) => {
      const objects = await victims(route);
      const effectsBefore = await sideEffectsIn(tenantA.id);

      const { token, principal } = await as(tenantB, caller);
      const allowed = mayCall(route, tenantB.id, principal);
      const body = bodyFor(factoryFor(route), route);
      const random = await client.call(route.method, fill(route.path, randomParams(route.path)), { token, body });
      const expected = allowed ? 404 : 403;
      expect(random.status, `${caller.name} ${label(route)} with a random id -> ${random.status} ${random.text}`).toBe(expected);

      for (const { variant, created } of objects) {
        const foreign = await client.call(route.method, fill(route.path, created.params), { token, body });
        expect(foreign.status, `${caller.name} ${label(route)} with A's id (${variant}) -> ${foreign.status} ${foreign.text}`).toBe(expected);
        expectSameAs(foreign, random, `A's object (${variant})`);
        expect(foreign.text).not.toContain(tenantA.id);
      }

      for (const { variant, created, before } of objects) expect(await created.read(), `A's object (${variant}) is unchanged and still there`).toEqual(before);
      expect(await sideEffectsIn(tenantA.id), "nothing written to A's audit log or outbox").toEqual(effectsBefore);
    });
  });

  /** Objects of every registered kind in both tenants, made once for all list cells: A's must not show, B's own must. */
  let listFixture: Promise<Map<string, string>> | undefined;
  const ownObjectsOfB = () =>
    (listFixture ??= (async () => {
      const own = new Map<string, string>();
      for (const [prefix, factory] of Object.entries(FACTORIES)) {
        await factory.create(handle(tenantA));
        const { params } = await factory.create(handle(tenantB));
        own.set(prefix, params.id ?? Object.values(params)[0]!);
      }
      return own;
    })());

  describe.each(collectionRoutes.map((r) => [label(r), r] as const))('%s', (_, route) => {
    it.each(cells(route))("tenant B's %s never sees an id of tenant A", async (_name, caller) => {
      const ownObjects = await ownObjectsOfB();
      const foreignIds = await everyIdOf(tenantA);
      const foreignEmails = ROLES.map((r) => tenantA.users[r].email);

      const { token, principal } = await as(tenantB, caller);
      const listQuery = LIST_QUERIES[route.path];
      const res = await client.call('GET', listQuery ? `${route.path}?${listQuery.query}` : route.path, { token });
      if (res.status === 400) throw new Error(`add a query for ${route.path} to LIST_QUERIES in test/support/route-factories.ts: ${res.text}`);
      expect(res.status, `${caller.name} ${label(route)} -> ${res.status} ${res.text}`).toBe(mayCall(route, tenantB.id, principal) ? 200 : 403);
      expect(foreignIds.filter((id) => res.text.includes(id)), "A's ids in B's response").toEqual([]);
      expect(foreignEmails.filter((email) => res.text.includes(email)), "A's users in B's response").toEqual([]);
      expect(res.text).not.toContain(tenantA.slug);

      // The list works at all: B's maker (owner, partner client with every scope) sees B's own object of this kind.
      const mustShow = caller.maker ? ownObjects.get(listQuery?.shows ?? route.path) : undefined;
      expect(mustShow === undefined || res.text.includes(mustShow), `${label(route)} lists B's own object ${mustShow}`).toBe(true);
    });
  });

  /**
   * What leaves tenant B by other roads than a response body: the export files its worker writes
   * (built by the real worker from B's owner's request) and the payloads of B's outbox events and
   * webhook deliveries (what B's endpoints receive). None carries an id, email or slug of tenant A.
   */
  describe('export files and webhook payloads', () => {
    let worker: WorkerProcess | undefined;
    afterAll(async () => {
      await worker?.stop();
    });

    const foreignIn = async (text: string) => {
      const ids = await everyIdOf(tenantA);
      return [...ids.filter((id) => text.includes(id)), ...ROLES.map((r) => tenantA.users[r].email).filter((email) => text.includes(email)), ...(text.includes(tenantA.slug) ? [tenantA.slug] : [])];
    };

    it.each([
      ['invoices', 'csv'],
      ['tickets', 'jsonl'],
    ] as const)("B's owner's %s export (%s) never carries an id of tenant A", async (type, format) => {
      await ownObjectsOfB();
      worker ??= await startReadyWorker(process.env.QUEUE_PREFIX!);
      const { accessToken } = await client.login(tenantB.users.owner.email, password);
      const requested = await client.call('POST', '/v1/exports', { token: accessToken, body: { type, format } });
      expect(requested.status, `${requested.text}`).toBe(202);
      const id = (requested.body as { id: string }).id;
      const done = await waitForExport(owner, tenantB.id, id, (row) => row.status !== 'queued' && row.status !== 'running', 30_000);
      expect(done.status, `${JSON.stringify(done)}`).toBe('ready');
      expect(done.row_count, "the export holds B's own rows").toBeGreaterThan(0);
      const file = await client.call('GET', `/v1/exports/${id}/content`, { token: accessToken });
      expect(file.status, `${file.text}`).toBe(200);
      expect(await foreignIn(file.text), `A's ids in B's ${type} export`).toEqual([]);
    });

    it("B's outbox events and webhook deliveries (a ping included) never carry an id of tenant A", async () => {
      await ownObjectsOfB();
      const { accessToken } = await client.login(tenantB.users.owner.email, password);
      const endpoints = await client.call('GET', '/v1/webhook-endpoints', { token: accessToken });
      const endpointId = (endpoints.body as { items: { id: string }[] }).items[0]!.id;
      expect((await client.call('POST', `/v1/webhook-endpoints/${endpointId}/ping`, { token: accessToken })).status).toBeLessThan(300);
      const { rows } = await owner.query<{ payload: string }>(
        `SELECT payload::text AS payload FROM domain_events WHERE tenant_id = $1 UNION ALL SELECT payload::text FROM webhook_deliveries WHERE tenant_id = $1`,
        [tenantB.id],
      );
      expect(rows.length, "B has events and deliveries to check").toBeGreaterThan(1);
      expect(await foreignIn(rows.map((r) => r.payload).join('\n')), "A's ids in B's event and delivery payloads").toEqual([]);
    });
  });

  describe('within tenant A, another partner client', () => {
    it('has partner routes with ids, and a stated visibility for every object they reach', () => {
      expect(partnerObjectRoutes.length).toBeGreaterThan(0);
      const unstated = partnerObjectRoutes.flatMap((r) => variantsOf(factoryFor(r), r).filter((v) => v.otherClientsSee === undefined).map((v) => `${label(r)}: ${v.name}`));
      expect(unstated, 'declare otherClientsSee on these variants in test/support/route-factories.ts').toEqual([]);
      // Both answers occur: a check that only ever expects 404 (or 200) could not tell rules apart.
      const answers = partnerObjectRoutes.flatMap((r) => variantsOf(factoryFor(r), r).map((v) => v.otherClientsSee));
      expect(answers).toContain(true);
      expect(answers).toContain(false);
    });

    describe.each(partnerCollectionRoutes.map((r) => [label(r), r] as const))('%s', (_, route) => {
      it('lists exactly the objects another client of A may read, of each variant', async () => {
        const factory = FACTORIES[route.path];
        if (!factory) throw new Error(`add a factory for ${route.path} (FACTORIES in test/support/route-factories.ts): the partner list needs objects to show or hide`);
        // Made just now, so they lead the newest-first first page.
        const made = [];
        for (const variant of variantsOf(factory, route)) made.push({ variant, id: (await factory.create(handle(tenantA), route, variant.name)).params.id! });
        const other = await partnerOf(tenantA, undefined, 'other');
        const res = await client.call('GET', route.path, { token: other.key });
        expect(res.status, `another client of A ${label(route)} -> ${res.status} ${res.text}`).toBe(200);
        const listed = made.filter(({ id }) => res.text.includes(id)).map(({ variant }) => variant.name);
        expect(listed, `the variants another client of A lists on ${label(route)}`).toEqual(made.filter(({ variant }) => variant.otherClientsSee).map(({ variant }) => variant.name));
      });
    });

    describe.each(partnerObjectRoutes.map((r) => [label(r), r] as const))('%s', (_, route) => {
      const factory = factoryFor(route);
      const variants = variantsOf(factory, route);
      /** A's object of this variant, and the API key of a second client of A with every scope (not the one the factories open tickets for). */
      const arrange = async (variant: string) => {
        const created = await factory.create(handle(tenantA), route, variant);
        return { created, before: await created.read(), token: (await partnerOf(tenantA, undefined, 'other')).key, body: bodyFor(factory, route) };
      };

      it.each(variants.filter((v) => v.otherClientsSee === true).map((v) => [v.name] as const))('object %s: another client of A reads it', async (variant) => {
        const { created, token, body } = await arrange(variant);
        const res = await client.call(route.method, fill(route.path, created.params), { token, body });
        expect(res.status >= 200 && res.status < 300, `another client of A ${label(route)} (${variant}) -> ${res.status} ${res.text}`).toBe(true);
      });

      it.each(variants.filter((v) => v.otherClientsSee === false).map((v) => [v.name] as const))(
        'object %s: another client of A gets exactly the answer for a random id, and the object stays as it was',
        async (variant) => {
          const { created, before, token, body } = await arrange(variant);
          const random = await client.call(route.method, fill(route.path, randomParams(route.path)), { token, body });
          const res = await client.call(route.method, fill(route.path, created.params), { token, body });
          expect(random.status, `another client of A ${label(route)} with a random id -> ${random.status} ${random.text}`).toBe(404);
          expect(res.status, `another client of A ${label(route)} (${variant}) -> ${res.status} ${res.text}`).toBe(404);
          expectSameAs(res, random, `A's object (${variant})`);
          expect(await created.read(), 'the object is unchanged').toEqual(before);
        },
      );
    });
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAbilityFor } from '@benteng/authz';
import type { MembershipRole } from '@benteng/database';
import type { RouteAccess } from '../../apps/api/src/http/access.decorator.js';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { arranged, PublicClient, setPasswords, testPassword, type ApiResponse } from '../support/public-api.js';

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
/** A word every factory-made object that can be searched contains. */
const SEARCH_TERM = 'lintas';

type JwtRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'public-jwt' }> };

const api = await buildApi();
afterAll(() => api.close());
const routes = listRoutes(api.app);
const jwtRoutes = routes.filter((r): r is JwtRoute => r.access?.auth === 'public-jwt');
const label = (r: RouteEntry) => `${r.method} ${r.path}`;

const PARAM = /:([A-Za-z0-9_]+)/g;
const paramsOf = (path: string): string[] => [...path.matchAll(PARAM)].map((m) => m[1]!);
/** The path before its first parameter: '/v1/invoices/:id/issue' -> '/v1/invoices'. */
const prefixOf = (path: string): string => {
  const segments = path.split('/');
  const first = segments.findIndex((s) => s.startsWith(':'));
  return segments.slice(0, first === -1 ? undefined : first).join('/');
};
const fill = (path: string, params: Record<string, string>): string => path.replace(PARAM, (_, name: string) => encodeURIComponent(params[name]!));
const randomParams = (path: string): Record<string, string> => Object.fromEntries(paramsOf(path).map((p) => [p, randomUUID()]));

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

  /** A tenant whose users can log in, as seen by a factory. */
  interface TenantHandle {
    tenant: TestTenant;
    token(role: MembershipRole): Promise<string>;
  }
  const handle = (tenant: TestTenant): TenantHandle => ({ tenant, token: async (role) => (await client.login(tenant.users[role].email, password)).accessToken });

  /** One row, whole, as the owner connection sees it: any change to it (version, updated_at, deletion) shows. */
  async function row(table: string, tenantId: string, id: string): Promise<unknown> {
    const { rows } = await owner.query<{ row: unknown }>(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return rows[0]?.row ?? null;
  }

  interface Created {
    /** A value for every path parameter of the routes under the prefix. */
    params: Record<string, string>;
    /** Everything about the object that a successful call would change, re-read through the owner connection. */
    read(): Promise<unknown>;
  }

  interface Factory {
    /** Creates one object in `t` that `route` (when given) applies to, through the API or the owner connection. */
    create(t: TenantHandle, route?: RouteEntry): Promise<Created>;
    /** A body that passes validation, so the call reaches the object lookup (default: {} for POST, PUT and PATCH). */
    body?(route: RouteEntry): object | undefined;
  }

  /**
   * One entry per route prefix with path parameters. A new feature adds its entry here; until it
   * does, each of its routes fails with "add a factory for <prefix>".
   */
  const FACTORIES: Record<string, Factory> = {
    '/v1/invoices': {
      async create(t, route) {
        const token = await t.token('owner');
        const res = arranged(
          await client.call('POST', '/v1/invoices', {
            token,
            body: {
              number: `XT-${randomBytes(4).toString('hex')}`,
              customer: { name: 'PT Lintas', email: 'billing@lintas.test', taxId: '01.234.567.8-901.000' },
              lines: [{ description: 'Jasa', quantity: 2, unitPriceMinor: 50_000 }],
            },
          }),
          201,
          'create invoice',
        );
        const id = (res.body as { id: string }).id;
        // Paying needs an issued invoice: give every transition a target it would succeed on.
        if (route?.path.endsWith('/pay')) arranged(await client.call('POST', `/v1/invoices/${id}/issue`, { token, body: {} }), 200, 'issue invoice');
        const tenantId = t.tenant.id;
        return {
          params: { id },
          read: async () => ({
            invoice: await row('invoices', tenantId, id),
            lines: (await owner.query('SELECT to_jsonb(l) AS row FROM invoice_lines l WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY position', [tenantId, id])).rows,
          }),
        };
      },
      body: (route) => (route.method === 'PATCH' ? { customer: { name: 'Diubah lintas tenant' }, lines: [{ description: 'x', quantity: 1, unitPriceMinor: 1 }] } : route.method === 'POST' ? {} : undefined),
    },
    '/v1/members': {
      async create(t) {
        const res = arranged(
          await client.call('POST', '/v1/members', {
            token: await t.token('owner'),
            body: { email: `xt.${randomBytes(5).toString('hex')}@example.test`, displayName: 'Anggota Lintas', role: 'member' },
          }),
          201,
          'add member',
        );
        const id = (res.body as { id: string }).id;
        return { params: { id }, read: () => row('memberships', t.tenant.id, id) };
      },
      // A role every caller that may update memberships at all may grant (admins cannot grant owner).
      body: (route) => (route.method === 'PATCH' ? { role: 'viewer' } : route.method === 'POST' || route.method === 'PUT' ? {} : undefined),
    },
    '/v1/sessions': {
      async create(t) {
        const pair = await client.login(t.tenant.users.owner.email, password);
        const sid = String((JSON.parse(Buffer.from(pair.accessToken.split('.')[1]!, 'base64url').toString('utf8')) as { sid: unknown }).sid);
        return { params: { id: sid }, read: () => row('sessions', t.tenant.id, sid) };
      },
    },
    '/v1/tickets': {
      async create(t) {
        const token = await t.token('owner');
        const res = arranged(
          await client.call('POST', '/v1/tickets', { token, body: { subject: `${SEARCH_TERM} ${randomBytes(4).toString('hex')}`, body: `${SEARCH_TERM}: printer on fire` } }),
          201,
          'open ticket',
        );
        const id = (res.body as { id: string }).id;
        arranged(await client.call('POST', `/v1/tickets/${id}/comments`, { token, body: { body: `${SEARCH_TERM} comment` } }), 201, 'comment on ticket');
        const tenantId = t.tenant.id;
        return {
          params: { id },
          read: async () => ({
            ticket: await row('tickets', tenantId, id),
            comments: (await owner.query('SELECT to_jsonb(c) AS row FROM ticket_comments c WHERE tenant_id = $1 AND ticket_id = $2 ORDER BY id', [tenantId, id])).rows,
          }),
        };
      },
      body(route) {
        if (route.method === 'PATCH') return { subject: 'Diubah lintas tenant', status: 'closed' };
        if (route.path.endsWith('/assign')) return { memberId: null };
        if (route.path.endsWith('/comments') && route.method === 'POST') return { body: 'komentar lintas tenant' };
        return route.method === 'POST' || route.method === 'PUT' ? {} : undefined;
      },
    },
    '/v1/documents': {
      async create(t) {
        const res = arranged(await upload(await t.token('owner'), `${SEARCH_TERM}.txt`, `${SEARCH_TERM}: catatan rahasia ${randomBytes(4).toString('hex')}\n`), 201, 'upload document');
        const id = (res.body as { id: string }).id;
        const tenantId = t.tenant.id;
        return {
          params: { id },
          read: async () => {
            const document = (await row('documents', tenantId, id)) as { storage_key?: string } | null;
            const content = document?.storage_key ? await owner.query('SELECT md5(content) AS md5 FROM document_contents WHERE tenant_id = $1 AND id = $2', [tenantId, document.storage_key]) : undefined;
            return { document, content: content?.rows };
          },
        };
      },
    },
  };

  /** Uploads one file as multipart/form-data (the JSON client cannot). */
  async function upload(token: string, fileName: string, text: string): Promise<ApiResponse> {
    const boundary = `----benteng${randomBytes(8).toString('hex')}`;
    const payload = Buffer.from(
      `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--${boundary}--\r\n`,
    );
    const res = await api.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'POST', url: '/v1/documents', remoteAddress: client.ip, headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
    return { status: res.statusCode, headers: res.headers, text: res.body, body: res.body ? (JSON.parse(res.body) as unknown) : undefined };
  }

  /**
   * Lists that need a query to answer at all (searches): the query matches what the factories put in
   * A's objects, so a search that crossed tenants would find them. `shows` names the factory prefix
   * whose object of B the list must show to B's owner.
   */
  const LIST_QUERIES: Record<string, { query: string; shows?: string }> = {
    '/v1/tickets/search': { query: `q=${SEARCH_TERM}`, shows: '/v1/tickets' },
  };

  const factoryFor = (route: RouteEntry): Factory => {
    const prefix = prefixOf(route.path);
    const factory = FACTORIES[prefix];
    if (!factory) throw new Error(`add a factory for ${prefix} (FACTORIES in test/security/cross-tenant-matrix.spec.ts): ${label(route)} takes an object id`);
    return factory;
  };
  const bodyFor = (factory: Factory, route: RouteEntry): object | undefined =>
    factory.body ? factory.body(route) : ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;

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
      if (res.status === 400) throw new Error(`add a query for ${route.path} to LIST_QUERIES in test/security/cross-tenant-matrix.spec.ts: ${res.text}`);
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

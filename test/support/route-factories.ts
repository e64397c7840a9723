import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { MembershipRole } from '@benteng/database';
import type { RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import type { TestApi } from './api.js';
import type { TestTenant } from './factories.js';
import { arranged, type ApiResponse, type PublicClient } from './public-api.js';

/**
 * The objects behind the routes that take an id, one factory per route prefix, shared by the
 * route-driven security matrices (cross-tenant, mass assignment, exposure). A new feature adds its
 * entry here; until it does, the matrices fail with "add a factory for <prefix>".
 */

/** A word every factory-made object that can be searched contains. */
export const SEARCH_TERM = 'lintas';

export const PARAM = /:([A-Za-z0-9_]+)/g;
export const label = (r: RouteEntry) => `${r.method} ${r.path}`;
export const paramsOf = (path: string): string[] => [...path.matchAll(PARAM)].map((m) => m[1]!);
/** The path before its first parameter: '/v1/invoices/:id/issue' -> '/v1/invoices'. */
export const prefixOf = (path: string): string => {
  const segments = path.split('/');
  const first = segments.findIndex((s) => s.startsWith(':'));
  return segments.slice(0, first === -1 ? undefined : first).join('/');
};
export const fill = (path: string, params: Record<string, string>): string => path.replace(PARAM, (_, name: string) => encodeURIComponent(params[name]!));
export const randomParams = (path: string): Record<string, string> => Object.fromEntries(paramsOf(path).map((p) => [p, randomUUID()]));

/** A tenant whose users can log in, as seen by a factory. */
export interface TenantHandle {
  tenant: TestTenant;
  token(role: MembershipRole): Promise<string>;
}

export interface Created {
  /** A value for every path parameter of the routes under the prefix. */
  params: Record<string, string>;
  /** Everything about the object that a successful call would change, re-read through the owner connection. */
  read(): Promise<unknown>;
}

export interface Factory {
  /** Creates one object in `t` that `route` (when given) applies to, through the API or the owner connection. */
  create(t: TenantHandle, route?: RouteEntry): Promise<Created>;
  /** A body that passes validation, so the call reaches the object lookup (default: {} for POST, PUT and PATCH). */
  body?(route: RouteEntry): object | undefined;
}

/**
 * Lists that need a query to answer at all (searches): the query matches what the factories put in
 * the objects. `shows` names the factory prefix whose object the list must show to its tenant's owner.
 */
export const LIST_QUERIES: Record<string, { query: string; shows?: string }> = {
  '/v1/tickets/search': { query: `q=${SEARCH_TERM}`, shows: '/v1/tickets' },
};

export interface RouteFactories {
  FACTORIES: Record<string, Factory>;
  handle(tenant: TestTenant): TenantHandle;
  /** One row, whole, as the owner connection sees it: any change to it (version, updated_at, deletion) shows. */
  row(table: string, tenantId: string, id: string): Promise<unknown>;
  /** Uploads one file as multipart/form-data (the JSON client cannot), with optional extra form fields. */
  upload(token: string, fileName: string, text: string, fields?: Record<string, string>): Promise<ApiResponse>;
  factoryFor(route: RouteEntry): Factory;
  bodyFor(factory: Factory, route: RouteEntry): object | undefined;
}

export function routeFactories(deps: { api: TestApi; client: PublicClient; owner: pg.Pool; password: string; registry?: string }): RouteFactories {
  const { api, client, owner, password } = deps;
  const registry = deps.registry ?? 'test/support/route-factories.ts';

  const handle = (tenant: TestTenant): TenantHandle => ({ tenant, token: async (role) => (await client.login(tenant.users[role].email, password)).accessToken });

  async function row(table: string, tenantId: string, id: string): Promise<unknown> {
    const { rows } = await owner.query<{ row: unknown }>(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return rows[0]?.row ?? null;
  }

  async function upload(token: string, fileName: string, text: string, fields: Record<string, string> = {}): Promise<ApiResponse> {
    const boundary = `----benteng${randomBytes(8).toString('hex')}`;
    const extra = Object.entries(fields)
      .map(([name, value]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name}"\r\n\r\n${value}\r\n`)
      .join('');
    const payload = Buffer.from(
      `${extra}--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="${fileName}"\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--${boundary}--\r\n`,
    );
    const res = await api.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'POST', url: '/v1/documents', remoteAddress: client.ip, headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
    return { status: res.statusCode, headers: res.headers, text: res.body, body: res.body ? (JSON.parse(res.body) as unknown) : undefined };
  }

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

  const factoryFor = (route: RouteEntry): Factory => {
    const prefix = prefixOf(route.path);
    const factory = FACTORIES[prefix];
    if (!factory) throw new Error(`add a factory for ${prefix} (FACTORIES in ${registry}): ${label(route)} takes an object id`);
    return factory;
  };
  const bodyFor = (factory: Factory, route: RouteEntry): object | undefined =>
    factory.body ? factory.body(route) : ['POST', 'PUT', 'PATCH'].includes(route.method) ? {} : undefined;

  return { FACTORIES, handle, row, upload, factoryFor, bodyFor };
}

/** Every table with a tenant_id column (new tables are included by themselves). */
export async function tenantTables(owner: pg.Pool): Promise<string[]> {
  const { rows } = await owner.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`,
  );
  return rows.map((r) => r.table_name);
}

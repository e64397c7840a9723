import { createHash, generateKeyPairSync, randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import { defineAbilityFor, PARTNER_SCOPE_GRANTS, PARTNER_SCOPES, type PartnerScope, type Principal } from '@benteng/authz';
import type { MembershipRole } from '@benteng/database';
import type { RouteAccess } from '../../apps/api/src/http/access.decorator.js';
import type { RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import type { TestApi } from './api.js';
import type { TestTenant } from './factories.js';
import { createPartnerClient, createPartnerKey } from './partners.js';
import { INBOUND_PAYMENTS_PATH, newWebhookSecret, postRaw, SimulatedPaymentProvider } from './payment-provider.js';
import { arranged, type ApiResponse, type PublicClient } from './public-api.js';
import { ownerInTenant } from './db.js';

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

const REGISTRY = 'test/support/route-factories.ts';

/** A new Ed25519 public key as a JWK (a request-signing key to register). */
const freshPublicJwk = () => ({ kty: 'OKP', crv: 'Ed25519', x: String(generateKeyPairSync('ed25519').publicKey.export({ format: 'jwk' }).x) });
const ROLES: MembershipRole[] = ['owner', 'admin', 'member', 'viewer'];

/**
 * Who the matrices call routes as. A route is either anonymous (`auth: 'none'`: no principal, so
 * no object of anyone's to reach) or driven here: a tenant user with an access token on the public
 * surface (one caller per role), or a partner client with an API key on the partner surface. A
 * route with any other auth kind, or an auth kind on a surface it does not belong to, is listed by
 * undrivenRoutes and every matrix fails on it: a new credential kind is taught here (callersFor,
 * as) before its routes count as covered, never skipped.
 */
export type DrivenRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'public-jwt' | 'partner' }> };

/** The surface each authenticated auth kind the matrices know serves. */
const DRIVEN_SURFACES: Record<string, RouteEntry['surface']> = { 'public-jwt': 'public', partner: 'partner' };

export function isDriven(route: RouteEntry): route is DrivenRoute {
  const auth = route.access?.auth;
  return auth !== undefined && auth !== 'none' && DRIVEN_SURFACES[auth] === route.surface;
}

/** Routes the matrices cannot call as anyone: each is a gap, so each fails the matrices by name. */
export function undrivenRoutes(routes: RouteEntry[]): string[] {
  return routes
    .filter((r) => r.access?.auth !== 'none' && !isDriven(r))
    .map((r) => `${label(r)}: auth ${r.access?.auth ?? '(none declared)'} on the ${r.surface} surface (teach callersFor in ${REGISTRY})`);
}

export type Caller =
  | { kind: 'user'; name: string; role: MembershipRole; maker: boolean }
  | { kind: 'partner'; name: string; scopes: readonly PartnerScope[]; maker: boolean };

const EVERY_SCOPE: readonly PartnerScope[] = [...PARTNER_SCOPES];

/** The partner scopes whose documented grants include the route's permission. */
export function scopesFor(route: DrivenRoute): PartnerScope[] {
  return PARTNER_SCOPES.filter((scope) => PARTNER_SCOPE_GRANTS[scope].some(([action, subject]) => action === route.access.action && subject === route.access.subject));
}

/**
 * Every caller of a route, by kind: each role of a tenant for /v1; for /partner/v1 a client with
 * every scope, one with only the scope the route needs, and one with every scope but that (403).
 * `maker` is the caller the factories make objects for: the owner, the client with every scope.
 */
export function callersFor(route: RouteEntry): Caller[] {
  if (!isDriven(route)) throw new Error(`the security matrices cannot call ${undrivenRoutes([route])[0] ?? label(route)}`);
  if (route.access.auth === 'public-jwt') return ROLES.map((role) => ({ kind: 'user', name: role, role, maker: role === 'owner' }));
  const needed = scopesFor(route);
  if (needed.length === 0) throw new Error(`no partner scope grants ${route.access.action} ${route.access.subject} (${label(route)}): PARTNER_SCOPE_GRANTS and the route disagree`);
  return [
    { kind: 'partner', name: 'partner client with every scope', scopes: EVERY_SCOPE, maker: true },
    ...needed.map((scope): Caller => ({ kind: 'partner', name: `partner client with only ${scope}`, scopes: [scope], maker: false })),
    { kind: 'partner', name: `partner client without ${needed.join(' ')}`, scopes: EVERY_SCOPE.filter((s) => !needed.includes(s)), maker: false },
  ];
}

/** The caller the factories make objects for (and whose lists must show them). */
export const makerOf = (route: RouteEntry): Caller => callersFor(route).find((c) => c.maker)!;

/** May this principal perform the route's action on its subject at all (what the AccessGuard asks)? */
export const mayCall = (route: DrivenRoute, tenantId: string, principal: Principal): boolean =>
  defineAbilityFor(tenantId, principal).can(route.access.action, route.access.subject);

/** The same question before any tenant exists (what a caller may do does not depend on the ids). */
export const mayCallAnywhere = (route: DrivenRoute, caller: Caller): boolean =>
  mayCall(
    route,
    randomUUID(),
    caller.kind === 'user' ? { kind: 'user', userId: randomUUID(), role: caller.role } : { kind: 'partner', clientId: randomUUID(), scopes: caller.scopes, tier: 'standard' },
  );

/** A partner client of a tenant with one API key, made through the owner connection. */
export interface PartnerHandle {
  clientId: string;
  clientSecret: string;
  keyId: string;
  key: string;
  scopes: readonly PartnerScope[];
}

/** A tenant whose users can log in, as seen by a factory. */
export interface TenantHandle {
  tenant: TestTenant;
  token(role: MembershipRole): Promise<string>;
  /** The tenant's partner client with every scope (the one partner objects are made for), made once. */
  partner(): Promise<PartnerHandle>;
}

export interface Created {
  /** A value for every path parameter of the routes under the prefix. */
  params: Record<string, string>;
  /** Everything about the object that a successful call would change, re-read through the owner connection. */
  read(): Promise<unknown>;
  /**
   * Credentials in clear the API revealed once while the object was made (a webhook signing
   * secret): no later answer may carry one (the exposure matrix checks every GET for them).
   */
  secrets?: string[];
}

/**
 * A kind of object a route must answer for exactly like a missing one when the caller may not see
 * it (who made it matters to some rules: a partner client sees only the tickets it opened).
 */
export interface Variant {
  name: string;
  /**
   * Partner routes: whether a partner client of the same tenant with every scope, other than the
   * tenant's own client the object was made for, may read it (stated here, not derived from the
   * rules, so a rule that loses its condition fails the same-tenant check).
   */
  otherClientsSee?: boolean;
}

export interface Factory {
  /**
   * Creates one object in `t` that `route` (when given) applies to, through the API or the owner
   * connection; `variant` names one of variants(route), by default the object the maker sees.
   */
  create(t: TenantHandle, route?: RouteEntry, variant?: string): Promise<Created>;
  /** The kinds of object the route's answers must not tell apart (default: the one create makes). */
  variants?(route: RouteEntry): Variant[];
  /** A body that passes validation, so the call reaches the object lookup (default: {} for POST, PUT and PATCH). */
  body?(route: RouteEntry): object | undefined;
}

/**
 * Lists that need a query to answer at all (searches): the query matches what the factories put in
 * the objects. `shows` names the factory prefix whose object the list must show to its tenant's maker
 * (the owner; on /partner/v1 the partner client with every scope).
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
  variantsOf(factory: Factory, route: RouteEntry): Variant[];
  /**
   * A partner client of the tenant with exactly these scopes (default: every scope) and one API
   * key, made once per tenant, scopes and `tag` (another tag makes another client).
   */
  partnerOf(tenant: TestTenant, scopes?: readonly PartnerScope[], tag?: string): Promise<PartnerHandle>;
  /** The bearer credential and principal of a caller in the tenant: a fresh login, or its client's API key. */
  as(tenant: TestTenant, caller: Caller): Promise<{ token: string; principal: Principal }>;
  /**
   * `client.call` for a route: a route in SIGNED_ROUTES gets its body as JSON text, signed as sent
   * (the app must be built with ANONYMOUS_ENV); every other route is called as before.
   */
  call(route: RouteEntry, url: string, options: { token?: string; body?: unknown }): Promise<ApiResponse>;
}

/**
 * Anonymous routes whose credential is not in the body but a signature over the request's exact
 * bytes (signed webhooks), with the sender that signs them. The matrices build their app with
 * ANONYMOUS_ENV, so that each sender's secret is the one the app verifies with, and send such
 * routes' bodies signed as they are sent (extra fields included) through `call`: the route's
 * validation is reached exactly as a genuine sender reaches it, never short-circuited by a 401.
 */
const PAYMENTS_SECRET = newWebhookSecret();
const SIGNED_ROUTES: Record<string, SimulatedPaymentProvider> = {
  [`POST ${INBOUND_PAYMENTS_PATH}`]: new SimulatedPaymentProvider(PAYMENTS_SECRET),
};
/** Configuration the matrices' app needs for the signed anonymous routes (SIGNED_ROUTES). */
export const ANONYMOUS_ENV: Record<string, string> = { PAYMENTS_WEBHOOK_SECRET: PAYMENTS_SECRET };

/** The variant a factory makes when none is named. */
const DEFAULT_VARIANT: Variant = { name: 'default' };

export function routeFactories(deps: { api: TestApi; client: PublicClient; owner: pg.Pool; password: string; registry?: string }): RouteFactories {
  const { api, client, owner, password } = deps;
  const registry = deps.registry ?? REGISTRY;

  const partners = new Map<string, Promise<PartnerHandle>>();
  function partnerOf(tenant: TestTenant, scopes: readonly PartnerScope[] = EVERY_SCOPE, tag = 'default'): Promise<PartnerHandle> {
    const cacheKey = `${tenant.id} ${[...scopes].sort().join(',')} ${tag}`;
    let made = partners.get(cacheKey);
    if (!made) {
      made = (async () => {
        const { clientId, clientSecret } = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { name: `${SEARCH_TERM} ${tag}`, scopes: [...scopes] });
        const { keyId, key } = await createPartnerKey(owner, tenant.id, clientId, tenant.users.owner.id);
        return { clientId, clientSecret, keyId, key, scopes };
      })();
      partners.set(cacheKey, made);
    }
    return made;
  }

  async function as(tenant: TestTenant, caller: Caller): Promise<{ token: string; principal: Principal }> {
    if (caller.kind === 'user') {
      const user = tenant.users[caller.role];
      return { token: (await client.login(user.email, password)).accessToken, principal: { kind: 'user', userId: user.id, role: caller.role } };
    }
    const partner = await partnerOf(tenant, caller.scopes);
    return { token: partner.key, principal: { kind: 'partner', clientId: partner.clientId, scopes: partner.scopes, tier: 'standard' } };
  }

  const handle = (tenant: TestTenant): TenantHandle => ({
    tenant,
    token: async (role) => (await client.login(tenant.users[role].email, password)).accessToken,
    partner: () => partnerOf(tenant),
  });

  async function row(table: string, tenantId: string, id: string): Promise<unknown> {
    const { rows } = await owner.query<{ row: unknown }>(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE tenant_id = $1 AND id = $2`, [tenantId, id]);
    return rows[0]?.row ?? null;
  }

  /** Rows of a table that belong to one parent, whole, in a stable order. */
  async function children(table: string, tenantId: string, column: string, parentId: string, order: string): Promise<unknown[]> {
    const { rows } = await owner.query<{ row: unknown }>(`SELECT to_jsonb(t) AS row FROM ${table} t WHERE tenant_id = $1 AND ${column} = $2 ORDER BY ${order}`, [tenantId, parentId]);
    return rows.map((r) => r.row);
  }

  const inTenant = (tenantId: string, work: (c: pg.PoolClient) => Promise<void>): Promise<void> => ownerInTenant(owner, tenantId, work);

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

  const idOf = (res: ApiResponse) => (res.body as { id: string }).id;

  // What each kind of object is made of, re-read whole: any change a refused call made would show.
  const invoiceRead = (tenantId: string, id: string) => async () => ({
    invoice: await row('invoices', tenantId, id),
    lines: await children('invoice_lines', tenantId, 'invoice_id', id, 'position'),
  });
  const ticketRead = (tenantId: string, id: string) => async () => ({
    ticket: await row('tickets', tenantId, id),
    comments: await children('ticket_comments', tenantId, 'ticket_id', id, 'id'),
  });
  const documentRead = (tenantId: string, id: string) => async () => {
    const document = (await row('documents', tenantId, id)) as { storage_key?: string } | null;
    const content = document?.storage_key ? await owner.query('SELECT md5(content) AS md5 FROM document_contents WHERE tenant_id = $1 AND id = $2', [tenantId, document.storage_key]) : undefined;
    return { document, content: content?.rows };
  };

  const partnerInvoiceBody = () => ({
    number: `XT-${randomBytes(4).toString('hex')}`,
    customer: { name: 'PT Lintas Mitra', email: 'ap@lintas.test' },
    lines: [{ description: 'Jasa mitra', quantity: 1, unitPriceMinor: 75_000 }],
  });
  const partnerTicketBody = () => ({ subject: `${SEARCH_TERM} mitra ${randomBytes(4).toString('hex')}`, body: `${SEARCH_TERM}: partner integration down` });

  /** A ticket opened through /partner/v1 by the tenant's partner client (the only kind partners see). */
  async function partnerTicket(t: TenantHandle): Promise<string> {
    const { key } = await t.partner();
    return idOf(arranged(await client.call('POST', '/partner/v1/tickets', { token: key, body: partnerTicketBody() }), 201, 'open ticket as partner client'));
  }
  async function userTicket(t: TenantHandle): Promise<string> {
    return (await FACTORIES['/v1/tickets']!.create(t)).params.id!;
  }
  async function document(t: TenantHandle, fields: Record<string, string> = {}): Promise<Created> {
    const res = arranged(await upload(await t.token('owner'), `${SEARCH_TERM}.txt`, `${SEARCH_TERM}: catatan rahasia ${randomBytes(4).toString('hex')}\n`, fields), 201, 'upload document');
    const id = idOf(res);
    return { params: { id }, read: documentRead(t.tenant.id, id) };
  }

  const invitationBody = (role: MembershipRole) => ({ email: `xt.${randomBytes(5).toString('hex')}@example.test`, role, displayName: 'Anggota Lintas' });

  /** A new account that joins the tenant by accepting an owner's invitation (POST /v1/invitations/register). */
  async function joinByInvitation(t: TenantHandle, role: MembershipRole): Promise<{ memberId: string; email: string }> {
    const body = invitationBody(role);
    const invited = arranged(await client.call('POST', '/v1/invitations', { token: await t.token('owner'), body }), 201, 'invite');
    const joined = arranged(await client.call('POST', '/v1/invitations/register', { body: { token: (invited.body as { token: string }).token, password } }), 201, 'accept invitation');
    return { memberId: (joined.body as { memberId: string }).memberId, email: body.email };
  }

  /** Fails loudly on a variant name the factory does not make (a typo would test the default twice). */
  const unknownVariant = (prefix: string, variant: string): never => {
    throw new Error(`the factory for ${prefix} makes no variant "${variant}"`);
  };

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
        const id = idOf(res);
        // Paying needs an issued invoice: give every transition a target it would succeed on.
        if (route?.path.endsWith('/pay')) arranged(await client.call('POST', `/v1/invoices/${id}/issue`, { token, body: {} }), 200, 'issue invoice');
        return { params: { id }, read: invoiceRead(t.tenant.id, id) };
      },
      body: (route) => (route.method === 'PATCH' ? { customer: { name: 'Diubah lintas tenant' }, lines: [{ description: 'x', quantity: 1, unitPriceMinor: 1 }] } : route.method === 'POST' ? {} : undefined),
    },
    // A member who joined through the only door there is: an invitation, accepted by registering.
    '/v1/members': {
      async create(t) {
        const { memberId } = await joinByInvitation(t, 'member');
        return { params: { id: memberId }, read: () => row('memberships', t.tenant.id, memberId) };
      },
      // A role every caller that may update memberships at all may grant (admins cannot grant owner).
      body: (route) => (route.method === 'PATCH' ? { role: 'viewer' } : route.method === 'POST' || route.method === 'PUT' ? {} : undefined),
    },
    // A pending invitation made by the owner through the API (its token revealed once): :id.
    '/v1/invitations': {
      async create(t) {
        const res = arranged(await client.call('POST', '/v1/invitations', { token: await t.token('owner'), body: invitationBody('viewer') }), 201, 'invite');
        const { id, token } = res.body as { id: string; token: string };
        return { params: { id }, read: () => row('invitations', t.tenant.id, id), secrets: [token] };
      },
      body(route) {
        if (route.method === 'POST' && route.path === '/v1/invitations') return invitationBody('viewer');
        // Revocation takes no body.
        return undefined;
      },
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
        const id = idOf(res);
        arranged(await client.call('POST', `/v1/tickets/${id}/comments`, { token, body: { body: `${SEARCH_TERM} comment` } }), 201, 'comment on ticket');
        return { params: { id }, read: ticketRead(t.tenant.id, id) };
      },
      body(route) {
        if (route.method === 'PATCH') return { subject: 'Diubah lintas tenant', status: 'closed' };
        if (route.path.endsWith('/assign')) return { memberId: null };
        if (route.path.endsWith('/comments') && route.method === 'POST') return { body: 'komentar lintas tenant' };
        return route.method === 'POST' || route.method === 'PUT' ? {} : undefined;
      },
    },
    '/v1/documents': {
      create: (t) => document(t),
    },
    // A client (made by the owner through the API, as a tenant would) with one API key and one
    // request-signing key: :id, :keyId, :signingKeyId.
    '/v1/partner-clients': {
      async create(t) {
        const token = await t.token('owner');
        const made = arranged(
          await client.call('POST', '/v1/partner-clients', { token, body: { name: `${SEARCH_TERM} ${randomBytes(4).toString('hex')}`, environment: 'test', scopes: ['invoices:read'] } }),
          201,
          'create partner client',
        );
        const id = idOf(made);
        const keyId = idOf(arranged(await client.call('POST', `/v1/partner-clients/${id}/keys`, { token, body: {} }), 201, 'create partner key'));
        const signingKeyId = idOf(arranged(await client.call('POST', `/v1/partner-clients/${id}/signing-keys`, { token, body: { jwk: freshPublicJwk(), label: SEARCH_TERM } }), 201, 'register signing key'));
        const tenantId = t.tenant.id;
        return {
          params: { id, keyId, signingKeyId },
          // The owner connection reads the hash columns too: a rotated secret or key shows.
          read: async () => ({
            client: await row('partner_clients', tenantId, id),
            keys: await children('partner_api_keys', tenantId, 'client_id', id, 'created_at, id'),
            signingKeys: await children('partner_signing_keys', tenantId, 'client_id', id, 'created_at, id'),
          }),
        };
      },
      body(route) {
        if (route.method === 'PATCH') return { name: 'Diubah lintas tenant' };
        // A valid key each time: an invalid body would be refused (400) before the client is looked up.
        if (route.method === 'POST' && route.path === '/v1/partner-clients/:id/signing-keys') return { jwk: freshPublicJwk() };
        if (route.method === 'POST' && route.path === '/v1/partner-clients') return { name: 'Klien lintas tenant', environment: 'test', scopes: ['invoices:read'] };
        return route.method === 'POST' || route.method === 'PUT' ? {} : undefined;
      },
    },
    // An endpoint (made by the owner through the API, its secret rotated once so that both secret
    // columns hold a ciphertext) with one finished delivery and its attempt: :id, :deliveryId. The
    // delivery is inserted, not pinged: a pending one could be re-queued by a worker's sweeper and
    // change under the "unchanged" check; a succeeded one without next_attempt_at is never due.
    '/v1/webhook-endpoints': {
      async create(t) {
        const token = await t.token('owner');
        const made = arranged(
          await client.call('POST', '/v1/webhook-endpoints', { token, body: { url: 'https://hooks.example.com/lintas', description: `${SEARCH_TERM} ${randomBytes(4).toString('hex')}`, events: ['invoice.paid'] } }),
          201,
          'create webhook endpoint',
        );
        const id = idOf(made);
        const rotated = arranged(await client.call('POST', `/v1/webhook-endpoints/${id}/secret/rotate`, { token }), 200, 'rotate webhook secret');
        const secrets = [made, rotated].map((res) => (res.body as { secret: unknown }).secret);
        if (!secrets.every((s): s is string => typeof s === 'string' && s.startsWith('whsec_'))) throw new Error(`the webhook endpoint factory expected two revealed whsec_ secrets, got ${JSON.stringify(secrets)}`);
        const tenantId = t.tenant.id;
        const deliveryId = randomUUID();
        await inTenant(tenantId, async (c) => {
          await c.query(
            `INSERT INTO webhook_deliveries (tenant_id, id, endpoint_id, message_id, event_type, payload, status, attempts, next_attempt_at, last_status_code, delivered_at)
             VALUES ($1, $2, $3, $4, 'invoice.paid', '{}', 'succeeded', 1, NULL, 200, now())`,
            [tenantId, deliveryId, id, `msg_${randomUUID()}`],
          );
          await c.query(
            `INSERT INTO webhook_attempts (tenant_id, id, delivery_id, attempt, status_code, latency_ms, response_excerpt)
             VALUES ($1, $2, $3, 1, 200, 42, 'ok')`,
            [tenantId, randomUUID(), deliveryId],
          );
        });
        return {
          params: { id, deliveryId },
          // The owner connection reads the ciphertext columns too: a rotated secret shows.
          read: async () => ({
            endpoint: await row('webhook_endpoints', tenantId, id),
            deliveries: await children('webhook_deliveries', tenantId, 'endpoint_id', id, 'created_at, id'),
            attempts: (
              await owner.query<{ row: unknown }>(
                `SELECT to_jsonb(a) AS row FROM webhook_attempts a JOIN webhook_deliveries d ON d.tenant_id = a.tenant_id AND d.id = a.delivery_id
                  WHERE a.tenant_id = $1 AND d.endpoint_id = $2 ORDER BY a.delivery_id, a.attempt, a.id`,
                [tenantId, id],
              )
            ).rows.map((r) => r.row),
          }),
          secrets,
        };
      },
      body(route) {
        if (route.method === 'PATCH') return { description: 'Diubah lintas tenant' };
        if (route.method === 'POST' && route.path === '/v1/webhook-endpoints') return { url: 'https://hooks.example.com/x', events: ['invoice.paid'] };
        // Rotation, ping and redelivery take no body.
        return undefined;
      },
    },
    // A finished export of the owner (requester-only: the one who may download it), inserted
    // through the owner connection with its file in one chunk, so nothing is queued: :id.
    '/v1/exports': {
      async create(t) {
        const tenantId = t.tenant.id;
        const id = randomUUID();
        const file = Buffer.from(`number,customer_name\r\nXT-${randomBytes(4).toString('hex')},PT ${SEARCH_TERM}\r\n`, 'utf8');
        await inTenant(tenantId, async (c) => {
          await c.query(
            `INSERT INTO exports (tenant_id, id, type, format, filters, status, requested_by_id, row_count, byte_size, sha256, started_at, completed_at, expires_at)
             VALUES ($1, $2, 'invoices', 'csv', '{"status":"issued"}', 'ready', $3, 1, $4, $5, now(), now(), now() + interval '1 day')`,
            [tenantId, id, t.tenant.users.owner.id, file.length, createHash('sha256').update(file).digest('hex')],
          );
          await c.query('INSERT INTO export_chunks (tenant_id, id, export_id, seq, bytes) VALUES ($1, $2, $3, 0, $4)', [tenantId, randomUUID(), id, file]);
        });
        return { params: { id }, read: async () => ({ export: await row('exports', tenantId, id), chunks: await children('export_chunks', tenantId, 'export_id', id, 'seq') }) };
      },
      // Asking for a download link takes no body.
      body: (route) => (route.method === 'POST' && route.path === '/v1/exports' ? { type: 'invoices', format: 'csv' } : undefined),
    },
    // A completed access request of the owner about the member, inserted through the owner
    // connection (no export is built): :id. A create asks about the caller (`me`) for access only,
    // never erasure, so a matrix run removes no one.
    '/v1/privacy/requests': {
      async create(t) {
        const tenantId = t.tenant.id;
        const id = randomUUID();
        await inTenant(tenantId, async (c) => {
          await c.query(
            `INSERT INTO privacy_requests (tenant_id, id, kind, subject_user_id, subject_member_id, requested_by_id, status, result, created_at, completed_at)
             SELECT $1, $2, 'access', m.user_id, m.id, $4, 'completed', '{"byteSize": 1}', now(), now() FROM memberships m WHERE m.tenant_id = $1 AND m.user_id = $3`,
            [tenantId, id, t.tenant.users.member.id, t.tenant.users.owner.id],
          );
        });
        return { params: { id }, read: () => row('privacy_requests', tenantId, id) };
      },
      body: (route) => (route.method === 'POST' ? { kind: 'access', subject: 'me' } : undefined),
    },
    // No route takes a block's id; lists show them. One block on a member, one on a partner client.
    '/v1/security/blocks': {
      async create(t) {
        const tenantId = t.tenant.id;
        const partner = await t.partner();
        const ids = { member: randomUUID(), client: randomUUID() };
        await inTenant(tenantId, async (c) => {
          for (const [id, principal] of [
            [ids.member, `user:${t.tenant.users.member.id}`],
            [ids.client, `partner:${partner.clientId}`],
          ] as const) {
            await c.query(
              `INSERT INTO security_blocks (tenant_id, id, principal, ip, signal, observed, threshold, window_s, blocked_at, expires_at)
               VALUES ($1, $2, $3, '203.0.113.7', 'not_found', 21, 20, 60, now(), now() + interval '15 minutes')`,
              [tenantId, id, principal],
            );
          }
        });
        return { params: { id: ids.member }, read: async () => ({ member: await row('security_blocks', tenantId, ids.member), client: await row('security_blocks', tenantId, ids.client) }) };
      },
    },
    // The partner surface reaches the same objects as /v1, made by users or by the tenant's partner client.
    '/partner/v1/invoices': {
      async create(t, route, variant = 'made by a user') {
        if (variant === 'made by a user') return FACTORIES['/v1/invoices']!.create(t, route);
        if (variant !== 'made by the partner client') return unknownVariant('/partner/v1/invoices', variant);
        const { key } = await t.partner();
        const id = idOf(arranged(await client.call('POST', '/partner/v1/invoices', { token: key, body: partnerInvoiceBody() }), 201, 'create invoice as partner client'));
        return { params: { id }, read: invoiceRead(t.tenant.id, id) };
      },
      // invoices:read reads every invoice of the tenant, whoever made it.
      variants: () => [
        { name: 'made by a user', otherClientsSee: true },
        { name: 'made by the partner client', otherClientsSee: true },
      ],
      body: (route) => (route.method === 'POST' ? partnerInvoiceBody() : undefined),
    },
    '/partner/v1/tickets': {
      async create(t, _route, variant = 'opened by the partner client') {
        const id = variant === 'opened by the partner client' ? await partnerTicket(t) : variant === 'opened by a user' ? await userTicket(t) : unknownVariant('/partner/v1/tickets', variant);
        return { params: { id }, read: ticketRead(t.tenant.id, id) };
      },
      // A partner client sees only the tickets it opened itself.
      variants: () => [
        { name: 'opened by a user', otherClientsSee: false },
        { name: 'opened by the partner client', otherClientsSee: false },
      ],
      body: (route) => (route.method === 'POST' ? partnerTicketBody() : undefined),
    },
    '/partner/v1/documents': {
      async create(t, _route, variant = 'not attached') {
        if (variant === 'not attached') return document(t);
        if (variant === "on the partner client's ticket") return document(t, { ticketId: await partnerTicket(t) });
        if (variant === "on a user's ticket") return document(t, { ticketId: await userTicket(t) });
        return unknownVariant('/partner/v1/documents', variant);
      },
      // An attachment is exactly as visible as its ticket; other documents to every client with documents:read.
      variants: () => [
        { name: 'not attached', otherClientsSee: true },
        { name: "on the partner client's ticket", otherClientsSee: false },
        { name: "on a user's ticket", otherClientsSee: false },
      ],
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
  const variantsOf = (factory: Factory, route: RouteEntry): Variant[] => factory.variants?.(route) ?? [DEFAULT_VARIANT];

  const call = (route: RouteEntry, url: string, options: { token?: string; body?: unknown }): Promise<ApiResponse> => {
    const signer = SIGNED_ROUTES[label(route)];
    if (!signer || options.body === undefined) return client.call(route.method, url, options);
    const text = JSON.stringify(options.body);
    return postRaw(api, url, text, { 'content-type': 'application/json', ...signer.sign(text) }, client.ip);
  };

  return { FACTORIES, handle, row, upload, factoryFor, bodyFor, variantsOf, partnerOf, as, call };
}

/**
 * Tenant tables written after the response of a successful request, never by a refused one
 * (apps/api/src/http/access-recorder.ts): a row count taken right after an earlier accepted request
 * may race their writes, so the "a refused write changes nothing" counts leave them out.
 */
export const AFTER_RESPONSE_TABLES: readonly string[] = ['access_records'];

/** Every table with a tenant_id column (new tables are included by themselves). */
export async function tenantTables(owner: pg.Pool): Promise<string[]> {
  const { rows } = await owner.query<{ table_name: string }>(
    `SELECT table_name FROM information_schema.columns WHERE table_schema = 'public' AND column_name = 'tenant_id' ORDER BY table_name`,
  );
  return rows.map((r) => r.table_name);
}

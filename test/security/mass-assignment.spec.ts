import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { oauthErrorRoutes } from '../../apps/api/src/partner/oauth-error.filter.js';
import { buildApi } from '../support/api.js';
import { tag } from './support/controls.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { createPaymentAccount, payableInvoice } from '../support/payment-provider.js';
import { oauthErrorOf, problemOf, PublicClient, testPassword, type ApiResponse } from '../support/public-api.js';
import { ANONYMOUS_ENV, fill, isDriven, label, makerOf, paramsOf, prefixOf, randomParams, routeFactories, tenantTables, AFTER_RESPONSE_TABLES, undrivenRoutes, type Created } from '../support/route-factories.js';

/**
 * Mass assignment, for every route that takes a body: the list comes from the router's own
 * metadata (listRoutes), so a write route added tomorrow is covered the day it is registered.
 *
 * The route's most powerful caller in the tenant (the owner on /v1, the partner client with every
 * scope on /partner/v1; anonymous routes with the credentials they take in the body) sends the
 * route a minimal body plus fields a client must never set: ownership, identity and
 * server-computed values. Every one of them is refused by the strict validation (400, its pointer
 * with rule whitelistValidation) and nothing is written: the object the route targets is exactly
 * as it was, and no table with a tenant_id gained a row.
 * `status` and `role` are only sent where the route's DTO does not take them on purpose (a ticket's
 * status, a member's role): a probe sending the field alone tells which.
 *
 * One documented exception, IGNORES_EXTRA: the OAuth token endpoint, where RFC 6749 3.2 says "The
 * authorization server MUST ignore unrecognized request parameters"
 * (apps/api/src/partner/token-parameters.pipe.ts). There the extra fields are harmless instead of
 * refused: the token is issued as without them, the only row written is the audit event,
 * and no extra value is stored in any tenant table, echoed in the response or written to the logs.
 */
const WRITES = ['POST', 'PUT', 'PATCH'];

const api = await buildApi({ env: ANONYMOUS_ENV });
afterAll(() => api.close());
const routes = listRoutes(api.app);
const writeRoutes = routes.filter((r) => WRITES.includes(r.method) && (isDriven(r) || r.access?.auth === 'none'));

/** Fields no client may set, whatever the route. */
const alwaysExtra = (victim: string) => ({
  tenantId: randomUUID(),
  id: randomUUID(),
  createdBy: victim,
  createdById: victim,
  createdByClientId: randomUUID(),
  openedByClientId: randomUUID(),
  total: 1,
  totalMinor: '1',
  userId: victim,
});
/** Write routes whose unknown fields are ignored, not refused (RFC 6749 3.2); every other one refuses them. */
const IGNORES_EXTRA = new Set(['POST /partner/oauth/token']);
const TOKEN_KEYS = ['access_token', 'expires_in', 'scope', 'token_type'];

/** Fields some routes take on purpose: sent only where the route's DTO refuses them. */
const maybeExtra = { status: 'paid', role: 'owner' } as const;

const whitelisted = (res: ApiResponse): string[] =>
  ((res.body as { errors?: { pointer: string; rules: string[] }[] } | undefined)?.errors ?? []).filter((e) => e.rules.includes('whitelistValidation')).map((e) => e.pointer);

describe(tag('INPUT-VALIDATION', 'mass assignment matrix'), () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  let tenant: TestTenant;
  let other: TestTenant;
  let tables: string[];
  const { FACTORIES, handle, factoryFor, bodyFor, upload, partnerOf, as, call } = routeFactories({ api, client, owner, password });
  const oauthRoutes = oauthErrorRoutes(api.app);

  /**
   * Anonymous write routes: the body that would succeed for the tenant (the credential is the
   * body). A route missing here fails: add its body, it is never skipped.
   */
  const ANONYMOUS_BODIES: Record<string, () => Promise<Record<string, unknown>>> = {
    'POST /v1/auth/login': async () => ({ email: tenant.users.owner.email, password }),
    'POST /v1/auth/refresh': async () => ({ refreshToken: (await client.login(tenant.users.owner.email, password)).refreshToken }),
    'POST /partner/oauth/token': async () => {
      const partner = await partnerOf(tenant);
      return { grant_type: 'client_credentials', client_id: partner.clientId, client_secret: partner.clientSecret };
    },
    // The credential is an invitation token the tenant's owner made for a new account.
    'POST /v1/invitations/register': async () => {
      const { token } = await as(tenant, { kind: 'user', name: 'owner', role: 'owner', maker: true });
      const invited = await client.call('POST', '/v1/invitations', { token, body: { email: `ma.${randomUUID()}@example.test`, role: 'viewer' } });
      return { token: (invited.body as { token: string }).token, password };
    },
    // The credential is the signature over the sent bytes, which `call` adds (SIGNED_ROUTES).
    'POST /webhooks/inbound/payments': async () => ({ ...(await payableInvoice(owner, tenant, await createPaymentAccount(owner, tenant.id))).event }),
  };

  /** Rows per tenant table for the tenant: a refused write adds none (and removes none). */
  async function rowCounts(tenantId: string): Promise<Record<string, number>> {
    const counts: Record<string, number> = {};
    for (const table of tables) {
      const { rows } = await owner.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" WHERE tenant_id = $1`, [tenantId]);
      counts[table] = rows[0]!.n;
    }
    return counts;
  }

  /** Rows of the tenant, in any tenant table, whose text contains one of `values`: an ignored field stored after all. */
  async function rowsContaining(tenantId: string, values: string[]): Promise<Record<string, number>> {
    const found: Record<string, number> = {};
    for (const table of tables) {
      const { rows } = await owner.query<{ n: number }>(`SELECT count(*)::int AS n FROM "${table}" t WHERE tenant_id = $1 AND t::text LIKE ANY($2)`, [tenantId, values.map((v) => `%${v}%`)]);
      if (rows[0]!.n > 0) found[table] = rows[0]!.n;
    }
    return found;
  }

  /** The bearer credential of the route's most powerful caller (a fresh login for users); none for anonymous routes. */
  const tokenFor = async (route: RouteEntry): Promise<string | undefined> => (isDriven(route) ? (await as(tenant, makerOf(route))).token : undefined);

  /** What an anonymous route's body needs to succeed (its credentials); nothing for the others. */
  async function credentialsFor(route: RouteEntry): Promise<Record<string, unknown>> {
    if (isDriven(route)) return {};
    const body = ANONYMOUS_BODIES[label(route)];
    if (!body) throw new Error(`add ${label(route)} to ANONYMOUS_BODIES in test/security/mass-assignment.spec.ts: an anonymous write route is probed with the body that would succeed`);
    return body();
  }

  beforeAll(async () => {
    [tenant, other] = await Promise.all([createTenantWithLogins(owner, 'ma', password), createTenant(owner, 'ma-other')]);
    tables = (await tenantTables(owner)).filter((t) => !AFTER_RESPONSE_TABLES.includes(t));
  });

  it('knows every auth kind and surface the routes declare, so no write route escapes the matrix', () => {
    expect(undrivenRoutes(routes)).toEqual([]);
    expect(writeRoutes.filter((r) => !isDriven(r) && !ANONYMOUS_BODIES[label(r)]).map(label), 'anonymous write routes without a body in ANONYMOUS_BODIES').toEqual([]);
    for (const auth of ['public-jwt', 'partner', 'none']) expect(writeRoutes.some((r) => r.access?.auth === auth), `write routes with auth ${auth}`).toBe(true);
  });

  it('finds write routes to probe, and every tenant table is counted', () => {
    expect(writeRoutes.length).toBeGreaterThan(0);
    expect(writeRoutes.map(label), 'the documented exceptions are write routes of the matrix').toEqual(expect.arrayContaining([...IGNORES_EXTRA]));
    expect(tables).toContain('invoices');
    expect(Object.keys(FACTORIES).length).toBeGreaterThan(0);
  });

  const refusing = writeRoutes.filter((r) => !IGNORES_EXTRA.has(label(r)));
  it.each(refusing.map((r) => [label(r), r] as const))('%s refuses fields the client may not set, and writes nothing', async (_, route) => {
    const factory = paramsOf(route.path).length > 0 || FACTORIES[prefixOf(route.path)] ? FACTORIES[prefixOf(route.path)] : undefined;
    if (paramsOf(route.path).length > 0) factoryFor(route); // a route with an id needs a factory
    const created: Created | undefined = factory && paramsOf(route.path).length > 0 ? await factory.create(handle(tenant), route) : undefined;
    const params = created?.params ?? randomParams(route.path);
    for (const param of paramsOf(route.path)) expect(params[param], `a value for :${param} of ${label(route)}`).toBeDefined();

    // Probe: which of status/role does the route's DTO refuse? On random ids, so nothing real is touched.
    const extra: Record<string, unknown> = alwaysExtra(other.users.owner.id);
    for (const [field, value] of Object.entries(maybeExtra)) {
      const probe = await call(route, fill(route.path, randomParams(route.path)), { token: await tokenFor(route), body: { [field]: value } });
      if (whitelisted(probe).includes(`/${field}`)) extra[field] = value;
    }

    // Logins write (sessions, audit): all of them happen before the counting starts.
    const [jsonToken, formToken, credentials] = [await tokenFor(route), await tokenFor(route), await credentialsFor(route)];
    const minimal = { ...(factory ? (bodyFor(factory, route) ?? {}) : {}), ...credentials };
    const before = await created?.read();
    const countsBefore = await rowCounts(tenant.id);
    const res = await call(route, fill(route.path, params), { token: jsonToken, body: { ...minimal, ...extra } });

    // 415: not a JSON route (an upload). Its form fields are held to the same whitelist instead.
    const isUpload = res.status === 415;
    const refused = isUpload ? await upload(formToken!, 'extra.txt', 'extra fields\n', { tenantId: other.id }) : res;
    const fields = isUpload ? ['tenantId'] : Object.keys(extra);
    // A route marked @OAuthErrors answers in RFC 6749 JSON (with the same `errors` pointers) instead of problem+json.
    const errorOf = oauthRoutes.has(label(route)) ? oauthErrorOf : problemOf;
    expect(errorOf(refused), `${label(route)} -> ${refused.status} ${refused.text}`).toMatchObject({ status: 400, problemJson: true });
    expect(whitelisted(refused), `${label(route)}: every extra field is named as whitelistValidation`).toEqual(expect.arrayContaining(fields.map((f) => `/${f}`)));
    expect(await created?.read(), 'the object is unchanged').toEqual(before);
    expect(await rowCounts(tenant.id), 'no row added or removed in any tenant table').toEqual(countsBefore);
  });

  /**
   * RFC 6749 3.2: the token endpoint ignores the extra fields (all of them, status and role too).
   * The harm they could do is absent: the token is issued exactly as without them, the only row
   * written is the audit event, and none of their values is stored, echoed or logged.
   */
  it.each(writeRoutes.filter((r) => IGNORES_EXTRA.has(label(r))).map((r) => [label(r), r] as const))(
    '%s ignores fields the client may not set (RFC 6749 3.2): the token is issued, nothing of them is stored, echoed or logged',
    async (_, route) => {
      const extra: Record<string, unknown> = { ...alwaysExtra(other.users.owner.id), ...maybeExtra };
      const traceable = Object.values(extra).filter((v): v is string => typeof v === 'string' && v.length >= 16);
      expect(traceable.length).toBeGreaterThan(0);
      const credentials = await credentialsFor(route);
      const countsBefore = await rowCounts(tenant.id);
      const logsBefore = api.logs.raw.length;
      const res = await call(route, route.path, { body: { ...credentials, ...extra } });

      expect({ status: res.status, keys: Object.keys((res.body ?? {}) as object).sort() }, `${label(route)} -> ${res.text}`).toEqual({ status: 200, keys: TOKEN_KEYS });
      expect(traceable.filter((value) => res.text.includes(value)), 'extra values echoed in the answer').toEqual([]);
      const counts = await rowCounts(tenant.id);
      const changed = Object.fromEntries(Object.entries(counts).filter(([table, n]) => n !== countsBefore[table]).map(([table, n]) => [table, n - countsBefore[table]!]));
      expect(changed, 'the only row written is the audit event of the issue').toEqual({ audit_events: 1 });
      const { rows } = await owner.query<{ type: string; data: Record<string, unknown> }>('SELECT type, data FROM audit_events WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1', [tenant.id]);
      expect({ type: rows[0]!.type, data: Object.keys(rows[0]!.data).sort() }).toEqual({ type: 'partner.token_issued', data: ['expiresIn', 'scope'] });
      expect(await rowsContaining(tenant.id, traceable), 'no extra value stored in any tenant table').toEqual({});
      const logged = api.logs.raw.slice(logsBefore);
      expect(logged.length, 'the request was logged').toBeGreaterThan(0);
      expect(traceable.filter((value) => logged.includes(value)), 'extra values in the logs').toEqual([]);
    },
  );
});

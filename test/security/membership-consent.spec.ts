import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { PublicClient, testPassword } from '../support/public-api.js';
import { fill, isDriven, label, makerOf, paramsOf, prefixOf, randomParams, routeFactories, type Created } from '../support/route-factories.js';
import { tag } from './support/controls.js';
import { bodyOf, operationsOf, resolve, sampleValid, type OpenApiDoc, type Schema } from './support/fuzz-schema.js';

/**
 * MEMBERSHIP-CONSENT as a class (issue 14, finding 6): no write route lets a tenant attach an
 * account that has not accepted. For every write route the router registers on /v1 and
 * /partner/v1 (listRoutes: a route added tomorrow is probed the day it exists), the route's most
 * powerful caller of tenant A sends a body in which every email field names a user of a tenant B and
 * every id field carries that user's id (generated from the route's OpenAPI request schema, over
 * the factory's valid body where there is one). Afterwards the user of B belongs to no more tenants
 * than before and is not in A at all: whatever a route does with an email or an id, it never makes a
 * membership without the holder's consent (the invitation that route may have made stays pending).
 */
const WRITES = ['POST', 'PUT', 'PATCH'];

const api = await buildApi();
afterAll(() => api.close());
const routes = listRoutes(api.app);
const writeRoutes = routes.filter((r) => WRITES.includes(r.method) && isDriven(r) && (r.surface === 'public' || r.surface === 'partner'));

/** `body` with every email-format field set to `email` and every uuid-format field to `id`, following the schema. */
function aimedAt(doc: OpenApiDoc, raw: Schema | undefined, body: unknown, email: string, id: string): unknown {
  const schema = resolve(doc, raw);
  if (schema.format === 'email') return email;
  if (schema.format === 'uuid') return id;
  if (schema.properties) {
    const base = body && typeof body === 'object' && !Array.isArray(body) ? { ...(body as Record<string, unknown>) } : {};
    for (const [name, property] of Object.entries(schema.properties)) {
      const p = resolve(doc, property);
      const carries = p.format === 'email' || p.format === 'uuid' || p.properties !== undefined;
      if (name in base || (carries && (p.format === 'email' || p.format === 'uuid'))) base[name] = aimedAt(doc, p, base[name], email, id);
    }
    return base;
  }
  if (schema.items && Array.isArray(body)) return body.map((item) => aimedAt(doc, schema.items, item, email, id));
  return body;
}

describe(tag('MEMBERSHIP-CONSENT', 'no write route attaches another tenant\u2019s account (route-catalog driven)'), () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  let tenant: TestTenant;
  let docs: Record<'public' | 'partner', OpenApiDoc>;
  const { FACTORIES, handle, factoryFor, bodyFor, as } = routeFactories({ api, client, owner, password });
  const tokens = new Map<string, Promise<string>>();
  const tokenFor = (route: RouteEntry): Promise<string> => {
    const caller = makerOf(route);
    // Routes under /v1/auth may end the session they are called with: those get a session of their own.
    const key = route.path.startsWith('/v1/auth/') ? `${label(route)}` : caller.name;
    if (!tokens.has(key)) tokens.set(key, as(tenant, caller).then((s) => s.token));
    return tokens.get(key)!;
  };

  async function membershipsOf(userId: string): Promise<string[]> {
    const { rows } = await owner.query<{ tenant_id: string }>('SELECT tenant_id FROM memberships WHERE user_id = $1 ORDER BY tenant_id', [userId]);
    return rows.map((r) => r.tenant_id);
  }

  beforeAll(async () => {
    tenant = await createTenantWithLogins(owner, 'consent', password);
    docs = {
      public: (await client.call('GET', '/v1/openapi.json')).body as OpenApiDoc,
      partner: (await client.call('GET', '/partner/v1/openapi.json')).body as OpenApiDoc,
    };
  });

  it('finds the write routes, among them the one that invites by email', () => {
    expect(writeRoutes.map(label)).toContain('POST /v1/invitations');
    expect(writeRoutes.some((r) => r.surface === 'partner')).toBe(true);
  });

  it.each(writeRoutes.map((r) => [label(r), r] as const))('%s, aimed at another tenant\u2019s user, attaches nobody', async (_, route) => {
    // A victim of its own per route, so a route that attaches is named alone, not every route after it.
    const victim = (await createTenant(owner, 'consent-victim')).users.member;
    const before = await membershipsOf(victim.id);
    const factory = FACTORIES[prefixOf(route.path)];
    if (paramsOf(route.path).length > 0) factoryFor(route); // a route with an id needs a factory
    const created: Created | undefined = factory && paramsOf(route.path).length > 0 ? await factory.create(handle(tenant), route) : undefined;
    const params = created?.params ?? randomParams(route.path);

    const doc = route.surface === 'partner' ? docs.partner : docs.public;
    const entry = operationsOf(doc).find((o) => o.method === route.method && o.routePath === route.path);
    const declared = entry ? bodyOf(doc, entry.op) : undefined;
    const json = declared?.contentType === 'application/json' ? declared : undefined;
    const base = (factory ? bodyFor(factory, route) : undefined) ?? (json ? sampleValid(doc, json.schema) : undefined);
    const body = json ? aimedAt(doc, json.schema, base, victim.email, victim.id) : base;

    const res = await client.call(route.method, fill(route.path, params), { token: await tokenFor(route), ...(body !== undefined ? { body } : {}) });
    expect(res.status, `${label(route)} -> ${res.status} ${res.text}`).toBeLessThan(500);
    // The route that takes an email on purpose must really have been reached: the invitation exists, pending.
    const reached = label(route) !== 'POST /v1/invitations' || (res.status === 201 && (res.body as { email?: string; status?: string }).email === victim.email);
    expect(reached, `POST /v1/invitations made no pending invitation of the victim: ${res.text}`).toBe(true);
    expect(await membershipsOf(victim.id), `${label(route)} attached ${victim.email} (answered ${res.status})`).toEqual(before);
    expect(before).not.toContain(tenant.id);
  });
});

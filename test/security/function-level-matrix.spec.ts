import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { defineAbilityFor, definePlatformAbility, OPERATOR_ROLES, PARTNER_SCOPES, type OperatorRole, type PartnerScope } from '@benteng/authz';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import type { MembershipRole } from '@benteng/database';
import type { RouteAccess } from '../../apps/api/src/http/access.decorator.js';
import { JSON_MEDIA, mediaTypesByRoute } from '../../apps/api/src/http/media-types.js';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { buildApi, buildInternalApi } from '../support/api.js';
import { tag } from './support/controls.js';
import { ownerPool } from '../support/db.js';
import { ROLES, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { createPartnerClient, createPartnerKey, partnerCall } from '../support/partners.js';
import { signServiceRequest } from '@benteng/security';
import { arranged, oauthErrorOf, problemOf, PublicClient, testPassword } from '../support/public-api.js';
import { oauthErrorRoutes } from '../../apps/api/src/partner/oauth-error.filter.js';

/**
 * Function-level authorization, for every route the API serves: the list comes from the router's
 * own metadata (listRoutes), so a route added tomorrow is in this matrix without anyone editing it.
 *
 * For each authenticated route and each role, the expected answer comes from the CASL rules
 * (defineAbilityFor), the same source the AccessGuard consults: a role without the route's
 * permission gets exactly 403, audited as authz.denied; a role with it gets past the guard, so
 * neither 401 nor 403 (the random ids and empty bodies make 400/404 the usual answers).
 */
/**
 * Past the guard: success, or the handler's own answer to a random id or an empty body (415 from
 * upload routes, which take multipart/form-data, not the empty request sent here).
 */
const PAST_THE_GUARD = [200, 201, 204, 400, 404, 409, 415];

type JwtRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'public-jwt' }> };
type OpenRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'none' }> };
type PartnerRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'partner' }> };

const api = await buildApi();
const oauthRoutes = oauthErrorRoutes(api.app);
afterAll(() => api.close());
const routes = listRoutes(api.app);
const jwtRoutes = routes.filter((r): r is JwtRoute => r.access?.auth === 'public-jwt');
const openRoutes = routes.filter((r): r is OpenRoute => r.access?.auth === 'none');
const partnerRoutes = routes.filter((r): r is PartnerRoute => r.access?.auth === 'partner');

/**
 * Partner clients are tried with no scope, each scope alone, and every scope: the expected answer
 * comes from the partner CASL rules (defineAbilityFor with a partner principal), as AccessGuard's.
 */
const SCOPE_SETS: { name: string; scopes: PartnerScope[] }[] = [
  { name: 'no scope', scopes: [] },
  ...PARTNER_SCOPES.map((scope) => ({ name: scope, scopes: [scope] })),
  { name: 'every scope', scopes: [...PARTNER_SCOPES] },
];
const partnerMayCall = (route: PartnerRoute, tenantId: string, clientId: string, scopes: PartnerScope[]) =>
  defineAbilityFor(tenantId, { kind: 'partner', clientId, scopes, tier: 'standard' }).can(route.access.action, route.access.subject);

const label = (r: RouteEntry) => `${r.method} ${r.path}`;
/** Path parameters become random UUIDs: an id nobody has, well-formed for ParseUUIDPipe. */
const concretePath = (path: string) => path.replace(/:[A-Za-z0-9_]+/g, () => randomUUID());
/**
 * A minimal JSON body for methods that carry one, on routes that admit JSON. An upload route gets
 * none: a JSON body there is refused (415) by its media type before any guard runs, and its form is
 * read only after the guard, so an empty request reaches the guard as a form would.
 */
const admitted = mediaTypesByRoute(api.app);
const minimalBody = (route: RouteEntry) =>
  ['POST', 'PUT', 'PATCH'].includes(route.method) && (admitted.get(`${route.method} ${route.path}`) ?? [JSON_MEDIA]).includes(JSON_MEDIA) ? {} : undefined;
/** May a user of this role in this tenant perform the route's action on its subject at all? */
const mayCall = (route: JwtRoute, tenantId: string, userId: string, role: MembershipRole) =>
  defineAbilityFor(tenantId, { kind: 'user', userId, role }).can(route.access.action, route.access.subject);

describe(tag('AUTHZ-FUNCTION', 'function-level authorization matrix'), () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  let tenant: TestTenant;
  /** An access token whose session was ended by logout before any route is called with it. */
  let revokedToken: string;
  /** One partner client per scope set, each with an API key. */
  const partners = new Map<string, { clientId: string; key: string }>();
  /**
   * One session per role, shared by the cells (a login per cell costs a password hash each); a
   * cell calling an /v1/auth route (logout, logout-all, password change end sessions) drops it, so
   * the next cell logs in afresh.
   */
  const sessions = new Map<MembershipRole, string>();
  async function tokenOf(role: MembershipRole): Promise<string> {
    const cached = sessions.get(role);
    if (cached) return cached;
    const { accessToken } = await client.login(tenant.users[role].email, password);
    sessions.set(role, accessToken);
    return accessToken;
  }
  async function callAs(role: MembershipRole, route: JwtRoute) {
    const token = await tokenOf(role);
    if (route.path.startsWith('/v1/auth/')) sessions.delete(role);
    return client.call(route.method, concretePath(route.path), { token, body: minimalBody(route) });
  }

  beforeAll(async () => {
    tenant = await createTenantWithLogins(owner, 'matrix', password);
    const pair = await client.login(tenant.users.member.email, password);
    arranged(await client.call('POST', '/v1/auth/logout', { token: pair.accessToken }), 204, 'logout');
    revokedToken = pair.accessToken;
    for (const set of SCOPE_SETS) {
      const { clientId } = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: set.scopes, name: `matrix ${set.name}` });
      const { key } = await createPartnerKey(owner, tenant.id, clientId, tenant.users.owner.id);
      partners.set(set.name, { clientId, key });
    }
  });

  it('knows every auth kind the routes declare, so no route escapes the matrix', () => {
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.filter((r) => r.access?.auth !== 'public-jwt' && r.access?.auth !== 'none' && r.access?.auth !== 'partner').map(label)).toEqual([]);
    expect(jwtRoutes.length).toBeGreaterThan(0);
    expect(partnerRoutes.length).toBeGreaterThan(0);
  });

  it('has both allowed and denied cells (a matrix that only allows, or only denies, tests nothing)', () => {
    const cells = jwtRoutes.flatMap((r) => ROLES.map((role) => mayCall(r, randomUUID(), randomUUID(), role)));
    expect(cells).toContain(true);
    expect(cells).toContain(false);
  });

  describe.each(jwtRoutes.map((r) => [label(r), r] as const))('%s', (_, route) => {
    // Split at collection time: what a role may do to a subject type does not depend on the ids.
    // Each test checks that again with the real tenant and user.
    const allowedRoles = ROLES.filter((role) => mayCall(route, randomUUID(), randomUUID(), role));
    const deniedRoles = ROLES.filter((role) => !allowedRoles.includes(role));
    const permission = `${route.access.action} ${route.access.subject}`;

    for (const role of allowedRoles) {
      it(`${role} may ${permission}: gets past the guard (neither 401 nor 403)`, async () => {
        const user = tenant.users[role];
        expect(mayCall(route, tenant.id, user.id, role)).toBe(true);
        const res = await callAs(role, route);
        expect(PAST_THE_GUARD, `${role} ${label(route)} -> ${res.status} ${res.text}`).toContain(res.status);
      });
    }

    for (const role of deniedRoles) {
      it(`${role} may not ${permission}: exactly 403, audited as authz.denied`, async () => {
        const user = tenant.users[role];
        expect(mayCall(route, tenant.id, user.id, role)).toBe(false);
        const res = await callAs(role, route);
        expect(problemOf(res), `${res.text}`).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
        // The denial is in the tenant's audit log, tied to this very request.
        const { rows } = await owner.query(
          `SELECT actor, subject, outcome, data FROM audit_events WHERE tenant_id = $1 AND type = 'authz.denied' AND request_id = $2`,
          [tenant.id, String(res.headers['x-request-id'])],
        );
        expect(rows).toEqual([
          { actor: `user:${user.id}`, subject: `${route.access.action}:${route.access.subject}`, outcome: 'denied', data: { surface: 'public', route: label(route), role } },
        ]);
      });
    }

    it('without a token: 401 with a Bearer challenge', async () => {
      const res = await client.call(route.method, concretePath(route.path), { body: minimalBody(route) });
      expect(problemOf(res)).toMatchObject({ status: 401, problemJson: true });
      expect(res.headers['www-authenticate']).toBe('Bearer');
    });

    it('with a malformed token: 401', async () => {
      const res = await client.call(route.method, concretePath(route.path), { token: 'not-a-jwt', body: minimalBody(route) });
      expect(problemOf(res)).toMatchObject({ status: 401, problemJson: true });
    });

    it('with the token of a revoked session: 401', async () => {
      const res = await client.call(route.method, concretePath(route.path), { token: revokedToken, body: minimalBody(route) });
      expect(problemOf(res)).toMatchObject({ status: 401, problemJson: true });
    });

    it('with a partner API key holding every scope: 401 (a partner credential is not a /v1 credential)', async () => {
      const res = await client.call(route.method, concretePath(route.path), { token: partners.get('every scope')!.key, body: minimalBody(route) });
      expect(problemOf(res)).toMatchObject({ status: 401, problemJson: true });
    });
  });

  it('has both allowed and denied partner cells', () => {
    const cells = partnerRoutes.flatMap((r) => SCOPE_SETS.map((set) => partnerMayCall(r, randomUUID(), randomUUID(), set.scopes)));
    expect(cells).toContain(true);
    expect(cells).toContain(false);
  });

  describe.each(partnerRoutes.map((r) => [label(r), r] as const))(tag('AUTHZ-PARTNER-SCOPES', '%s'), (_, route) => {
    const allowed = SCOPE_SETS.filter((set) => partnerMayCall(route, randomUUID(), randomUUID(), set.scopes));
    const denied = SCOPE_SETS.filter((set) => !allowed.includes(set));
    const permission = `${route.access.action} ${route.access.subject}`;
    const call = (credential?: string) =>
      partnerCall(api, route.method.toLowerCase() as 'get' | 'post' | 'patch' | 'delete', concretePath(route.path), {
        ...(credential === undefined ? {} : { credential }),
        ...(minimalBody(route) ? { body: minimalBody(route)! } : {}),
      });

    for (const set of allowed) {
      it(`a client with ${set.name} may ${permission}: gets past the guard (neither 401 nor 403)`, async () => {
        const partner = partners.get(set.name)!;
        expect(partnerMayCall(route, tenant.id, partner.clientId, set.scopes)).toBe(true);
        const res = await call(partner.key);
        expect(PAST_THE_GUARD, `${set.name} ${label(route)} -> ${res.status} ${res.text}`).toContain(res.status);
      });
    }

    for (const set of denied) {
      it(`a client with ${set.name} may not ${permission}: exactly 403, audited as authz.denied`, async () => {
        const partner = partners.get(set.name)!;
        expect(partnerMayCall(route, tenant.id, partner.clientId, set.scopes)).toBe(false);
        const res = await call(partner.key);
        expect(problemOf(res), `${res.text}`).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
        const { rows } = await owner.query(
          `SELECT actor, subject, outcome, data FROM audit_events WHERE tenant_id = $1 AND type = 'authz.denied' AND request_id = $2`,
          [tenant.id, String(res.headers['x-request-id'])],
        );
        expect(rows).toEqual([
          {
            actor: `partner:${partner.clientId}`,
            subject: `${route.access.action}:${route.access.subject}`,
            outcome: 'denied',
            data: { surface: 'partner', route: label(route), scope: set.scopes.join(' ') },
          },
        ]);
      });
    }

    it('without a credential: 401', async () => {
      expect(problemOf(await call())).toMatchObject({ status: 401, problemJson: true });
    });

    it("with a tenant user's access token (owner): 401 (a /v1 token is not a partner credential)", async () => {
      expect(problemOf(await call(await tokenOf('owner')))).toMatchObject({ status: 401, problemJson: true });
    });
  });

  describe('routes declared public', () => {
    const named = (list: OpenRoute[]) => list.map((r) => [label(r), r] as const);
    // Login and refresh: the body is the credential, so an empty one fails validation, not authentication.
    const withBody = openRoutes.filter((r) => minimalBody(r) !== undefined);
    const plainGets = openRoutes.filter((r) => r.method === 'GET' && !r.path.includes(':'));

    it.each(named(openRoutes))('%s is reachable without a token', async (_, route) => {
      const res = await client.call(route.method, concretePath(route.path), { body: minimalBody(route) });
      expect([401, 403], `${label(route)} -> ${res.status}`).not.toContain(res.status);
      expect(res.status).toBeLessThan(500);
    });

    it.each(named(withBody))('%s answers an empty body with 400 (validation), not 401', async (_, route) => {
      const res = await client.call(route.method, concretePath(route.path), { body: {} });
      // The OAuth token endpoint answers in RFC 6749's format (invalid_request), every other route in problem+json.
      expect((oauthRoutes.has(`${route.method} ${route.path}`) ? oauthErrorOf : problemOf)(res)).toMatchObject({ status: 400, problemJson: true });
    });

    it.each(named(plainGets))('%s answers 200', async (_, route) => {
      const res = await client.call(route.method, route.path);
      expect(res.status, `${res.text}`).toBe(200);
    });
  });
});

/**
 * The internal listener's operator routes (listRoutes of InternalAppModule) × operator roles: each
 * role alone, and an operator whose roles were all withdrawn. The expected answer comes from the
 * platform rules (definePlatformAbility), as InternalAccessGuard's: a
 * role that may not call the route gets exactly 403, audited in the platform audit log as
 * internal.authz_denied; a role that may gets past the guard (neither 401 nor 403).
 */
type OperatorRoute = RouteEntry & { access: Extract<RouteAccess, { auth: 'internal-operator' }> };
const OPERATOR_ROLE_SETS: { name: string; roles: OperatorRole[] }[] = [{ name: 'no role', roles: [] }, ...OPERATOR_ROLES.map((role) => ({ name: role, roles: [role] }))];
const operatorMayCall = (route: OperatorRoute, roles: OperatorRole[]) =>
  definePlatformAbility({ kind: 'operator', operatorId: randomUUID(), roles, service: 'matrix' }).can(route.access.action, route.access.subject);

const internal = await buildInternalApi();
afterAll(() => internal.close());
const operatorRoutes = listRoutes(internal.app).filter((r): r is OperatorRoute => r.access?.auth === 'internal-operator');

describe(tag('AUTHZ-OPERATOR', 'function-level authorization matrix, internal routes × operator roles'), () => {
  const owner = ownerPool();
  const key = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const operators = new Map<string, string>();

  beforeAll(async () => {
    for (const set of OPERATOR_ROLE_SETS) {
      const id = randomUUID();
      await owner.query('INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, $3, $4)', [id, `matrix-${id}@benteng.example`, `matrix ${set.name}`, set.roles]);
      operators.set(set.name, id);
    }
  });

  /** A signed call as the operator, with a reason on state-changing methods and a minimal JSON body where one is carried. */
  async function call(route: OperatorRoute, operatorId: string) {
    const url = concretePath(route.path);
    const body = minimalBody(route) === undefined ? undefined : JSON.stringify(minimalBody(route));
    const reason = route.method === 'GET' || route.method === 'HEAD' ? undefined : 'function-level matrix';
    const headers = signServiceRequest({ method: route.method, url, keyId: key.kid, secret: key.secret, operatorId, ...(reason ? { reason } : {}), ...(body !== undefined ? { body } : {}) });
    const res = await internal.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: route.method as 'GET', url, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) }, ...(body !== undefined ? { payload: body } : {}) });
    return { status: res.statusCode, text: res.body, requestId: String(res.headers['x-request-id']) };
  }

  it('finds operator routes, with both allowed and denied cells', () => {
    expect(operatorRoutes.length).toBeGreaterThan(0);
    const cells = operatorRoutes.flatMap((r) => OPERATOR_ROLE_SETS.map((set) => operatorMayCall(r, set.roles)));
    expect(cells).toContain(true);
    expect(cells).toContain(false);
  });

  describe.each(operatorRoutes.map((r) => [label(r), r] as const))('%s', (_, route) => {
    const allowed = OPERATOR_ROLE_SETS.filter((set) => operatorMayCall(route, set.roles));
    const denied = OPERATOR_ROLE_SETS.filter((set) => !allowed.includes(set));
    const permission = `${route.access.action}:${route.access.subject}`;

    for (const set of allowed) {
      it(`an operator with ${set.name} may ${permission}: gets past the guard (neither 401 nor 403)`, async () => {
        const res = await call(route, operators.get(set.name)!);
        expect(PAST_THE_GUARD, `${set.name} ${label(route)} -> ${res.status} ${res.text}`).toContain(res.status);
      });
    }

    for (const set of denied) {
      it(`an operator with ${set.name} may not ${permission}: exactly 403, audited as internal.authz_denied`, async () => {
        const operatorId = operators.get(set.name)!;
        const res = await call(route, operatorId);
        expect(res.status, `${set.name} ${label(route)} -> ${res.status} ${res.text}`).toBe(403);
        const { rows } = await owner.query<{ actor: string; subject: string; outcome: string; cause: string }>(
          `SELECT actor, subject, outcome, data->>'cause' AS cause FROM platform_audit_events WHERE type = 'internal.authz_denied' AND request_id = $1`,
          [res.requestId],
        );
        expect(rows).toEqual([{ actor: `operator:${operatorId}`, subject: permission, outcome: 'denied', cause: 'ability' }]);
      });
    }
  });
});

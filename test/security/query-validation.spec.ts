import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { INVOICE_SORTS } from '@benteng/invoices';
import { signServiceRequest } from '@benteng/security';
import { CURSOR_FIELDS, decodeCursor, encodeCursor, PaginationError, type CursorField } from '../../apps/api/src/http/pagination.js';
import { listRoutes, type RouteEntry } from '../../apps/api/src/http/route-catalog.js';
import { oauthErrorRoutes } from '../../apps/api/src/partner/oauth-error.filter.js';
import { buildApi, buildInternalApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { paymentSucceeded } from '../support/payment-provider.js';
import { PublicClient, problemOf, setPasswords, testPassword, type ApiResponse } from '../support/public-api.js';
import { ANONYMOUS_ENV, fill, isDriven, label, makerOf, randomParams, routeFactories } from '../support/route-factories.js';
import { tag } from './support/controls.js';
import { answerViolations, craftedCursors } from './support/fuzz-schema.js';

/**
 * Generated invalid queries (issue 14), for every route the routers register on every surface
 * (/v1, /partner, the signed inbound webhook, the operations routes and, signed, the internal
 * listener), taken from the router's metadata (listRoutes): a route added tomorrow is probed the
 * day it is registered.
 * - An unknown query key is 400 problem+json on every route, whether it declares a query DTO (the
 *   ValidationPipe's whitelist) or none (UnexpectedBodyInterceptor): a route without query
 *   validation answered `GET /v1/partner-clients/:id/keys?foo=x&cursor=garbage` with 200.
 * - Every paged route (its query DTO has `cursor`) refuses every crafted cursor with 400
 *   `pagination.invalid_cursor`, never a 5xx: a null value or a date outside PostgreSQL's range
 *   was a 500 on all of them.
 * - The cursors the lists issue still walk every sort, NULLs and extreme dates included.
 */
const GENEROUS = [1_000_000, 60];
const RATE_LIMIT_POLICY = JSON.stringify(
  Object.fromEntries(
    ['anonymous', 'user', 'partner:free', 'partner:standard', 'partner:premium', 'operator'].map((c) => [c, { auth: GENEROUS, write: GENEROUS, read: GENEROUS, search: GENEROUS, export: GENEROUS }]),
  ),
);

const api = await buildApi({ env: { ...ANONYMOUS_ENV, RATE_LIMIT_POLICY } });
// The OAuth token endpoint answers RFC 6749 JSON errors (with the same `errors` pointers), not problem+json.
const oauthRoutes = oauthErrorRoutes(api.app);
const internal = await buildInternalApi({ env: { RATE_LIMIT_POLICY } });
afterAll(async () => {
  await api.close();
  await internal.close();
});

const routes = listRoutes(api.app);
const internalRoutes = listRoutes(internal.app);
const isPaged = (r: RouteEntry) => typeof r.query === 'object' && r.query !== null && r.query.params.includes('cursor');
const pagedRoutes = routes.filter(isPaged);
const UNKNOWN = 'unexpectedQueryKey';

describe(tag('INPUT-VALIDATION', 'generated invalid queries and cursors on every route'), () => {
  const owner = ownerPool();
  const client = new PublicClient(api);
  const password = testPassword();
  const { as, call } = routeFactories({ api, client, owner, password });
  let tenant: TestTenant;
  let ownerToken: string;
  const operatorId = randomUUID();
  const serviceKey = internalServiceKeys(loadConfig()).keys.get('derived')!;

  beforeAll(async () => {
    tenant = await createTenantWithLogins(owner, 'query', password);
    ownerToken = (await client.login(tenant.users.owner.email, password)).accessToken;
    await owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, 'Query operator', $3, 'active')`, [
      operatorId,
      `query-${operatorId}@benteng.example`,
      ['platform-admin', 'security', 'support'],
    ]);
  });

  /**
   * A credential of the route's most powerful caller. Session routes (logout-all ends every session
   * of its user) get a fresh session of another user, so a refusal that fails cannot log the owner out.
   */
  async function tokenFor(route: RouteEntry): Promise<string | undefined> {
    if (!isDriven(route)) return undefined;
    if (route.path.startsWith('/v1/auth/')) return (await client.login(tenant.users.member.email, password)).accessToken;
    if (route.surface === 'public') return ownerToken;
    return (await as(tenant, makerOf(route))).token;
  }

  /** The route called with `query` appended, as its caller (signed where the route is signed). */
  async function send(route: RouteEntry, query: string): Promise<ApiResponse> {
    const url = `${fill(route.path, randomParams(route.path))}?${query}`;
    if (route.surface === 'internal') {
      const headers = signServiceRequest({ method: route.method, url, keyId: serviceKey.kid, secret: serviceKey.secret, operatorId, reason: 'probing query validation' });
      const res = await internal.app.getHttpAdapter().getInstance().inject({ method: route.method as 'GET', url, headers, remoteAddress: client.ip });
      let body: unknown;
      try {
        body = res.body ? JSON.parse(res.body) : undefined;
      } catch {
        body = undefined;
      }
      return { status: res.statusCode, headers: res.headers, text: res.body, body };
    }
    // The signed webhook is reached only with a genuine signature over its body.
    const body = route.surface === 'inbound' ? paymentSucceeded(`acct_${randomBytes(6).toString('hex')}`, randomUUID(), '1000') : undefined;
    return call(route, url, { token: await tokenFor(route), ...(body ? { body } : {}) });
  }

  it('finds routes on every surface, paged routes on /v1 and /partner/v1, and no route reads its query unvalidated', () => {
    for (const surface of ['public', 'partner', 'inbound', 'ops'] as const) expect(routes.some((r) => r.surface === surface), `routes on the ${surface} surface`).toBe(true);
    expect(internalRoutes.length).toBeGreaterThan(0);
    expect(pagedRoutes.some((r) => r.path.startsWith('/v1/'))).toBe(true);
    expect(pagedRoutes.some((r) => r.path.startsWith('/partner/v1/'))).toBe(true);
    expect([...routes, ...internalRoutes].filter((r) => r.query === 'unvalidated').map(label)).toEqual([]);
  });

  it.each([...routes, ...internalRoutes].map((r) => [label(r), r] as const))('%s: an unknown query key is 400 problem+json naming it', async (_, route) => {
    const res = await send(route, `${UNKNOWN}=x`);
    expect(answerViolations(res, oauthRoutes.has(label(route)) ? 'oauth' : 'problem'), `${res.text}`).toEqual([]);
    expect(res.status, `${res.text.slice(0, 300)}`).toBe(400);
    expect((res.body as { errors?: { pointer: string }[] }).errors?.map((e) => e.pointer), `${res.text}`).toContain(`/${UNKNOWN}`);
  });

  it.each(pagedRoutes.map((r) => [label(r), r] as const))('%s: every crafted cursor is 400 pagination.invalid_cursor, never 5xx', async (_, route) => {
    const failures: string[] = [];
    const cases = [...craftedCursors(), { name: 'given twice', cursor: ['a', 'b'] }];
    for (const c of cases) {
      const query = Array.isArray(c.cursor) ? c.cursor.map((v) => `cursor=${v}`).join('&') : `cursor=${encodeURIComponent(c.cursor)}`;
      const res = await send(route, query);
      const violations = answerViolations(res);
      const problem = problemOf(res);
      if (problem.status !== 400 || problem.code !== 'pagination.invalid_cursor') violations.push(`expected 400 pagination.invalid_cursor, got ${problem.status} ${problem.code ?? ''}`);
      if (violations.length > 0) failures.push(`${c.name}: ${violations.join('; ')} — ${res.text.slice(0, 200)}`);
    }
    expect(failures).toEqual([]);
  });

  it('refuses U+0000 in a text sort value and a null on a required sort field, and accepts a null where the column holds NULLs', async () => {
    const cursorOf = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
    for (const url of ['/v1/invoices', '/partner/v1/invoices']) {
      const route = routes.find((r) => label(r) === `GET ${url}`)!;
      const token = await tokenFor(route);
      const get = (query: string) => client.call('GET', `${url}?${query}`, { token });
      expect(problemOf(await get(`sort=number&cursor=${cursorOf({ v: 'INV\u0000', id: randomUUID() })}`))).toMatchObject({ status: 400, code: 'pagination.invalid_cursor' });
      expect(problemOf(await get(`sort=-createdAt&cursor=${cursorOf({ v: null, id: randomUUID() })}`))).toMatchObject({ status: 400, code: 'pagination.invalid_cursor' });
      expect(problemOf(await get(`sort=dueDate&cursor=${cursorOf({ v: '2026-01-02T03:04:05.678Z', id: randomUUID() })}`)), 'a dueDate is a day').toMatchObject({ status: 400, code: 'pagination.invalid_cursor' });
      expect((await get(`sort=dueDate&cursor=${cursorOf({ v: null, id: randomUUID() })}`)).status, 'dueDate holds NULLs').toBe(200);
      // The whole range a cursor may name is inside PostgreSQL's: both ends are queries, not errors.
      for (const v of ['0001-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']) expect((await get(`sort=createdAt&cursor=${cursorOf({ v, id: randomUUID() })}`)).status, `${v}`).toBe(200);
    }
  });

  it('walks every invoice sort with the cursors the list issues, NULL due dates included, on /v1 and /partner/v1', async () => {
    const walker = await createTenant(owner, 'query-walk');
    await setPasswords(owner, [walker.users.owner.id], password);
    const token = (await client.login(walker.users.owner.email, password)).accessToken;
    const ids: string[] = [];
    for (const dueDate of ['2026-03-01', null, '2026-01-15', null]) {
      const body = { number: `WALK-${randomBytes(4).toString('hex')}`, customer: { name: 'PT Jalan' }, dueDate, lines: [{ description: 'Jasa', quantity: 1, unitPriceMinor: 100 }] };
      const res = await client.call('POST', '/v1/invoices', { token, body });
      expect(res.status, `${res.text}`).toBe(201);
      ids.push((res.body as { id: string }).id);
    }
    const partnerToken = (await as(walker, makerOf(routes.find((r) => label(r) === 'GET /partner/v1/invoices')!))).token;
    for (const [url, bearer] of [['/v1/invoices', token], ['/partner/v1/invoices', partnerToken]] as const) {
      for (const sort of INVOICE_SORTS) {
        const seen: string[] = [];
        let cursor: string | null = null;
        do {
          const res = await client.call('GET', `${url}?sort=${sort}&limit=1${cursor ? `&cursor=${cursor}` : ''}`, { token: bearer });
          expect(res.status, `${url} sort=${sort}: ${res.text}`).toBe(200);
          const page = res.body as { items: { id: string }[]; nextCursor: string | null };
          seen.push(...page.items.map((i) => i.id));
          cursor = page.nextCursor;
          if (seen.length > ids.length + 1) throw new Error(`${url} sort=${sort}: the walk does not end`);
        } while (cursor);
        expect(seen.sort(), `${url} sort=${sort}`).toEqual([...ids].sort());
      }
    }
  });

  it('decodes what it encodes for every sort field, and nothing else', () => {
    const id = randomUUID();
    const samples: Record<CursorField, unknown[]> = {
      createdAt: [new Date('2026-01-02T03:04:05.678Z')],
      updatedAt: [new Date(0)],
      blockedAt: [new Date('9999-12-31T23:59:59.999Z')],
      dueDate: [new Date('2026-02-28T00:00:00.000Z'), null],
      number: ['INV/2026-001', 'ü'],
    };
    for (const field of Object.keys(CURSOR_FIELDS) as CursorField[]) {
      for (const value of samples[field]) {
        const cursor = encodeCursor({ id, [field]: value } as { id: string }, field);
        expect(decodeCursor(cursor, field), `${field} ${String(value)}`).toEqual({ value, id });
      }
    }
    expect(() => decodeCursor(encodeCursor({ id, createdAt: null } as { id: string }, 'createdAt'), 'createdAt')).toThrow(PaginationError);
    for (const { name, cursor } of craftedCursors()) expect(() => decodeCursor(cursor, 'createdAt'), `${name}`).toThrow(PaginationError);
  });
});

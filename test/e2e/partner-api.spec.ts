import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import { DocumentsService } from '@benteng/documents';
import { TicketsService } from '@benteng/tickets';
import { buildApi, type BuildApiOptions, type TestApi } from '../support/api.js';
import { PROBLEM_JSON, SecretLedger, withoutRequestId } from '../support/auth-client.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { type Page, PublicClient, setPasswords, testPassword } from '../support/public-api.js';
import {
  createPartnerClient,
  createPartnerKey,
  partnerCall,
  partnerToken,
  requestPartnerToken,
  type PartnerClientSeed,
  type PartnerKeySeed,
  type TestPartnerClient,
  type TestPartnerKey,
} from '../support/partners.js';
import { tag } from '../security/support/controls.js';
import { deepNest as deep } from '../security/support/fuzz-schema.js';

/**
 * The partner surface (/partner/v1 and /partner/oauth/token), end to end over the real app: which
 * credentials get in (API keys and client-credentials tokens, in their environment, from their
 * addresses, while their client and tenant are in good standing), what their scopes let them do,
 * and what the responses let them see. Every refusal of a credential is the same 401 body.
 */

interface InvoiceBody {
  id: string;
  status: string;
  createdByThisClient: boolean;
  customer: Record<string, unknown>;
}
interface TicketBody {
  id: string;
  openedByThisClient: boolean;
}
interface DocumentBody {
  id: string;
  link: unknown;
}

const INVOICE_KEYS = ['createdAt', 'createdByThisClient', 'currency', 'customer', 'dueDate', 'id', 'issuedAt', 'lines', 'number', 'status', 'totalMinor', 'updatedAt', 'version'];
const TICKET_KEYS = ['body', 'createdAt', 'id', 'openedByThisClient', 'priority', 'status', 'subject', 'updatedAt', 'version'];
const DOCUMENT_KEYS = ['contentType', 'createdAt', 'fileName', 'id', 'link', 'sha256', 'size'];
const TOKEN_KEYS = ['access_token', 'expires_in', 'scope', 'token_type'];

const newInvoice = (number: string) => ({ number, customer: { name: 'PT Mitra', email: 'ap@mitra.example' }, lines: [{ description: 'Langganan', quantity: 3, unitPriceMinor: 250000 }] });
const invoiceNumber = () => `P-${randomUUID().slice(0, 8)}`;

/** What a refusal of a credential looks like, to compare refusals with each other. */
function refusal(res: request.Response): { status: number; problemJson: boolean; wwwAuthenticate: unknown; body: Record<string, unknown> } {
  return { status: res.status, problemJson: PROBLEM_JSON.test(String(res.headers['content-type'])), wwwAuthenticate: res.headers['www-authenticate'], body: withoutRequestId(res.body) };
}

describe('partner API', () => {
  const owner = ownerPool();
  let api: TestApi;
  let tenant: TestTenant;
  let other: TestTenant;
  /** The one 401 every refused partner credential gets, taken from a request with no credential at all. */
  let expectedRefusal: ReturnType<typeof refusal>;

  /** Every key, secret and token this file makes: none may ever reach a log line (last test). */
  const ledger = new SecretLedger();

  async function newClient(seed: PartnerClientSeed = {}, on: TestTenant = tenant): Promise<TestPartnerClient> {
    const client = await createPartnerClient(owner, on.id, on.users.owner.id, seed);
    ledger.add(client.clientSecret);
    return client;
  }
  async function newKey(client: TestPartnerClient, seed: PartnerKeySeed = {}, on: TestTenant = tenant): Promise<TestPartnerKey> {
    const key = await createPartnerKey(owner, on.id, client.clientId, on.users.owner.id, seed);
    ledger.add(key.key);
    return key;
  }
  const tokenRequest: typeof requestPartnerToken = async (...args) => {
    const res = await requestPartnerToken(...args);
    ledger.add((res.body as { access_token?: string }).access_token);
    return res;
  };
  const tokenFor = async (app: TestApi, client: TestPartnerClient, scope?: string): Promise<string> => {
    const token = await partnerToken(app, client, scope);
    ledger.add(token);
    return token;
  };
  const get = (path: string, credential?: string, headers?: Record<string, string>, on: TestApi = api) =>
    partnerCall(on, 'get', path, { ...(credential === undefined ? {} : { credential }), ...(headers ? { headers } : {}) });

  /**
   * Runs `work` against an app built with other options. Passport keeps one strategy per name in
   * the process, and each app registers its own on start, so the last app built authenticates for
   * every app; `api` is therefore rebuilt afterwards, to be the last again.
   */
  async function withApp(options: BuildApiOptions, work: (app: TestApi) => Promise<void>): Promise<void> {
    const app = ledger.watch(await buildApi(options));
    try {
      await work(app);
    } finally {
      await app.close();
      await api.close();
      api = ledger.watch(await buildApi());
    }
  }

  beforeAll(async () => {
    api = ledger.watch(await buildApi());
    tenant = await createTenant(owner, 'partner');
    other = await createTenant(owner, 'partner-other');
    expectedRefusal = refusal(await get('/partner/v1/invoices'));
  });
  afterAll(() => api.close());

  it('refuses a request without a credential with a 401 problem', () => {
    expect(expectedRefusal).toMatchObject({ status: 401, problemJson: true, wwwAuthenticate: 'Bearer', body: { status: 401, code: 'partner.unauthenticated' } });
  });

  describe(tag('AUTHN-PARTNER-CREDENTIALS', 'API keys'), () => {
    it('authenticate partner requests', async () => {
      const invoiceId = await insertInvoice(owner, tenant.id, { createdById: tenant.users.member.id });
      const key = await newKey(await newClient());
      const res = await get('/partner/v1/invoices?limit=100', key.key);
      expect(res.status).toBe(200);
      expect((res.body as Page<InvoiceBody>).items.map((i) => i.id)).toContain(invoiceId);
    });

    it('are refused with one 401 body for every reason: malformed, unknown, wrong secret, revoked, expired', async () => {
      const client = await newClient();
      const revoked = await newKey(client);
      const expired = await newKey(client);
      const valid = await newKey(client);
      expect((await get('/partner/v1/invoices', revoked.key)).status).toBe(200);
      expect((await get('/partner/v1/invoices', expired.key)).status).toBe(200);
      await owner.query('UPDATE partner_api_keys SET revoked_at = now() WHERE id = $1', [revoked.keyId]);
      await owner.query("UPDATE partner_api_keys SET expires_at = now() - interval '1 second' WHERE id = $1", [expired.keyId]);

      const wrongSecret = `${valid.key.slice(0, -1)}${valid.key.endsWith('A') ? 'B' : 'A'}`;
      const unknownPrefix = valid.key.replace(valid.prefix, 'a'.repeat(12));
      const attempts = { malformed: 'bt_test_nope', unknownPrefix, wrongSecret, revoked: revoked.key, expired: expired.key };
      for (const [reason, credential] of Object.entries(attempts)) {
        expect(refusal(await get('/partner/v1/invoices', credential)), `${reason}`).toEqual(expectedRefusal);
      }
      expect((await get('/partner/v1/invoices', valid.key)).status).toBe(200);
    });

    it('are refused on /v1 routes (another surface, another credential)', async () => {
      const key = await newKey(await newClient());
      for (const path of ['/v1/invoices', '/v1/me']) {
        const res = await get(path, key.key);
        expect({ path, status: res.status, code: (res.body as { code?: string }).code }).toEqual({ path, status: 401, code: 'auth.unauthenticated' });
      }
    });

    it('are not interchangeable with user tokens: a /v1 access token is refused on /partner/v1', async () => {
      const password = testPassword();
      ledger.add(password);
      await setPasswords(owner, [tenant.users.owner.id], password);
      const { accessToken } = await new PublicClient(api).login(tenant.users.owner.email, password);
      ledger.add(accessToken);
      expect((await get('/v1/invoices', accessToken)).status).toBe(200);
      expect(refusal(await get('/partner/v1/invoices', accessToken))).toEqual(expectedRefusal);
    });

    it("are refused when the key's environment differs from the deployment's", async () => {
      const testKey = await newKey(await newClient({ environment: 'test' }), { environment: 'test' });
      const liveKey = await newKey(await newClient({ environment: 'live' }), { environment: 'live' });
      expect([testKey.key, liveKey.key]).toEqual([expect.stringMatching(/^bt_test_/), expect.stringMatching(/^bt_live_/)]);
      // This deployment (NODE_ENV=test) accepts test keys only.
      expect((await get('/partner/v1/invoices', testKey.key)).status).toBe(200);
      expect(refusal(await get('/partner/v1/invoices', liveKey.key))).toEqual(expectedRefusal);
      await withApp({ env: { PARTNER_ENVIRONMENT: 'live' } }, async (live) => {
        expect((await get('/partner/v1/invoices', liveKey.key, undefined, live)).status).toBe(200);
        expect(refusal(await get('/partner/v1/invoices', testKey.key, undefined, live))).toEqual(expectedRefusal);
      });
    });

    it('keep working after rotation until their expires_at, and not after', async () => {
      const clock = new FakeClock();
      await withApp({ overrides: [{ token: Clock, value: clock }] }, async (clocked) => {
        const client = await newClient();
        const replacement = await newKey(client);
        const old = await newKey(client, { replacedById: replacement.keyId, expiresAt: new Date(clock.now().getTime() + 3600_000) });
        expect((await get('/partner/v1/invoices', old.key, undefined, clocked)).status).toBe(200);
        clock.advance(3599);
        expect((await get('/partner/v1/invoices', old.key, undefined, clocked)).status).toBe(200);
        clock.advance(1);
        expect(refusal(await get('/partner/v1/invoices', old.key, undefined, clocked))).toEqual(expectedRefusal);
        expect((await get('/partner/v1/invoices', replacement.key, undefined, clocked)).status).toBe(200);
      });
    });
  });

  describe(tag('AUTHN-PARTNER-CREDENTIALS', 'IP allowlists'), () => {
    it("refuse keys and tokens from outside the client's ranges (client address from a trusted proxy)", async () => {
      await withApp({ env: { TRUSTED_PROXIES: '127.0.0.1' } }, async (proxied) => {
        const client = await newClient({ ipAllowlist: ['203.0.113.0/24', '2001:db8:77::/48'] });
        const key = await newKey(client);
        // Token issuance honours the allowlist too: from 127.0.0.1 itself (no X-Forwarded-For) it is refused.
        expect((await tokenRequest(proxied, client)).status).toBe(401);
        const inside = await tokenRequest(proxied, client, { headers: { 'x-forwarded-for': '203.0.113.40' } });
        expect(inside.status).toBe(200);
        const accessToken = (inside.body as { access_token: string }).access_token;

        for (const credential of [key.key, accessToken]) {
          expect((await get('/partner/v1/invoices', credential, { 'x-forwarded-for': '203.0.113.9' }, proxied)).status).toBe(200);
          expect((await get('/partner/v1/invoices', credential, { 'x-forwarded-for': '2001:db8:77::5' }, proxied)).status).toBe(200);
          expect(refusal(await get('/partner/v1/invoices', credential, { 'x-forwarded-for': '198.51.100.7' }, proxied))).toEqual(expectedRefusal);
          expect(refusal(await get('/partner/v1/invoices', credential, { 'x-forwarded-for': '203.0.114.9' }, proxied))).toEqual(expectedRefusal);
        }
      });
    });

    it('ignore a spoofed X-Forwarded-For when no proxy is trusted: the socket peer is the client', async () => {
      const allowlisted = await newKey(await newClient({ ipAllowlist: ['203.0.113.0/24'] }));
      expect(refusal(await get('/partner/v1/invoices', allowlisted.key, { 'x-forwarded-for': '203.0.113.9' }))).toEqual(expectedRefusal);
      const loopback = await newKey(await newClient({ ipAllowlist: ['127.0.0.1/32', '::1/128'] }));
      expect((await get('/partner/v1/invoices', loopback.key, { 'x-forwarded-for': '198.51.100.7' })).status).toBe(200);
    });
  });

  describe(tag('AUTHN-PARTNER-CREDENTIALS', 'revocation on the next request'), () => {
    it('a suspended tenant refuses both its keys and its tokens', async () => {
      const suspended = await createTenant(owner, 'partner-suspended');
      const client = await newClient({}, suspended);
      const key = await newKey(client, {}, suspended);
      const token = await tokenFor(api, client);
      expect((await get('/partner/v1/invoices', key.key)).status).toBe(200);
      expect((await get('/partner/v1/invoices', token)).status).toBe(200);
      await owner.query("UPDATE tenants SET status = 'suspended' WHERE id = $1", [suspended.id]);
      expect(refusal(await get('/partner/v1/invoices', key.key))).toEqual(expectedRefusal);
      expect(refusal(await get('/partner/v1/invoices', token))).toEqual(expectedRefusal);
      expect((await tokenRequest(api, client)).status).toBe(401);
    });

    it('a revoked client refuses both its keys and its tokens', async () => {
      const client = await newClient();
      const key = await newKey(client);
      const token = await tokenFor(api, client);
      expect((await get('/partner/v1/tickets', key.key)).status).toBe(200);
      expect((await get('/partner/v1/tickets', token)).status).toBe(200);
      await owner.query('UPDATE partner_clients SET revoked_at = now() WHERE id = $1', [client.clientId]);
      expect(refusal(await get('/partner/v1/tickets', key.key))).toEqual(expectedRefusal);
      expect(refusal(await get('/partner/v1/tickets', token))).toEqual(expectedRefusal);
      expect((await tokenRequest(api, client)).status).toBe(401);
    });
  });

  describe('scopes', () => {
    it("a route outside the client's scopes is 403, audited as authz.denied", async () => {
      const client = await newClient({ scopes: ['tickets:write'] });
      const key = await newKey(client);
      const res = await get('/partner/v1/invoices', key.key);
      expect({ status: res.status, problemJson: PROBLEM_JSON.test(String(res.headers['content-type'])), code: (res.body as { code?: string }).code }).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      const { rows } = await owner.query<{ actor: string; subject: string; outcome: string }>(
        `SELECT actor, subject, outcome FROM audit_events WHERE tenant_id = $1 AND type = 'authz.denied' AND request_id = $2`,
        [tenant.id, res.headers['x-request-id']],
      );
      expect(rows).toEqual([{ actor: `partner:${client.clientId}`, subject: 'read:Invoice', outcome: 'denied' }]);
      // The scope it has works.
      const opened = await partnerCall(api, 'post', '/partner/v1/tickets', { credential: key.key, body: { subject: 'Integrasi', body: 'Webhook gagal' } });
      expect(opened.status).toBe(201);
    });
  });

  describe(tag('AUTHN-PARTNER-CREDENTIALS', 'client credentials (POST /partner/oauth/token)'), () => {
    it('issues a bearer token (form body, HTTP Basic) that works on /partner/v1 and is refused on /v1', async () => {
      const client = await newClient({ scopes: ['invoices:read', 'tickets:read'] });
      const res = await tokenRequest(api, client);
      expect(res.status).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers['pragma']).toBe('no-cache');
      expect(Object.keys(res.body as object).sort()).toEqual(TOKEN_KEYS);
      const body = res.body as { access_token: string; token_type: string; scope: string; expires_in: number };
      expect(body.token_type).toBe('Bearer');
      expect(body.scope.split(' ').sort()).toEqual(['invoices:read', 'tickets:read']);

      expect((await get('/partner/v1/invoices', body.access_token)).status).toBe(200);
      for (const path of ['/v1/invoices', '/v1/me']) {
        const refused = await get(path, body.access_token);
        expect({ path, status: refused.status }).toEqual({ path, status: 401 });
      }
    });

    it('accepts the credentials in the body too (client_secret_post), as a form or as JSON', async () => {
      const client = await newClient();
      for (const style of ['post', 'json'] as const) {
        const res = await tokenRequest(api, client, { style });
        expect({ style, status: res.status }).toEqual({ style, status: 200 });
        expect((await get('/partner/v1/invoices', (res.body as { access_token: string }).access_token)).status).toBe(200);
      }
    });

    it('refuses two client authentication methods in one request: invalid_request', async () => {
      const client = await newClient();
      const res = await tokenRequest(api, client, { extra: { client_secret: client.clientSecret } });
      expect({ status: res.status, error: (res.body as { error?: string }).error }).toEqual({ status: 400, error: 'invalid_request' });
    });

    it("grants at most the client's scopes: more is invalid_scope, less is honoured", async () => {
      const client = await newClient({ scopes: ['invoices:read', 'tickets:read'] });
      const wider = await tokenRequest(api, client, { scope: 'invoices:read invoices:write' });
      // RFC 6749 5.2 JSON, which OAuth client libraries read (test/e2e/partner-oauth-client.spec.ts), not problem+json.
      expect({ status: wider.status, body: wider.body, contentType: wider.headers['content-type'] }).toEqual({
        status: 400,
        body: { error: 'invalid_scope', error_description: 'The requested scope exceeds the scopes granted to the client.', code: 'oauth.invalid_scope' },
        contentType: 'application/json;charset=UTF-8',
      });

      const narrow = await tokenRequest(api, client, { scope: 'invoices:read' });
      expect(narrow.status).toBe(200);
      const token = (narrow.body as { access_token: string; scope: string }).access_token;
      expect((narrow.body as { scope: string }).scope).toBe('invoices:read');
      expect(decodeJwt(token)['scope']).toBe('invoices:read');
      expect((await get('/partner/v1/invoices', token)).status).toBe(200);
      expect((await get('/partner/v1/tickets', token)).status).toBe(403);

      const all = await tokenRequest(api, client);
      const granted = String(decodeJwt((all.body as { access_token: string }).access_token)['scope']).split(' ');
      expect(granted.every((s) => ['invoices:read', 'tickets:read'].includes(s))).toBe(true);
    });

    it("drops a scope removed from the client on the token's next request", async () => {
      const client = await newClient({ scopes: ['invoices:read', 'tickets:read'] });
      const token = await tokenFor(api, client);
      expect((await get('/partner/v1/invoices', token)).status).toBe(200);
      await owner.query("UPDATE partner_clients SET scopes = '{tickets:read}' WHERE id = $1", [client.clientId]);
      expect((await get('/partner/v1/invoices', token)).status).toBe(403);
      expect((await get('/partner/v1/tickets', token)).status).toBe(200);
    });

    it('refuses a wrong secret and an unknown client alike: 401 invalid_client with WWW-Authenticate Basic', async () => {
      const client = await newClient();
      const another = await newClient();
      const wrong = await tokenRequest(api, { clientId: client.clientId, clientSecret: another.clientSecret });
      const unknown = await tokenRequest(api, { clientId: randomUUID(), clientSecret: client.clientSecret });
      const wrongPost = await tokenRequest(api, { clientId: client.clientId, clientSecret: another.clientSecret }, { style: 'post' });
      for (const res of [wrong, unknown, wrongPost]) {
        expect(res.status).toBe(401);
        expect(res.headers['www-authenticate']).toMatch(/^Basic /);
        expect(res.headers['cache-control']).toBe('no-store');
        expect(withoutRequestId(res.body)).toEqual(withoutRequestId(wrong.body));
      }
      expect(wrong.body).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed.', code: 'oauth.invalid_client' });
      expect(wrong.headers['www-authenticate']).toBe('Basic realm="benteng-partner"');
      expect(wrong.headers['content-type']).toBe('application/json;charset=UTF-8');
    });

    it('issues tokens for the partner audience that live at most 600 s', async () => {
      const res = await tokenRequest(api, await newClient());
      const body = res.body as { access_token: string; expires_in: number };
      const claims = decodeJwt(body.access_token);
      expect(claims.aud).toBe('benteng-partner');
      expect(claims.exp! - claims.iat!).toBeLessThanOrEqual(600);
      expect(claims.exp! - claims.iat!).toBe(body.expires_in);
      expect(body.expires_in).toBeGreaterThan(0);
    });

    it('refuses other grants, repeated and missing parameters', async () => {
      const client = await newClient();
      const password = await tokenRequest(api, client, { extra: { grant_type: 'password' } });
      expect({ status: password.status, error: (password.body as { error?: string }).error }).toEqual({ status: 400, error: 'unsupported_grant_type' });
      // RFC 6749 3.2: a parameter must not be included more than once (it arrives as an array).
      const basic = Buffer.from(`${client.clientId}:${client.clientSecret}`).toString('base64');
      const repeated = await request(api.app.getHttpServer()).post('/partner/oauth/token').set('authorization', `Basic ${basic}`).type('form').send('grant_type=client_credentials&scope=invoices:read&scope=invoices:read');
      expect({ status: repeated.status, body: repeated.body }).toMatchObject({ status: 400, body: { error: 'invalid_request', errors: [{ pointer: '/scope' }] } });
      const none = await partnerCall(api, 'post', '/partner/oauth/token', { body: { client_id: client.clientId, client_secret: client.clientSecret } });
      expect({ status: none.status, error: (none.body as { error?: string }).error }).toEqual({ status: 400, error: 'invalid_request' });
    });
  });

  describe(tag('INPUT-VALIDATION', 'the token endpoint ignores unrecognized parameters (RFC 6749 3.2) and stays strict on its own'), () => {
    it('issues the token to a request with parameters it does not know (RFC 8707 resource, audience), as a form or as JSON, and never echoes them', async () => {
      const client = await newClient({ scopes: ['invoices:read'] });
      const marker = `ignored-${randomUUID()}`;
      const extra = { resource: `https://${marker}.example/`, audience: marker };
      for (const style of ['basic', 'post', 'json'] as const) {
        const res = await tokenRequest(api, client, { style, extra });
        expect({ style, status: res.status }).toEqual({ style, status: 200 });
        expect(Object.keys(res.body as object).sort()).toEqual(TOKEN_KEYS);
        expect(res.text).not.toContain(marker);
        const token = (res.body as { access_token: string }).access_token;
        // The token is the one a request without them gets: same audience, same scope.
        expect(decodeJwt(token)).toMatchObject({ aud: 'benteng-partner', scope: 'invoices:read' });
        expect(JSON.stringify(decodeJwt(token))).not.toContain(marker);
        expect((await get('/partner/v1/invoices', token)).status).toBe(200);
      }
    });

    it('still refuses, in RFC 6749 JSON, what breaks a known parameter or the structure of the body, unknown parameters included', async () => {
      const client = await newClient();
      const post = { grant_type: 'client_credentials', client_id: client.clientId, client_secret: client.clientSecret };
      const cases: Record<string, { body: object; pointer: string; rule: string }> = {
        'a known parameter of the wrong type': { body: { ...post, scope: 42 }, pointer: '/scope', rule: 'isString' },
        'a known parameter of a bad syntax': { body: { ...post, scope: 'invoices:read  x' }, pointer: '/scope', rule: 'matches' },
        'an unknown parameter with a lone surrogate': { body: { ...post, resource: 'x\ud800' }, pointer: '/resource', rule: 'isWellFormedUnicode' },
        'an unknown parameter nested too deep': { body: { ...post, resource: deep(40) }, pointer: '', rule: 'maxDepth' },
        'a prototype key': { body: { ...post, prototype: { polluted: true } }, pointer: '/prototype', rule: 'whitelistValidation' },
      };
      for (const [name, { body, pointer, rule }] of Object.entries(cases)) {
        const res = await partnerCall(api, 'post', '/partner/oauth/token', { body });
        const errors = (res.body as { errors?: { pointer: string; rules: string[] }[] }).errors ?? [];
        expect({ name, status: res.status, error: (res.body as { error?: string }).error, type: res.headers['content-type'] }).toEqual({ name, status: 400, error: 'invalid_request', type: 'application/json;charset=UTF-8' });
        expect(errors.some((e) => e.pointer.startsWith(pointer) && e.rules.includes(rule)), `${name}: ${res.text}`).toBe(true);
        expect(res.text).not.toContain('polluted');
      }
    });
  });

  describe('data', () => {
    it('creates draft invoices recorded as created by the client, never by a user (idempotent)', async () => {
      const client = await newClient({ scopes: ['invoices:read', 'invoices:write'] });
      const key = await newKey(client);
      const body = newInvoice(invoiceNumber());
      const res = await partnerCall(api, 'post', '/partner/v1/invoices', { credential: key.key, body, headers: { 'idempotency-key': 'create-1' } });
      expect(res.status).toBe(201);
      const invoice = res.body as InvoiceBody & { totalMinor: string };
      expect(Object.keys(invoice).sort()).toEqual(INVOICE_KEYS);
      expect(invoice).toMatchObject({ status: 'draft', createdByThisClient: true, totalMinor: '750000' });
      expect(res.headers['location']).toBe(`/partner/v1/invoices/${invoice.id}`);
      expect(res.headers['etag']).toBe('"1"');

      const { rows } = await owner.query('SELECT status, created_by_id, created_by_client_id FROM invoices WHERE tenant_id = $1 AND id = $2', [tenant.id, invoice.id]);
      expect(rows).toEqual([{ status: 'draft', created_by_id: null, created_by_client_id: client.clientId }]);

      const replay = await partnerCall(api, 'post', '/partner/v1/invoices', { credential: key.key, body, headers: { 'idempotency-key': 'create-1' } });
      expect({ status: replay.status, replayed: replay.headers['idempotent-replayed'], id: (replay.body as InvoiceBody).id }).toEqual({ status: 201, replayed: 'true', id: invoice.id });
      expect((await get(res.headers['location'] as string, key.key)).status).toBe(200);

      // Status and creator are not the client's to choose.
      const forged = await partnerCall(api, 'post', '/partner/v1/invoices', { credential: key.key, body: { ...newInvoice(invoiceNumber()), status: 'paid', createdById: tenant.users.owner.id } });
      expect(forged.status).toBe(400);
    });

    it('shows a client only the tickets it opened: another client of the same tenant gets 404', async () => {
      const a = await newKey(await newClient({ scopes: ['tickets:read', 'tickets:write'] }));
      const b = await newKey(await newClient({ scopes: ['tickets:read', 'tickets:write'] }));
      const opened = await partnerCall(api, 'post', '/partner/v1/tickets', { credential: a.key, body: { subject: 'Sinkronisasi', body: 'Data stok tidak cocok', priority: 'high' } });
      expect(opened.status).toBe(201);
      const ticket = opened.body as TicketBody;
      expect(Object.keys(ticket).sort()).toEqual(TICKET_KEYS);
      expect(ticket.openedByThisClient).toBe(true);
      expect(opened.headers['location']).toBe(`/partner/v1/tickets/${ticket.id}`);
      const userTicket = await api.app.get(TicketsService).open(tenant.scope('member'), { subject: 'Internal', body: 'Only for staff' });

      expect((await get(`/partner/v1/tickets/${ticket.id}`, a.key)).status).toBe(200);
      const missing = await get(`/partner/v1/tickets/${randomUUID()}`, b.key);
      const hidden = await get(`/partner/v1/tickets/${ticket.id}`, b.key);
      expect(hidden.status).toBe(404);
      expect(withoutRequestId(hidden.body)).toEqual(withoutRequestId(missing.body));
      expect((await get(`/partner/v1/tickets/${userTicket.id}`, a.key)).status).toBe(404);

      const listA = (await get('/partner/v1/tickets?limit=100', a.key)).body as Page<TicketBody>;
      const listB = (await get('/partner/v1/tickets?limit=100', b.key)).body as Page<TicketBody>;
      expect(listA.items.map((t) => t.id)).toEqual([ticket.id]);
      expect(listB.items).toEqual([]);
    });

    it("answers another tenant's invoice as missing (404, same body as an id nobody has)", async () => {
      const foreign = await insertInvoice(owner, other.id, { createdById: other.users.owner.id });
      const key = await newKey(await newClient());
      const res = await get(`/partner/v1/invoices/${foreign}`, key.key);
      const missing = await get(`/partner/v1/invoices/${randomUUID()}`, key.key);
      expect(res.status).toBe(404);
      expect(withoutRequestId(res.body)).toEqual(withoutRequestId(missing.body));
      const list = (await get('/partner/v1/invoices?limit=100', key.key)).body as Page<InvoiceBody>;
      expect(list.items.map((i) => i.id)).not.toContain(foreign);
    });

    it("serves documents and their content, except attachments of tickets the client did not open", async () => {
      const key = await newKey(await newClient({ scopes: ['documents:read'] }));
      const documents = api.app.get(DocumentsService);
      const content = Buffer.from('nomor,total\nINV-1,150000\n', 'utf8');
      const open = await documents.upload(tenant.scope('owner'), { fileName: 'rekap.csv', content });
      const userTicket = await api.app.get(TicketsService).open(tenant.scope('member'), { subject: 'Lampiran', body: 'Internal' });
      const attached = await documents.upload(tenant.scope('member'), { fileName: 'internal.txt', content: Buffer.from('rahasia\n'), ticketId: userTicket.id });

      const list = (await get('/partner/v1/documents?limit=100', key.key)).body as Page<DocumentBody>;
      expect(list.items.map((d) => d.id)).toContain(open.id);
      expect(list.items.map((d) => d.id)).not.toContain(attached.id);
      const one = await get(`/partner/v1/documents/${open.id}`, key.key);
      expect(one.status).toBe(200);
      expect(Object.keys(one.body as object).sort()).toEqual(DOCUMENT_KEYS);

      const download = await get(`/partner/v1/documents/${open.id}/content`, key.key);
      expect(download.status).toBe(200);
      expect(download.headers['content-type']).toBe('text/csv; charset=utf-8');
      expect(download.headers['content-disposition']).toMatch(/^attachment; /);
      expect(download.headers['x-content-type-options']).toBe('nosniff');
      expect(download.headers['cache-control']).toBe('private, no-store');
      expect(download.text).toBe(content.toString('utf8'));

      expect((await get(`/partner/v1/documents/${attached.id}`, key.key)).status).toBe(404);
      expect((await get(`/partner/v1/documents/${attached.id}/content`, key.key)).status).toBe(404);
    });

    it('never returns user ids, customer tax ids or credentials', async () => {
      const fresh = await createTenant(owner, 'partner-exposure');
      const client = await newClient({}, fresh);
      const key = await newKey(client, {}, fresh);
      const userInvoice = await insertInvoice(owner, fresh.id, { createdById: fresh.users.admin.id });
      await owner.query("UPDATE invoices SET customer_tax_id = '01.234.567.8-901.000' WHERE tenant_id = $1 AND id = $2", [fresh.id, userInvoice]);
      const document = await api.app.get(DocumentsService).upload(fresh.scope('admin'), { fileName: 'catatan.txt', content: Buffer.from('halo\n') });

      const created = await partnerCall(api, 'post', '/partner/v1/invoices', { credential: key.key, body: newInvoice(invoiceNumber()) });
      const ticket = await partnerCall(api, 'post', '/partner/v1/tickets', { credential: key.key, body: { subject: 'Integrasi', body: 'Pertanyaan' } });
      const responses: Record<string, request.Response> = {
        'POST invoices': created,
        'POST tickets': ticket,
        'GET invoices': await get('/partner/v1/invoices?limit=100', key.key),
        "GET a user's invoice": await get(`/partner/v1/invoices/${userInvoice}`, key.key),
        'GET tickets': await get('/partner/v1/tickets?limit=100', key.key),
        'GET ticket': await get(`/partner/v1/tickets/${(ticket.body as TicketBody).id}`, key.key),
        'GET documents': await get('/partner/v1/documents?limit=100', key.key),
        "GET a user's document": await get(`/partner/v1/documents/${document.id}`, key.key),
      };
      expect(Object.values(responses).map((r) => r.status)).toEqual([201, 201, 200, 200, 200, 200, 200, 200]);

      const usersInvoice = responses["GET a user's invoice"]!.body as InvoiceBody;
      expect(usersInvoice.createdByThisClient).toBe(false);
      expect(Object.keys(usersInvoice.customer).sort()).toEqual(['email', 'name']);

      const userIds = Object.values(fresh.users).map((u) => u.id);
      const secrets = [key.key, client.clientSecret, fresh.id];
      for (const [label, res] of Object.entries(responses)) {
        expect(userIds.filter((id) => res.text.includes(id)), `${label}`).toEqual([]);
        expect(secrets.filter((s) => res.text.includes(s)), `${label}`).toEqual([]);
        expect(res.text, `${label}`).not.toMatch(/taxId|01\.234|createdByMe|openedByMe|assignee|uploadedBy|tenantId|createdById|storageKey|secret|hash/i);
      }
    });
  });

  it('writes no key, client secret or token to the logs', () => {
    expect(ledger.counts.secrets).toBeGreaterThan(40);
    expect(ledger.counts.logLines).toBeGreaterThan(0);
    expect(ledger.leaks()).toEqual([]);
  });
});

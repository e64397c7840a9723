import { randomBytes, randomUUID } from 'node:crypto';
import * as oauth from 'oauth4webapi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PARTNER_SCOPES } from '@benteng/authz';
import { AbuseDetector } from '@benteng/security';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient, type TestPartnerClient } from '../support/partners.js';
import { tag } from '../security/support/controls.js';
import { freePort } from '../support/net.js';

/**
 * The partner token endpoint as a real OAuth 2.0 client library sees it: oauth4webapi (the library
 * under openid-client), over HTTP against the app listening on 127.0.0.1. Discovery through RFC 8414
 * metadata, both client authentication methods the metadata announces, and every refusal read by the
 * library itself: a ResponseBodyError with the RFC 6749 5.2 `error`, or, for a 401, the library's
 * WWWAuthenticateChallengeError (a Basic challenge) whose body carries `invalid_client`.
 */

/**
 * Every request comes from its own documentation address (X-Forwarded-For from the trusted
 * 127.0.0.1): this file's tight token-endpoint limit then counts only its own requests, and the
 * block placed below hits no other test file.
 */
const address = () => `2001:db8:${randomBytes(2).toString('hex')}:${randomBytes(2).toString('hex')}::1`;
const from = (ip = address()) => ({ 'x-forwarded-for': ip });

const AUTH_LIMIT = 3;

describe(tag('AUTHN-PARTNER-CREDENTIALS', 'OAuth 2.0 client library (oauth4webapi) against the partner token endpoint'), () => {
  const owner = ownerPool();
  let api: TestApi;
  let base: string;
  let issuer: URL;
  let tenant: TestTenant;
  let readOnly: TestPartnerClient;
  let as: oauth.AuthorizationServer;
  const insecure = { [oauth.allowInsecureRequests]: true } as const;

  beforeAll(async () => {
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    issuer = new URL(base);
    api = await buildApi({
      env: {
        PUBLIC_BASE_URL: base,
        TRUSTED_PROXIES: '127.0.0.1',
        RATE_LIMIT_POLICY: JSON.stringify({ anonymous: { auth: [AUTH_LIMIT, 60], write: [1_000_000, 60], read: [1_000_000, 60], search: [1_000_000, 60], export: [1_000_000, 60] } }),
      },
    });
    await api.app.listen(port, '127.0.0.1');
    tenant = await createTenant(owner, 'oauth-client');
    readOnly = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'] });
    as = await oauth.processDiscoveryResponse(issuer, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure, headers: from() }));
  });
  afterAll(() => api?.close());

  /** What the library throws for a token request, or undefined when it succeeded. */
  async function refusalOf(run: () => Promise<unknown>): Promise<unknown> {
    try {
      await run();
    } catch (error) {
      return error;
    }
    return undefined;
  }

  const grant = (client: TestPartnerClient, auth: oauth.ClientAuth, parameters: Record<string, string> | URLSearchParams = {}, ip = address()) =>
    oauth.clientCredentialsGrantRequest(as, { client_id: client.clientId }, auth, parameters, { ...insecure, headers: from(ip) });

  it('discovers the token endpoint through RFC 8414 metadata whose issuer is PUBLIC_BASE_URL', async () => {
    expect(as).toMatchObject({
      issuer: base,
      token_endpoint: `${base}/partner/oauth/token`,
      jwks_uri: `${base}/.well-known/jwks.json`,
      token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      grant_types_supported: ['client_credentials'],
      response_types_supported: [],
    });
    expect([...(as.scopes_supported ?? [])].sort()).toEqual([...PARTNER_SCOPES].sort());
    // Public and cacheable: no credential, no per-caller content; the URLs come from configuration.
    const res = await fetch(`${base}/.well-known/oauth-authorization-server`, { headers: { ...from(), host: 'attacker.example' } });
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as { issuer: string }).issuer).toBe(base);
    // The library refuses metadata of another issuer, so the issuer check is real.
    const elsewhere = new URL('http://localhost:1/');
    const mismatch = await refusalOf(async () => oauth.processDiscoveryResponse(elsewhere, await oauth.discoveryRequest(issuer, { algorithm: 'oauth2', ...insecure, headers: from() })));
    expect(mismatch).toBeInstanceOf(oauth.OperationProcessingError);
  });

  it.each([
    ['client_secret_basic', (secret: string) => oauth.ClientSecretBasic(secret)],
    ['client_secret_post', (secret: string) => oauth.ClientSecretPost(secret)],
  ])('gets a token with %s, and the token reads /partner/v1', async (_method, auth) => {
    const response = await grant(readOnly, auth(readOnly.clientSecret));
    const token = await oauth.processClientCredentialsResponse(as, { client_id: readOnly.clientId }, response);
    expect(token.token_type).toBe('bearer');
    expect(token.scope).toBe('invoices:read');
    expect(token.expires_in).toBeGreaterThan(0);
    const invoices = await fetch(`${base}/partner/v1/invoices`, { headers: { authorization: `Bearer ${token.access_token}` } });
    expect(invoices.status).toBe(200);
  });

  it('gets a token when the library sends parameters the endpoint does not know (RFC 8707 resource, audience): ignored, as RFC 6749 3.2 requires', async () => {
    // For the client credentials grant, oauth4webapi sends extra parameters as its `parameters`
    // argument (the other grants' `additionalParameters` option); `resource` may repeat (RFC 8707 2).
    const extra = new URLSearchParams([
      ['scope', 'invoices:read'],
      ['resource', `${base}/partner/v1/`],
      ['resource', 'https://other.example/'],
      ['audience', 'benteng-partner'],
    ]);
    for (const auth of [oauth.ClientSecretBasic(readOnly.clientSecret), oauth.ClientSecretPost(readOnly.clientSecret)]) {
      const response = await grant(readOnly, auth, extra);
      expect(response.status).toBe(200);
      const token = await oauth.processClientCredentialsResponse(as, { client_id: readOnly.clientId }, response);
      expect({ type: token.token_type, scope: token.scope }).toEqual({ type: 'bearer', scope: 'invoices:read' });
      expect(JSON.stringify(token)).not.toContain('other.example');
      const invoices = await fetch(`${base}/partner/v1/invoices`, { headers: { authorization: `Bearer ${token.access_token}` } });
      expect(invoices.status).toBe(200);
    }
  });

  /** A 401 as the library reads it: the Basic challenge, and the RFC 6749 body behind it. */
  async function challengeOf(error: unknown): Promise<{ status: number; challenge: unknown; error: unknown; contentType: string | null }> {
    expect(error).toBeInstanceOf(oauth.WWWAuthenticateChallengeError);
    const challenge = error as oauth.WWWAuthenticateChallengeError;
    return { status: challenge.status, challenge: challenge.cause, error: ((await challenge.response.json()) as { error?: unknown }).error, contentType: challenge.response.headers.get('content-type') };
  }

  const INVALID_CLIENT = { status: 401, challenge: [{ scheme: 'basic', parameters: { realm: 'benteng-partner' } }], error: 'invalid_client', contentType: 'application/json;charset=UTF-8' };

  it('reads a wrong secret and an unknown client as invalid_client (401, Basic challenge), with either authentication method', async () => {
    const other = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'] });
    const unknown = { clientId: randomUUID(), clientSecret: readOnly.clientSecret };
    const attempts = {
      'wrong secret, Basic': () => grant(readOnly, oauth.ClientSecretBasic(other.clientSecret)),
      'wrong secret, post': () => grant(readOnly, oauth.ClientSecretPost(other.clientSecret)),
      'unknown client, Basic': () => grant(unknown, oauth.ClientSecretBasic(unknown.clientSecret)),
      'unknown client, post': () => grant(unknown, oauth.ClientSecretPost(unknown.clientSecret)),
    };
    for (const [name, attempt] of Object.entries(attempts)) {
      const error = await refusalOf(async () => oauth.processClientCredentialsResponse(as, { client_id: readOnly.clientId }, await attempt()));
      expect({ name, ...(await challengeOf(error)) }).toEqual({ name, ...INVALID_CLIENT });
    }
  });

  it('reads every other refusal as a ResponseBodyError with its RFC 6749 error code', async () => {
    const basic = oauth.ClientSecretBasic(readOnly.clientSecret);
    const client = { client_id: readOnly.clientId };
    const cases: Record<string, { run: () => Promise<Response>; status: number; error: string }> = {
      // More than the client holds.
      'scope beyond the client': { run: () => grant(readOnly, basic, { scope: 'invoices:read invoices:write' }), status: 400, error: 'invalid_scope' },
      // Another grant, through the library's generic grant request.
      'password grant': { run: () => oauth.genericTokenEndpointRequest(as, client, basic, 'password', {}, { ...insecure, headers: from() }), status: 400, error: 'unsupported_grant_type' },
      // RFC 6749 3.2: a parameter must not be sent twice.
      'repeated parameter': { run: () => grant(readOnly, basic, new URLSearchParams([['scope', 'invoices:read'], ['scope', 'invoices:read']])), status: 400, error: 'invalid_request' },
      // Both authentication methods in one request (RFC 6749 2.3).
      'two authentication methods': { run: () => grant(readOnly, basic, { client_secret: readOnly.clientSecret }), status: 400, error: 'invalid_request' },
      // No grant_type at all (the library always sends one: a plain request, read by the library).
      'no grant_type': {
        run: () => fetch(as.token_endpoint!, { method: 'POST', headers: { ...from(), 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ client_id: readOnly.clientId, client_secret: readOnly.clientSecret }) }),
        status: 400,
        error: 'invalid_request',
      },
      // Refused before the handler (by the listener's media-type check), still in the endpoint's format.
      'text/plain body': { run: () => fetch(as.token_endpoint!, { method: 'POST', headers: { ...from(), 'content-type': 'text/plain' }, body: 'grant_type=client_credentials' }), status: 415, error: 'invalid_request' },
      'malformed JSON body': { run: () => fetch(as.token_endpoint!, { method: 'POST', headers: { ...from(), 'content-type': 'application/json' }, body: '{"grant_type":' }), status: 400, error: 'invalid_request' },
    };
    for (const [name, { run, status, error }] of Object.entries(cases)) {
      const response = await run();
      const contentType = response.headers.get('content-type');
      const cacheControl = response.headers.get('cache-control');
      const refusal = await refusalOf(() => oauth.processGenericTokenEndpointResponse(as, client, response));
      expect({ name, type: (refusal as Error | undefined)?.constructor.name, status: (refusal as oauth.ResponseBodyError).status, error: (refusal as oauth.ResponseBodyError).error, contentType, cacheControl }).toEqual({
        name,
        type: 'ResponseBodyError',
        status,
        error,
        contentType: 'application/json;charset=UTF-8',
        cacheControl: 'no-store',
      });
      expect(typeof (refusal as oauth.ResponseBodyError).error_description, `${name}`).toBe('string');
    }
  });

  it(`reads the endpoint's throttle (after ${AUTH_LIMIT} requests) and an address block as temporarily_unavailable with Retry-After`, async () => {
    const basic = oauth.ClientSecretBasic(readOnly.clientSecret);
    const client = { client_id: readOnly.clientId };
    const ip = address();
    const answers: Response[] = [];
    for (let i = 0; i <= AUTH_LIMIT; i++) answers.push(await grant(readOnly, basic, {}, ip));
    expect(answers.map((r) => r.status)).toEqual([...Array.from({ length: AUTH_LIMIT }, () => 200), 429]);
    const limited = answers.at(-1)!;
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    const throttled = (await refusalOf(() => oauth.processClientCredentialsResponse(as, client, limited))) as oauth.ResponseBodyError;
    expect({ type: throttled.constructor.name, status: throttled.status, error: throttled.error, code: (throttled.cause as { code?: unknown }).code }).toEqual({
      type: 'ResponseBodyError',
      status: 429,
      error: 'temporarily_unavailable',
      code: 'rate_limit.exceeded',
    });

    const denied = address();
    await api.app.get(AbuseDetector).deny(denied, 60, 'test');
    const blockedAnswer = await grant(readOnly, basic, {}, denied);
    expect(Number(blockedAnswer.headers.get('retry-after'))).toBeGreaterThan(0);
    const blocked = (await refusalOf(() => oauth.processClientCredentialsResponse(as, client, blockedAnswer))) as oauth.ResponseBodyError;
    expect({ type: blocked.constructor.name, status: blocked.status, error: blocked.error, code: (blocked.cause as { code?: unknown }).code }).toEqual({
      type: 'ResponseBodyError',
      status: 429,
      error: 'temporarily_unavailable',
      code: 'security.blocked',
    });
  });
});

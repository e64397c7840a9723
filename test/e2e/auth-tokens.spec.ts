import { randomUUID } from 'node:crypto';
import { base64url, decodeJwt, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import type request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import type { TestApi } from '../support/api.js';
import { buildAuthApi, Caller, logLinesOf, PROBLEM_JSON, SecretLedger, setPassword, withoutRequestId, type Session } from '../support/auth-client.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

const owner = ownerPool();
const secrets = new SecretLedger();
const clock = new FakeClock();
const [firstKey, secondKey] = JSON.parse(process.env.AUTH_SIGNING_KEYS!) as [JWK, JWK];

/** What every refused token gets: one fixed sentence, nothing about which check failed. */
const UNAUTHENTICATED = {
  type: 'urn:benteng:problem:auth.unauthenticated',
  title: 'Unauthorized',
  status: 401,
  detail: 'A valid access token is required.',
  code: 'auth.unauthenticated',
};

let api: TestApi;
let config: AppConfig;

beforeAll(async () => {
  api = secrets.watch(await buildAuthApi({ overrides: [{ token: Clock, value: clock }] }));
  config = api.app.get(AppConfig);
});
afterAll(() => api?.close());

const privateKey = (jwk: JWK) => importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA') as Promise<CryptoKey>;

function sign(payload: JWTPayload, header: JWTHeaderParameters, key: CryptoKey | Uint8Array): Promise<string> {
  return new SignJWT(payload).setProtectedHeader(header).sign(key);
}

/** A JWS assembled by hand, for what jose refuses to produce. */
const handMade = (header: object, payload: object, signature = '') =>
  `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${signature}`;

/** A member of a fresh tenant, logged in: its access token is the template the forgeries start from. */
async function loggedIn(): Promise<{ client: Caller; session: Session; claims: JWTPayload }> {
  const tenant = await createTenant(owner, 'tokens');
  const password = await setPassword(owner, secrets, tenant.users.member.id);
  const client = new Caller(api, secrets);
  const session = await client.loginOk(tenant.users.member.email, password);
  return { client, session, claims: decodeJwt(session.accessToken) };
}

/** A refusal as every invalid token must get it; returns the reason the server logged. */
function expectRefused(res: request.Response): unknown {
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
  expect(res.headers['www-authenticate']).toBe('Bearer');
  expect(withoutRequestId(res.body)).toEqual(UNAUTHENTICATED);
  return logLinesOf(api, res).find((line) => line.event === 'auth.token_rejected')?.reason;
}

describe(tag('AUTHN-ACCESS-TOKEN', 'GET /v1/me without a usable access token'), () => {
  it('answers a request without a token with 401, WWW-Authenticate: Bearer and a problem body', async () => {
    const client = new Caller(api, secrets);
    for (const headers of [{}, { authorization: 'Basic dXNlcjpwYXNz' }, { authorization: 'Bearer' }] as Record<string, string>[]) {
      const res = await client.call('get', '/v1/me', { headers });
      expect(res.status).toBe(401);
      expect(res.headers['www-authenticate']).toBe('Bearer');
      expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
      expect(res.body).toMatchObject({ status: 401, title: 'Unauthorized', requestId: res.headers['x-request-id'] });
    }
  });

  it('refuses forged, foreign and tampered tokens alike, logging the reason but never returning it', async () => {
    const { client, claims } = await loggedIn();
    const other = await createTenant(owner, 'tokens-other');
    const first = await privateKey(firstKey);
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const header = { alg: 'EdDSA', kid: firstKey.kid!, typ: 'at+jwt' };
    const [h, , s] = (await sign(claims, header, first)).split('.');

    const cases: [string, string, string][] = [
      ['garbage', 'garbage', 'malformed'],
      ['three dots of garbage', 'a.b.c', 'malformed'],
      ['alg: none, real kid', handMade({ alg: 'none', kid: firstKey.kid, typ: 'at+jwt' }, claims), 'bad_algorithm'],
      ['alg: none, no kid', handMade({ alg: 'none', typ: 'at+jwt' }, claims), 'unknown_key'],
      ['unknown kid', await sign(claims, { ...header, kid: `k-${randomUUID()}` }, stranger.privateKey), 'unknown_key'],
      ['a key not in the set, under a real kid', await sign(claims, header, stranger.privateKey), 'bad_signature'],
      ['wrong audience (partner surface)', await sign({ ...claims, aud: 'benteng-partner' }, header, first), 'wrong_audience'],
      ['wrong issuer', await sign({ ...claims, iss: 'someone-else' }, header, first), 'wrong_issuer'],
      ['typ JWT instead of at+jwt', await sign(claims, { ...header, typ: 'JWT' }, first), 'bad_claims'],
      ['no session id', await sign({ ...claims, sid: undefined }, header, first), 'bad_claims'],
      // Algorithm confusion: HS256 keyed with the public key, as a verifier trusting `alg` would check it.
      ['HS256 keyed with the public x (text)', await sign(claims, { ...header, alg: 'HS256' }, new TextEncoder().encode(firstKey.x)), 'bad_algorithm'],
      ['HS256 keyed with the public key bytes', await sign(claims, { ...header, alg: 'HS256' }, base64url.decode(firstKey.x!)), 'bad_algorithm'],
      ['HS256 keyed with the public JWK', await sign(claims, { ...header, alg: 'HS256' }, new TextEncoder().encode(JSON.stringify({ kty: 'OKP', crv: 'Ed25519', x: firstKey.x }))), 'bad_algorithm'],
      // A genuine signature over a payload naming another tenant.
      ['tampered payload (tid)', `${h}.${base64url.encode(JSON.stringify({ ...claims, tid: other.id }))}.${s}`, 'bad_signature'],
    ];

    for (const [name, token, reason] of cases) {
      expect({ name, reason: expectRefused(await client.me(token)) }).toEqual({ name, reason });
    }
  });

  it('refuses a token once its exp has passed (FakeClock), and accepts it until then', async () => {
    const { client, session, claims } = await loggedIn();
    const lifetime = claims.exp! - clock.nowSeconds();
    expect(lifetime).toBe(config.ACCESS_TOKEN_TTL_S);

    clock.advance(lifetime - 5);
    expect((await client.me(session.accessToken)).status).toBe(200);

    clock.advance(5 + 2);
    expect(expectRefused(await client.me(session.accessToken))).toBe('expired');
  });
});

describe(tag('AUTHN-ACCESS-TOKEN', 'where the access token may travel'), () => {
  // passport-http-bearer also reads `access_token` from the query string and the body by default;
  // a token in a URL ends up in proxy and CDN access logs, browser history and Referer headers,
  // beyond pino's redaction (RFC 6750 §2.3, RFC 9700 §4.3.2).
  it('accepts it only in the Authorization header: ?access_token= and a body access_token are refused', async () => {
    const { client, session } = await loggedIn();
    const viaQuery = await client.call('get', `/v1/me?access_token=${encodeURIComponent(session.accessToken)}`);
    expect(viaQuery.status).toBe(401);

    const viaBody = await client.call('post', '/v1/auth/logout', { body: { access_token: session.accessToken } });
    expect(viaBody.status).toBe(401);
    expect((await client.me(session.accessToken)).status).toBe(200);
  });
});

describe(tag('AUTHN-ACCESS-TOKEN', 'signing key rotation'), () => {
  it('accepts a token signed by the second (verify-only) key during the overlap', async () => {
    const { client, session, claims } = await loggedIn();
    const token = await sign(claims, { alg: 'EdDSA', kid: secondKey.kid!, typ: 'at+jwt' }, await privateKey(secondKey));
    secrets.add(token);
    const res = await client.me(token);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ sessionId: session.sessionId, tenant: { id: session.tenantId } });
  });

  it('refuses a token signed by a key outside the set, under its own kid or the second key’s', async () => {
    const { client, claims } = await loggedIn();
    const retired = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    expect(expectRefused(await client.me(await sign(claims, { alg: 'EdDSA', kid: 'k-retired', typ: 'at+jwt' }, retired.privateKey)))).toBe('unknown_key');
    expect(expectRefused(await client.me(await sign(claims, { alg: 'EdDSA', kid: secondKey.kid!, typ: 'at+jwt' }, retired.privateKey)))).toBe('bad_signature');
  });
});

it('never writes an issued token or a password it was sent to the logs', () => {
  expect(secrets.counts.secrets).toBeGreaterThan(5);
  expect(secrets.counts.logLines).toBeGreaterThan(0);
  expect(secrets.leaks()).toEqual([]);
});

import { randomBytes, randomUUID } from 'node:crypto';
import { base64url, decodeJwt, exportJWK, generateKeyPair, importJWK, SignJWT, type CryptoKey, type JWK, type JWTHeaderParameters, type JWTPayload } from 'jose';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import { AppConfig, internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';
import { buildInternalApi, type TestApi } from '../support/api.js';
import { buildAuthApi, Caller, logLinesOf, PROBLEM_JSON, SecretLedger, setPassword, withoutRequestId, type Session } from '../support/auth-client.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey, partnerCall, partnerToken, type PartnerKeySeed } from '../support/partners.js';
import { tag } from './support/controls.js';

/**
 * Release gate for credentials (issue 8): every way a token, key or signature can be forged,
 * replayed, kept past its end or carried to the wrong surface is refused with one 401
 * problem+json body per surface, identical apart from its requestId, so a refusal says nothing
 * about which check failed. Each `describe` carries the control it attacks.
 */

const owner = ownerPool();
const secrets = new SecretLedger();
const clock = new FakeClock();
const [firstKey, secondKey] = JSON.parse(process.env.AUTH_SIGNING_KEYS!) as [JWK, JWK];
const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
const securityOperator = randomUUID();

/** The one body every refused /v1 access token gets (requestId aside). */
const PUBLIC_REFUSAL = {
  type: 'urn:benteng:problem:auth.unauthenticated',
  title: 'Unauthorized',
  status: 401,
  detail: 'A valid access token is required.',
  code: 'auth.unauthenticated',
};
/** The one body every refused internal signature gets (requestId aside). */
const INTERNAL_REFUSAL = { type: 'urn:benteng:problem:http.unauthenticated', title: 'Unauthorized', status: 401, code: 'http.unauthenticated' };

let api: TestApi;
let internal: TestApi;
let config: AppConfig;
/** The refusal of a /partner/v1 request without any credential: every refused partner credential must look the same. */
let partnerRefusal: Refusal;

interface Refusal {
  status: number;
  problemJson: boolean;
  wwwAuthenticate: unknown;
  body: Record<string, unknown>;
}

const refusalOf = (res: request.Response): Refusal => ({
  status: res.status,
  problemJson: PROBLEM_JSON.test(String(res.headers['content-type'])),
  wwwAuthenticate: res.headers['www-authenticate'],
  body: withoutRequestId(res.body),
});

const PUBLIC: Refusal = { status: 401, problemJson: true, wwwAuthenticate: 'Bearer', body: PUBLIC_REFUSAL };

beforeAll(async () => {
  // The public app first: nestjs-pino writes every app's lines into the first app's capture.
  api = secrets.watch(await buildAuthApi({ overrides: [{ token: Clock, value: clock }] }));
  internal = secrets.watch(await buildInternalApi());
  config = api.app.get(AppConfig);
  await owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, $3, $4)`, [securityOperator, `tokens-${securityOperator}@benteng.example`, 'Token suite operator', ['security']]);
  partnerRefusal = refusalOf(await partnerCall(api, 'get', '/partner/v1/invoices'));
});
afterAll(async () => {
  await internal?.close();
  await api?.close();
});

/** A refused /v1 request: the fixed 401; returns the reason the server logged (never sent). */
function publicRefusal(res: request.Response): unknown {
  expect(refusalOf(res)).toEqual(PUBLIC);
  expect(typeof res.body.requestId).toBe('string');
  return logLinesOf(api, res).find((line) => line.event === 'auth.token_rejected')?.reason;
}

/** A user of a fresh tenant, logged in. */
async function loggedIn(role: 'owner' | 'admin' | 'member' = 'member', tenant?: TestTenant): Promise<{ tenant: TestTenant; client: Caller; session: Session; claims: JWTPayload }> {
  const t = tenant ?? (await createTenant(owner, 'sec-tokens'));
  const password = await setPassword(owner, secrets, t.users[role].id);
  const client = new Caller(api, secrets);
  const session = await client.loginOk(t.users[role].email, password);
  return { tenant: t, client, session, claims: decodeJwt(session.accessToken) };
}

/** A partner client of the tenant with an API key (options for the key) and a client-credentials token. */
async function partner(tenant: TestTenant, keySeed: PartnerKeySeed = {}): Promise<{ key: string; token: string }> {
  const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'] });
  const { key } = await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id, keySeed);
  const token = await partnerToken(api, client);
  secrets.add(client.clientSecret, key, token);
  return { key, token };
}

/** A signed operator POST to the internal listener (security role, with a reason). */
async function operatorPost(path: string, body?: object): Promise<request.Response> {
  const raw = body === undefined ? undefined : JSON.stringify(body);
  const headers = signServiceRequest({ method: 'POST', url: path, keyId: dev.kid, secret: dev.secret, operatorId: securityOperator, reason: 'token suite', ...(raw === undefined ? {} : { body: raw }) });
  let test = request(internal.app.getHttpServer()).post(path);
  for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
  const res = raw === undefined ? await test : await test.set('content-type', 'application/json').send(raw);
  if (res.status !== 200) throw new Error(`${path} answered ${res.status}: ${res.text}`);
  return res;
}

const privateKey = (jwk: JWK) => importJWK({ ...jwk, alg: 'EdDSA' }, 'EdDSA') as Promise<CryptoKey>;
const sign = (payload: JWTPayload, header: JWTHeaderParameters, key: CryptoKey | Uint8Array) => new SignJWT(payload).setProtectedHeader(header).sign(key);
/** A JWS assembled by hand, for what jose refuses to produce. */
const handMade = (header: object, payload: object, signature = '') => `${base64url.encode(JSON.stringify(header))}.${base64url.encode(JSON.stringify(payload))}.${signature}`;

describe(tag('AUTHN-ACCESS-TOKEN', 'access tokens on /v1: forged, expired or meant for another surface'), () => {
  it('expiry: a token is accepted until its exp and refused once it has passed (FakeClock)', async () => {
    const { client, session, claims } = await loggedIn();
    const lifetime = claims.exp! - clock.nowSeconds();
    expect(lifetime).toBe(config.ACCESS_TOKEN_TTL_S);
    expect(lifetime).toBeLessThanOrEqual(900);
    clock.advance(lifetime - 1);
    expect((await client.me(session.accessToken)).status).toBe(200);
    clock.advance(2);
    expect(publicRefusal(await client.me(session.accessToken))).toBe('expired');
  });

  it('alg "none": refused with a real kid, without one, in any spelling, with the signature kept, whatever role it claims', async () => {
    const { client, session, claims } = await loggedIn();
    const signature = session.accessToken.split('.')[2]!;
    const forged = { ...claims, role: 'owner' };
    const cases: [string, string, string][] = [
      ['none, real kid', handMade({ alg: 'none', kid: firstKey.kid, typ: 'at+jwt' }, forged), 'bad_algorithm'],
      ['None, real kid', handMade({ alg: 'None', kid: firstKey.kid, typ: 'at+jwt' }, forged), 'bad_algorithm'],
      ['NONE, real kid', handMade({ alg: 'NONE', kid: firstKey.kid, typ: 'at+jwt' }, forged), 'bad_algorithm'],
      ['none, no kid', handMade({ alg: 'none', typ: 'at+jwt' }, forged), 'unknown_key'],
      ['none, the genuine signature kept', handMade({ alg: 'none', kid: firstKey.kid, typ: 'at+jwt' }, forged, signature), 'bad_algorithm'],
      ['none, unchanged claims', handMade({ alg: 'none', kid: firstKey.kid, typ: 'at+jwt' }, claims), 'bad_algorithm'],
    ];
    for (const [name, token, reason] of cases) expect({ name, reason: publicRefusal(await client.me(token)) }).toEqual({ name, reason });
    expect((await client.me(session.accessToken)).status).toBe(200);
  });

  it('key confusion: HS256 keyed with the public key (raw bytes, base64url text, JWK JSON) is refused', async () => {
    const { client, claims } = await loggedIn();
    const header = { alg: 'HS256', kid: firstKey.kid!, typ: 'at+jwt' };
    const publicJwk = { kty: 'OKP', crv: 'Ed25519', x: firstKey.x };
    const cases: [string, Uint8Array][] = [
      ['raw public key bytes', base64url.decode(firstKey.x!)],
      ['base64url x as text', new TextEncoder().encode(firstKey.x)],
      ['public JWK as JSON', new TextEncoder().encode(JSON.stringify(publicJwk))],
      ['JWKS document as served', new TextEncoder().encode(JSON.stringify({ keys: [{ ...publicJwk, kid: firstKey.kid, alg: 'EdDSA', use: 'sig' }] }))],
    ];
    for (const [name, secret] of cases) {
      const token = await sign({ ...claims, role: 'owner' }, header, secret);
      expect({ name, reason: publicRefusal(await client.me(token)) }).toEqual({ name, reason: 'bad_algorithm' });
    }
  });

  it('key confusion: an unknown kid, and a kid pointing elsewhere (the other key, a path, a URL, an embedded jwk or jku), are refused', async () => {
    const { client, claims } = await loggedIn();
    const stranger = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
    const strangerJwk = await exportJWK(stranger.publicKey);
    const first = await privateKey(firstKey);
    const base = { alg: 'EdDSA', typ: 'at+jwt' };
    const cases: [string, string, string][] = [
      ['unknown kid', await sign(claims, { ...base, kid: `k-${randomUUID()}` }, stranger.privateKey), 'unknown_key'],
      ['kid of the other key, signed with the first key', await sign(claims, { ...base, kid: secondKey.kid! }, first), 'bad_signature'],
      ['kid of a real key, signed with a stranger key', await sign(claims, { ...base, kid: firstKey.kid! }, stranger.privateKey), 'bad_signature'],
      ['kid as a file path', await sign(claims, { ...base, kid: '../../../../../dev/null' }, stranger.privateKey), 'unknown_key'],
      ['kid as a URL', await sign(claims, { ...base, kid: 'https://attacker.example/jwks.json' }, stranger.privateKey), 'unknown_key'],
      ['kid as SQL', await sign(claims, { ...base, kid: "' OR '1'='1" }, stranger.privateKey), 'unknown_key'],
      ['embedded jwk of the signer, real kid', await sign(claims, { ...base, kid: firstKey.kid!, jwk: strangerJwk }, stranger.privateKey), 'bad_signature'],
      ['jku to the attacker, real kid', await sign(claims, { ...base, kid: firstKey.kid!, jku: 'https://attacker.example/jwks.json' }, stranger.privateKey), 'bad_signature'],
    ];
    for (const [name, token, reason] of cases) expect({ name, reason: publicRefusal(await client.me(token)) }).toEqual({ name, reason });
  });

  it('audience confusion: a partner client-credentials token, even of the same tenant, is refused on /v1', async () => {
    const { tenant, client } = await loggedIn();
    const { token, key } = await partner(tenant);
    expect((await partnerCall(api, 'get', '/partner/v1/invoices', { credential: token })).status).toBe(200);
    for (const path of ['/v1/me', '/v1/invoices']) {
      expect({ path, reason: publicRefusal(await client.call('get', path, { token })) }).toEqual({ path, reason: 'wrong_audience' });
      expect({ path, refusal: refusalOf(await client.call('get', path, { token: key })) }).toEqual({ path, refusal: PUBLIC });
    }
  });
});

/**
 * A surface that verifies JWTs: how to get a genuine token, its audience and TTL, how to present a
 * token, and what the refusal looks like with the reason the server logged. A new JWT surface is
 * one more entry, and inherits every attack class below.
 */
interface JwtSurface {
  name: string;
  audience: () => string;
  ttl: () => number;
  /** A genuine token's claims (decoded), of a fresh tenant. */
  genuine: () => Promise<JWTPayload>;
  /** Presents the token; `accepted` when the surface served the request, else the logged reason. */
  present: (token: string) => Promise<{ accepted: boolean; reason?: unknown }>;
}

const JWT_SURFACES: JwtSurface[] = [
  {
    name: '/v1 access token',
    audience: () => 'benteng-public',
    ttl: () => config.ACCESS_TOKEN_TTL_S,
    genuine: async () => (await loggedIn()).claims,
    async present(token) {
      const res = await new Caller(api, secrets).me(token);
      return res.status === 200 ? { accepted: true } : { accepted: false, reason: publicRefusal(res) };
    },
  },
  {
    name: '/partner/v1 client-credentials token',
    audience: () => 'benteng-partner',
    ttl: () => config.PARTNER_TOKEN_TTL_S,
    genuine: async () => decodeJwt((await partner(await createTenant(owner, 'sec-tokens-life'))).token),
    async present(token) {
      const res = await partnerCall(api, 'get', '/partner/v1/invoices', { credential: token });
      if (res.status === 200) return { accepted: true };
      expect(refusalOf(res)).toEqual(partnerRefusal);
      return { accepted: false, reason: logLinesOf(api, res).find((line) => line.event === 'partner.auth_refused')?.detail };
    },
  },
];

/**
 * The classes of a correctly signed token this deployment would never mint (issue 14): a lifetime
 * beyond the surface's TTL, an issue time in the future, and an audience that is not exactly the
 * surface's own string. Each is signed with the real signing key, so only these checks stand in
 * the way.
 */
const LIFETIME_AND_AUDIENCE_ATTACKS: { name: string; reason: string; forge: (claims: JWTPayload, s: JwtSurface, now: number) => JWTPayload }[] = [
  { name: 'exp - iat one second over the TTL', reason: 'too_long_lived', forge: (c, s, now) => ({ ...c, iat: now, exp: now + s.ttl() + 1 }) },
  { name: 'a ten-year lifetime', reason: 'too_long_lived', forge: (c, _s, now) => ({ ...c, iat: now, exp: now + 10 * 365 * 86_400 }) },
  { name: 'iat an hour ahead, exp - iat within the TTL', reason: 'too_long_lived', forge: (c, s, now) => ({ ...c, iat: now + 3600, exp: now + 3600 + s.ttl() }) },
  { name: 'aud as an array holding only the audience', reason: 'wrong_audience', forge: (c, s) => ({ ...c, aud: [s.audience()] }) },
  { name: 'aud as an array holding the audience and another', reason: 'wrong_audience', forge: (c, s) => ({ ...c, aud: [s.audience(), 'benteng-internal'] }) },
  { name: 'aud as an array with the audience second', reason: 'wrong_audience', forge: (c, s) => ({ ...c, aud: ['benteng-other', s.audience()] }) },
  { name: 'aud missing', reason: 'wrong_audience', forge: ({ aud: _aud, ...c }) => c },
];

describe(tag('AUTHN-ACCESS-TOKEN', 'every JWT surface: lifetime at most its TTL, aud exactly its audience (generated)'), () => {
  for (const surface of JWT_SURFACES) {
    it(`${surface.name}: a re-signed genuine token is accepted, and every lifetime or audience class is refused`, async () => {
      const claims = await surface.genuine();
      const key = await privateKey(firstKey);
      const header = { alg: 'EdDSA', kid: firstKey.kid!, typ: 'at+jwt' };
      const now = clock.nowSeconds();
      // The forging works: the same claims, re-signed with a fresh jti and exactly the TTL, pass.
      const control = await sign({ ...claims, jti: randomUUID(), iat: now, exp: now + surface.ttl() }, header, key);
      expect(claims.aud).toBe(surface.audience());
      expect(await surface.present(control)).toEqual({ accepted: true });
      for (const attack of LIFETIME_AND_AUDIENCE_ATTACKS) {
        const token = await sign({ ...attack.forge(claims, surface, now), jti: randomUUID() }, header, key);
        expect({ attack: attack.name, ...(await surface.present(token)) }).toEqual({ attack: attack.name, accepted: false, reason: attack.reason });
      }
    });
  }
});

describe(tag('AUTHN-REVOCATION', 'revocation on the next request: logout, locked user, ended session, suspended tenant'), () => {
  it('logout: the access token is refused on the next request', async () => {
    const { client, session } = await loggedIn();
    expect((await client.call('post', '/v1/auth/logout', { token: session.accessToken })).status).toBe(204);
    expect(publicRefusal(await client.me(session.accessToken))).toBe('revoked');
  });

  it('a user locked by an operator: every session of theirs is refused on the next request', async () => {
    const { tenant, client, session } = await loggedIn();
    const again = await client.loginOk(tenant.users.member.email, await setPassword(owner, secrets, tenant.users.member.id));
    await operatorPost(`/internal/v1/users/${tenant.users.member.id}/lock`);
    expect(publicRefusal(await client.me(session.accessToken))).toBe('revoked');
    expect(publicRefusal(await client.me(again.accessToken))).toBe('revoked');
  });

  it('a session ended by a tenant admin (DELETE /v1/sessions/:id) or an operator (POST /internal/v1/revocations) is refused', async () => {
    const { tenant, client, session: admin } = await loggedIn('admin');
    const { session: byAdmin } = await loggedIn('member', tenant);
    const { session: byOperator } = await loggedIn('owner', tenant);
    expect((await client.call('delete', `/v1/sessions/${byAdmin.sessionId}`, { token: admin.accessToken })).status).toBe(204);
    await operatorPost('/internal/v1/revocations', { kind: 'session', id: byOperator.sessionId, tenantId: tenant.id });
    expect(publicRefusal(await client.me(byAdmin.accessToken))).toBe('revoked');
    expect(publicRefusal(await client.me(byOperator.accessToken))).toBe('revoked');
    expect((await client.me(admin.accessToken)).status).toBe(200);
  });

  it('a suspended tenant: its users’ tokens are refused on the next request', async () => {
    const { tenant, client, session } = await loggedIn('owner');
    expect((await client.me(session.accessToken)).status).toBe(200);
    await operatorPost(`/internal/v1/tenants/${tenant.id}/suspend`);
    expect(publicRefusal(await client.me(session.accessToken))).toBe('revoked');
    expect(publicRefusal(await client.call('get', '/v1/invoices', { token: session.accessToken }))).toBe('revoked');
  });
});

describe(tag('AUTHN-REFRESH-ROTATION', 'refresh tokens: rotation and reuse'), () => {
  it('a spent refresh token presented again is refused like an unknown one, and ends the whole family', async () => {
    const { client, session } = await loggedIn();
    const unknown = await client.refresh(`rt.${session.tenantId}.${randomBytes(32).toString('base64url')}`);
    expect(unknown.status).toBe(401);
    const next = await client.refreshOk(session.refreshToken);

    const reuse = await client.refresh(session.refreshToken);
    expect(refusalOf(reuse)).toEqual({ ...refusalOf(unknown), status: 401 });
    expect(reuse.body.code).toBe('auth.invalid_refresh_token');
    // The family ended: the legitimate successor and every access token of the session are dead too.
    expect(refusalOf(await client.refresh(next.refreshToken))).toEqual(refusalOf(unknown));
    expect(publicRefusal(await client.me(next.accessToken))).toBe('revoked');
    expect(publicRefusal(await client.me(session.accessToken))).toBe('revoked');
  });

  it('two concurrent refreshes with one token: exactly one wins, and the family ends', async () => {
    const { client, session } = await loggedIn();
    const results = await Promise.all([client.refresh(session.refreshToken), client.refresh(session.refreshToken)]);
    expect(results.map((r) => r.status).sort()).toEqual([200, 401]);
    const winner = results.find((r) => r.status === 200)!.body as { accessToken: string };
    expect(publicRefusal(await client.me(winner.accessToken))).toBe('revoked');
  });
});

describe(tag('AUTHN-PARTNER-CREDENTIALS', 'partner credentials: other surfaces, revoked, expired, other environment, suspended tenant'), () => {
  it('a /v1 access token is refused on /partner/v1 with the partner surface’s one refusal', async () => {
    expect(partnerRefusal).toMatchObject({ status: 401, problemJson: true, wwwAuthenticate: 'Bearer', body: { status: 401, code: 'partner.unauthenticated' } });
    const { session } = await loggedIn('owner');
    expect(refusalOf(await partnerCall(api, 'get', '/partner/v1/invoices', { credential: session.accessToken }))).toEqual(partnerRefusal);
  });

  it('a revoked, an expired and an other-environment key are refused with one body', async () => {
    const tenant = await createTenant(owner, 'sec-partner-keys');
    const { key: valid } = await partner(tenant);
    const { key: revoked } = await partner(tenant, { revokedAt: new Date(Date.now() - 1000) });
    const { key: expired } = await partner(tenant, { expiresAt: new Date(Date.now() - 1000) });
    const { key: live } = await partner(tenant, { environment: 'live' });
    expect(live).toMatch(/^bt_live_/);
    expect((await partnerCall(api, 'get', '/partner/v1/invoices', { credential: valid })).status).toBe(200);
    for (const [name, credential] of Object.entries({ revoked, expired, live })) {
      expect({ name, refusal: refusalOf(await partnerCall(api, 'get', '/partner/v1/invoices', { credential })) }).toEqual({ name, refusal: partnerRefusal });
    }
  });

  it('a client-credentials token is refused once it has expired (FakeClock)', async () => {
    const tenant = await createTenant(owner, 'sec-partner-exp');
    const { token } = await partner(tenant);
    const exp = decodeJwt(token).exp!;
    clock.advance(exp - clock.nowSeconds() - 1);
    expect((await partnerCall(api, 'get', '/partner/v1/invoices', { credential: token })).status).toBe(200);
    clock.advance(2);
    expect(refusalOf(await partnerCall(api, 'get', '/partner/v1/invoices', { credential: token }))).toEqual(partnerRefusal);
  });

  it('a suspended tenant: its keys and client tokens are refused on the next request', async () => {
    const tenant = await createTenant(owner, 'sec-partner-suspend');
    const { key, token } = await partner(tenant);
    for (const credential of [key, token]) expect((await partnerCall(api, 'get', '/partner/v1/invoices', { credential })).status).toBe(200);
    await operatorPost(`/internal/v1/tenants/${tenant.id}/suspend`);
    for (const [name, credential] of Object.entries({ key, token })) {
      expect({ name, refusal: refusalOf(await partnerCall(api, 'get', '/partner/v1/invoices', { credential })) }).toEqual({ name, refusal: partnerRefusal });
    }
  });
});

describe(tag('AUTHN-SERVICE-SIGNATURE', 'credentials of the other surfaces on the internal listener'), () => {
  it('a public access token, a partner key, a partner token and a forged alg "none" token are all an absent signature: one 401', async () => {
    const { tenant, session, claims } = await loggedIn('owner');
    const { key, token } = await partner(tenant);
    const credentials = { publicToken: session.accessToken, partnerKey: key, partnerToken: token, algNone: handMade({ alg: 'none', typ: 'at+jwt' }, claims) };
    for (const [name, credential] of Object.entries(credentials)) {
      for (const path of ['/internal/v1/whoami', '/internal/v1/tenants']) {
        const res = await request(internal.app.getHttpServer()).get(path).set('authorization', `Bearer ${credential}`).set('x-benteng-operator', securityOperator);
        expect({ name, path, status: res.status, problemJson: PROBLEM_JSON.test(String(res.headers['content-type'])), body: withoutRequestId(res.body) }).toEqual({
          name,
          path,
          status: 401,
          problemJson: true,
          body: INTERNAL_REFUSAL,
        });
      }
    }
  });
});

it('never writes a token, key or password this suite used to the logs', () => {
  expect(secrets.counts.secrets).toBeGreaterThan(10);
  expect(secrets.leaks()).toEqual([]);
});

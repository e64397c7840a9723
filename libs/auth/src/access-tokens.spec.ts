import { CompactSign, decodeJwt, decodeProtectedHeader, SignJWT, type JWTPayload } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import type { AppConfig } from '@benteng/config';
import { AccessTokenError, AccessTokens, PARTNER_AUDIENCE, VERIFIED_CACHE_MAX, PUBLIC_AUDIENCE, type TokenRejection } from './access-tokens.js';
import { generateSigningJwk, parseSigningKeys, type SigningKey, type SigningKeys } from './signing-keys.js';

class MovableClock extends Clock {
  constructor(public at: number) {
    super();
  }
  now(): Date {
    return new Date(this.at * 1000);
  }
}

const NOW = 1_800_000_000;
const USER = '0193b7a0-0000-7000-8000-0000000000a1';
const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const SESSION = '0193b7a0-0000-7000-8000-0000000000e1';
const CLIENT = '0193b7a0-0000-7000-8000-0000000000f1';
const config = { AUTH_ISSUER: 'benteng-test', ACCESS_TOKEN_TTL_S: 600, PARTNER_TOKEN_TTL_S: 300 } as AppConfig;

let signing: SigningKey;
let other: SigningKey;
beforeAll(async () => {
  [signing, other] = await parseSigningKeys(JSON.stringify([await generateSigningJwk(), { ...(await generateSigningJwk()), kid: 'other' }]));
});

/** SigningKeys with a key set the test can change (a removed key, a rotated one). */
function keySet(keys: SigningKey[]) {
  const set = { keys, active: keys[0], find: (kid: string) => set.keys.find((k) => k.kid === kid) };
  return set;
}
function make(keys = [signing]) {
  const clock = new MovableClock(NOW);
  const set = keySet(keys);
  return { clock, set, sut: new AccessTokens(set as unknown as SigningKeys, config, clock) };
}

/** A token signed with `key` and the claims given, as an attacker or a bug could mint one. */
async function forge(claims: JWTPayload, options: { key?: SigningKey; header?: Record<string, unknown> } = {}): Promise<string> {
  const key = options.key ?? signing;
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt', ...options.header }).sign(key.privateKey);
}
const publicClaims = (over: JWTPayload = {}): JWTPayload => ({ sub: USER, tid: TENANT, sid: SESSION, role: 'member', iss: config.AUTH_ISSUER, aud: PUBLIC_AUDIENCE, iat: NOW, exp: NOW + 600, ...over });
const partnerClaims = (over: JWTPayload = {}): JWTPayload => ({ sub: CLIENT, client_id: CLIENT, tid: TENANT, scope: 'invoices:read tickets:write', iss: config.AUTH_ISSUER, aud: PARTNER_AUDIENCE, iat: NOW, exp: NOW + 300, ...over });

async function rejection(run: Promise<unknown>): Promise<TokenRejection | string> {
  const error = await run.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(error instanceof AccessTokenError)) return `not an AccessTokenError: ${String(error)}`;
  expect(error.name).toBe('AccessTokenError');
  expect(error.message).toBe(`access token rejected: ${error.reason}`);
  return error.reason;
}

describe('AccessTokens (public surface)', () => {
  it('issues an at+jwt with the active key, this issuer and audience, a jti and a lifetime of ACCESS_TOKEN_TTL_S, and verifies it', async () => {
    const { sut } = make([signing, other]);
    const { token, expiresAt } = await sut.issue({ sub: USER, tid: TENANT, sid: SESSION, role: 'admin' });
    expect(decodeProtectedHeader(token)).toEqual({ alg: signing.alg, kid: signing.kid, typ: 'at+jwt' });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ sub: USER, tid: TENANT, sid: SESSION, role: 'admin', iss: 'benteng-test', aud: PUBLIC_AUDIENCE, iat: NOW, exp: NOW + 600 });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(expiresAt).toEqual(new Date((NOW + 600) * 1000));
    expect(await sut.verify(token)).toEqual({ sub: USER, tid: TENANT, sid: SESSION, role: 'admin', exp: NOW + 600, iat: NOW });
  });

  it('verifies with any key of the set (a retired key keeps verifying its tokens)', async () => {
    const { sut } = make([signing, other]);
    expect((await sut.verify(await forge(publicClaims(), { key: other }))).sub).toBe(USER);
  });

  it('refuses what is not a JWT, an unknown or missing kid, a changed signature, and another algorithm', async () => {
    const { sut } = make();
    expect(await rejection(sut.verify('not-a-jwt'))).toBe('malformed');
    expect(await rejection(sut.verify(await forge(publicClaims(), { key: other })))).toBe('unknown_key');
    expect(await rejection(sut.verify(await forge(publicClaims(), { header: { kid: undefined } })))).toBe('unknown_key');
    const token = await forge(publicClaims());
    const [h, p] = token.split('.');
    const otherSignature = (await forge(publicClaims({ role: 'owner' }))).split('.')[2];
    expect(await rejection(sut.verify(`${h}.${p}.${otherSignature}`))).toBe('bad_signature');
    const hs256 = await new SignJWT(publicClaims()).setProtectedHeader({ alg: 'HS256', kid: signing.kid, typ: 'at+jwt' }).sign(new TextEncoder().encode('a-shared-secret-of-enough-length!'));
    expect(await rejection(sut.verify(hs256))).toBe('bad_algorithm');
    // Correctly signed, but the payload is not a JSON claims set.
    const notClaims = await new CompactSign(new TextEncoder().encode('not json')).setProtectedHeader({ alg: signing.alg, kid: signing.kid, typ: 'at+jwt' }).sign(signing.privateKey);
    expect(await rejection(sut.verify(notClaims))).toBe('malformed');
    const wrongType = await forge(publicClaims(), { header: { typ: 'JWT' } });
    expect(await rejection(sut.verify(wrongType))).toBe('bad_claims');
  });

  it('refuses an expired token, another issuer, another or a list of audiences, and a partner token', async () => {
    const { sut, clock } = make();
    expect(await rejection(sut.verify(await forge(publicClaims({ iss: 'elsewhere' }))))).toBe('wrong_issuer');
    expect(await rejection(sut.verify(await forge(publicClaims({ aud: PARTNER_AUDIENCE }))))).toBe('wrong_audience');
    expect(await rejection(sut.verify(await forge(publicClaims({ aud: [PUBLIC_AUDIENCE, PARTNER_AUDIENCE] }))))).toBe('wrong_audience');
    const partner = (await sut.issuePartner({ clientId: CLIENT, tid: TENANT, scopes: ['invoices:read'] })).token;
    expect(await rejection(sut.verify(partner))).toBe('wrong_audience');
    const token = await forge(publicClaims());
    clock.at = NOW + 600;
    expect(await rejection(sut.verify(token))).toBe('expired');
  });

  it('refuses a token living longer than ACCESS_TOKEN_TTL_S or issued more than 5 s ahead of this clock', async () => {
    const { sut } = make();
    expect((await sut.verify(await forge(publicClaims({ exp: NOW + 600 })))).exp).toBe(NOW + 600);
    expect(await rejection(sut.verify(await forge(publicClaims({ exp: NOW + 601 }))))).toBe('too_long_lived');
    expect((await sut.verify(await forge(publicClaims({ iat: NOW + 5, exp: NOW + 5 + 600 })))).iat).toBe(NOW + 5);
    expect(await rejection(sut.verify(await forge(publicClaims({ iat: NOW + 6, exp: NOW + 6 + 600 }))))).toBe('too_long_lived');
  });

  it('refuses missing or malformed claims', async () => {
    const { sut } = make();
    for (const over of [{ sub: undefined }, { sub: 'user-1' }, { tid: undefined }, { tid: 'x' }, { sid: undefined }, { sid: 'x' }, { role: undefined }, { role: 'root' }, { iat: undefined }, { iat: 'now' }, { exp: undefined }] as JWTPayload[]) {
      expect({ over, reason: await rejection(sut.verify(await forge(publicClaims(over)))) }).toEqual({ over, reason: 'bad_claims' });
    }
    for (const role of ['owner', 'admin', 'member', 'viewer']) expect((await sut.verify(await forge(publicClaims({ role })))).role).toBe(role);
  });

  it('a verified token stays valid from the cache only while its key is in the set and it has not expired', async () => {
    const { sut, set, clock } = make([signing, other]);
    const token = await forge(publicClaims(), { key: other });
    expect((await sut.verify(token)).sub).toBe(USER);
    expect((await sut.verify(token)).sub).toBe(USER);
    set.keys = [signing];
    expect(await rejection(sut.verify(token))).toBe('unknown_key');
    set.keys = [signing, other];
    expect((await sut.verify(token)).sub).toBe(USER);
    clock.at = NOW + 600;
    expect(await rejection(sut.verify(token))).toBe('expired');
  });

  it('a cached token is not valid before its nbf, nor when its key was replaced under the same kid', async () => {
    const { sut, set, clock } = make();
    const early = await forge(publicClaims({ nbf: NOW }));
    expect((await sut.verify(early)).sub).toBe(USER);
    clock.at = NOW - 1;
    expect(await rejection(sut.verify(early))).toBe('bad_claims');
    clock.at = NOW;
    const token = await forge(publicClaims());
    expect((await sut.verify(token)).sub).toBe(USER);
    const [impostor] = await parseSigningKeys(JSON.stringify([{ ...(await generateSigningJwk()), kid: signing.kid }]));
    set.keys = [impostor!];
    expect(await rejection(sut.verify(token))).toBe('bad_signature');
  });

  it('the cache is per audience: a token verified on one surface is not accepted on the other', async () => {
    const { sut } = make();
    const token = await forge(publicClaims());
    expect((await sut.verify(token)).sub).toBe(USER);
    expect(await rejection(sut.verifyPartner(token))).toBe('wrong_audience');
  });

  it('the cache keeps at most VERIFIED_CACHE_MAX tokens: past the bound the oldest entry goes, so distinct tokens cannot grow memory', async () => {
    const { sut } = make();
    const tokens = await Promise.all(Array.from({ length: VERIFIED_CACHE_MAX + 1 }, (_, i) => forge(publicClaims({ jti: `t${i}` }))));
    for (const token of tokens) await sut.verify(token);
    expect(sut.cachedVerifications).toBe(VERIFIED_CACHE_MAX);
    // The newest is cached (a hit leaves the size unchanged), the oldest was evicted (verifying it again re-inserts it and evicts the next oldest).
    await sut.verify(tokens.at(-1)!);
    expect(sut.cachedVerifications).toBe(VERIFIED_CACHE_MAX);
  }, 60_000);

  it('changing the claims one verify returned does not change what the next verify of the same token returns', async () => {
    const { sut } = make();
    const token = await forge(publicClaims());
    const first = await sut.verify(token);
    (first as { role: string }).role = 'owner';
    expect((await sut.verify(token)).role).toBe('member');
  });
});

describe('AccessTokens (partner surface)', () => {
  it('issues a client-credentials token with the partner audience, the client as subject and the scopes space-separated, and verifies it', async () => {
    const { sut } = make();
    const { token, expiresIn } = await sut.issuePartner({ clientId: CLIENT, tid: TENANT, scopes: ['invoices:read', 'tickets:write'] });
    expect(expiresIn).toBe(300);
    expect(decodeProtectedHeader(token)).toEqual({ alg: signing.alg, kid: signing.kid, typ: 'at+jwt' });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({ sub: CLIENT, client_id: CLIENT, tid: TENANT, scope: 'invoices:read tickets:write', iss: 'benteng-test', aud: PARTNER_AUDIENCE, iat: NOW, exp: NOW + 300 });
    expect(payload.jti).toMatch(/^[0-9a-f-]{36}$/);
    expect(await sut.verifyPartner(token)).toEqual({ sub: CLIENT, client_id: CLIENT, tid: TENANT, scope: ['invoices:read', 'tickets:write'], exp: NOW + 300, iat: NOW });
  });

  it('refuses a public token, a lifetime beyond PARTNER_TOKEN_TTL_S and malformed claims', async () => {
    const { sut } = make();
    const user = (await sut.issue({ sub: USER, tid: TENANT, sid: SESSION, role: 'owner' })).token;
    expect(await rejection(sut.verifyPartner(user))).toBe('wrong_audience');
    expect(await rejection(sut.verifyPartner(await forge(partnerClaims({ exp: NOW + 301 }))))).toBe('too_long_lived');
    for (const over of [{ sub: 'client' }, { sub: 'client', client_id: 'client' }, { client_id: USER }, { client_id: undefined }, { tid: 42 }, { tid: 'x' }, { scope: undefined }, { scope: ['invoices:read'] }, { scope: 'invoices:read Tickets:write' }, { scope: 'invoices' }, { scope: 'invoices:read:x' }, { iat: undefined }] as JWTPayload[]) {
      expect({ over, reason: await rejection(sut.verifyPartner(await forge(partnerClaims(over)))) }).toEqual({ over, reason: 'bad_claims' });
    }
  });

  it('reads empty scope entries as absent (extra spaces), and an empty scope as no scopes', async () => {
    const { sut } = make();
    expect((await sut.verifyPartner(await forge(partnerClaims({ scope: ' invoices:read  tickets:write ' })))).scope).toEqual(['invoices:read', 'tickets:write']);
    expect((await sut.verifyPartner(await forge(partnerClaims({ scope: '' })))).scope).toEqual([]);
  });
});

import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { tokenPepper, type AppConfig } from '@benteng/config';
import { looksLikeApiKey, PartnerCredentials, partnerClientSecretHash, partnerKeyHash } from './partner-credentials.js';
import { PasswordHasher } from './password-hasher.js';
import { RefreshTokens } from './refresh-tokens.js';

// The opaque credentials libs/auth mints (refresh tokens, partner API keys and client secrets): their
// format, what is stored (an HMAC under the pepper, labelled per kind), and what is refused.

const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const PEPPER = 'a-pepper-for-tests-only-0123456789';
const peppered = { AUTH_TOKEN_PEPPER: PEPPER } as AppConfig;
function fakeLogger() {
  const warnings: unknown[] = [];
  return { warnings, logger: { warn: (message: unknown) => warnings.push(message) } as never };
}
const hmac = (data: string) => createHmac('sha256', PEPPER).update(data).digest('hex');

describe('RefreshTokens', () => {
  const { logger } = fakeLogger();
  const sut = new RefreshTokens(peppered, logger);

  it('mints rt.<tenant>.<256 random bits> and stores only the HMAC of the whole token under the pepper', () => {
    const { token, hash } = sut.mint(TENANT);
    expect(token).toMatch(new RegExp(`^rt\\.${TENANT}\\.[A-Za-z0-9_-]{43}$`));
    expect(hash).toBe(hmac(token));
    expect(sut.hash(token)).toBe(hash);
    expect(sut.mint(TENANT).token).not.toBe(token);
    expect(sut.parse(token)).toEqual({ tenantId: TENANT });
  });

  it('parses only a well-formed token', () => {
    const secret = 'A'.repeat(43);
    expect(sut.parse(`rt.${TENANT}.${secret}`)).toEqual({ tenantId: TENANT });
    for (const bad of [`xx.${TENANT}.${secret}`, `rt.${TENANT}.${secret}.x`, `rt..${secret}`, `rt.not-a-uuid.${secret}`, `rt.${TENANT.toUpperCase()}.${secret}`, `rt.${TENANT}.`, `rt.${TENANT}`, `rt.${TENANT}.${'A'.repeat(42)}`, `rt.${TENANT}.${'A'.repeat(44)}`, `rt.${TENANT}.${'A'.repeat(42)}=`, `rt.${TENANT}.x${secret}`, '']) {
      expect({ bad, parsed: sut.parse(bad) }).toEqual({ bad, parsed: undefined });
    }
  });

  it('matches a token against its stored hash only, whatever the stored value looks like', () => {
    const { token, hash } = sut.mint(TENANT);
    expect(sut.matches(token, hash)).toBe(true);
    expect(sut.matches(`${token}x`, hash)).toBe(false);
    expect(sut.matches(token, hash.slice(0, 62))).toBe(false);
    expect(sut.matches(token, '')).toBe(false);
    expect(sut.matches(token, `${hash}00`)).toBe(false);
  });

  it('a token already rotated away is spent', () => {
    expect(sut.wasSpent({ rotatedAt: null })).toBe(false);
    expect(sut.wasSpent({ rotatedAt: new Date(0) })).toBe(true);
  });

  it('spends a token only if no one spent it first (exactly one of two racing refreshes wins)', async () => {
    const now = new Date('2026-12-07T00:00:00Z');
    const calls: unknown[] = [];
    const tx = (count: number) => ({ refreshToken: { updateMany: async (args: unknown) => (calls.push(args), { count }) } }) as never;
    expect(await sut.spend(tx(1), 'id-1', now)).toBe(true);
    expect(await sut.spend(tx(0), 'id-1', now)).toBe(false);
    expect(calls[0]).toEqual({ where: { id: 'id-1', rotatedAt: null }, data: { rotatedAt: now } });
  });

  it('warns when there is no pepper (tokens then last as long as the process), and not when there is one', () => {
    const quiet = fakeLogger();
    new RefreshTokens(peppered, quiet.logger);
    expect(quiet.warnings).toEqual([]);
    const loud = fakeLogger();
    const ephemeral = new RefreshTokens({} as AppConfig, loud.logger);
    expect(loud.warnings).toEqual(['AUTH_TOKEN_PEPPER is not set: refresh tokens will not survive a restart of this process']);
    const { token } = ephemeral.mint(TENANT);
    expect(ephemeral.hash(token)).not.toBe(hmac(token));
    // The process's own key for refresh tokens: every instance in the process agrees on it.
    expect(ephemeral.hash(token)).toBe(createHmac('sha256', tokenPepper({} as AppConfig, 'refresh-tokens', 'refresh tokens', { warn: () => undefined })).update(token).digest('hex'));
  });
});

describe('PartnerCredentials', () => {
  const { logger } = fakeLogger();
  const sut = new PartnerCredentials(peppered, logger);

  it('mints bt_<env>_<12 base32 characters>_<256 bits> keys, hashed under the pepper with the partner-key label', () => {
    for (const environment of ['live', 'test'] as const) {
      const { key, prefix, hash } = sut.mintKey(environment);
      expect(key).toMatch(new RegExp(`^bt_${environment}_${prefix}_[A-Za-z0-9_-]{43}$`));
      expect(prefix).toMatch(/^[a-z2-7]{12}$/);
      expect(hash).toBe(hmac(`partner-key\0${key}`));
      expect(hash).toBe(partnerKeyHash(PEPPER, key));
      expect(sut.parseKey(key)).toEqual({ environment, prefix });
      expect(sut.keyMatches(key, hash)).toBe(true);
      expect(sut.keyMatches(`${key}x`, hash)).toBe(false);
      expect(sut.keyMatches(key, hash.slice(2))).toBe(false);
    }
    const prefixes = new Set(Array.from({ length: 20 }, () => sut.mintKey('live').prefix));
    expect(prefixes.size).toBe(20);
    expect([...prefixes].join('')).toMatch(/[a-z]/);
  });

  it('parses only a well-formed key', () => {
    const good = `bt_live_abcdefgh2345_${'A'.repeat(43)}`;
    expect(sut.parseKey(good)).toEqual({ environment: 'live', prefix: 'abcdefgh2345' });
    for (const bad of [`bt_prod_abcdefgh2345_${'A'.repeat(43)}`, `bt_live_abcdefgh234_${'A'.repeat(43)}`, `bt_live_abcdefgh2341_${'A'.repeat(43)}`, `bt_live_ABCDEFGH2345_${'A'.repeat(43)}`, `bt_live_abcdefgh2345_${'A'.repeat(42)}`, `${good}A`, `x${good}`, `bt_cs_${'A'.repeat(43)}`, '']) {
      expect({ bad, parsed: sut.parseKey(bad) }).toEqual({ bad, parsed: undefined });
    }
  });

  it('mints bt_cs_<256 bits> client secrets with their own label, and matches only well-formed ones', () => {
    const { secret, hash } = sut.mintClientSecret();
    expect(secret).toMatch(/^bt_cs_[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(hmac(`partner-client-secret\0${secret}`));
    expect(hash).toBe(partnerClientSecretHash(PEPPER, secret));
    expect(sut.clientSecretMatches(secret, hash)).toBe(true);
    expect(sut.clientSecretMatches(`${secret}x`, partnerClientSecretHash(PEPPER, `${secret}x`))).toBe(false);
    expect(sut.clientSecretMatches(`x${secret}`, partnerClientSecretHash(PEPPER, `x${secret}`))).toBe(false);
    expect(sut.clientSecretMatches(secret, hash.slice(2))).toBe(false);
    // Domain separation: a key's hash is not a secret's hash for the same text.
    expect(partnerKeyHash(PEPPER, secret)).not.toBe(hash);
  });

  it('tells API keys from JWTs by their prefix', () => {
    expect(looksLikeApiKey('bt_live_x')).toBe(true);
    expect(looksLikeApiKey('eyJhbGciOi')).toBe(false);
    expect(looksLikeApiKey('xbt_')).toBe(false);
  });

  it('warns when there is no pepper, and not when there is one', () => {
    const quiet = fakeLogger();
    new PartnerCredentials(peppered, quiet.logger);
    expect(quiet.warnings).toEqual([]);
    const loud = fakeLogger();
    const ephemeral = new PartnerCredentials({} as AppConfig, loud.logger);
    const { key, hash } = ephemeral.mintKey('test');
    expect(hash).toBe(partnerKeyHash(tokenPepper({} as AppConfig, 'partner-credentials', 'partner keys and client secrets', { warn: () => undefined }), key));
    expect(loud.warnings).toEqual(['AUTH_TOKEN_PEPPER is not set: partner keys and client secrets will not survive a restart of this process']);
  });
});

describe('PasswordHasher', () => {
  it('hashes and verifies, and keeps one dummy hash (which no password verifies) for unknown accounts', async () => {
    const sut = new PasswordHasher();
    const encoded = await sut.hash('correct horse');
    expect(encoded).toMatch(/^\$argon2id\$/);
    expect(await sut.verify(encoded, 'correct horse')).toBe(true);
    expect(await sut.verify(encoded, 'wrong horse')).toBe(false);
    const dummy = await sut.dummyHash();
    expect(dummy).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(await sut.dummyHash()).toBe(dummy);
    expect(await sut.verify(dummy, '')).toBe(false);
    expect(await new PasswordHasher().dummyHash()).not.toBe(dummy);
  });
});

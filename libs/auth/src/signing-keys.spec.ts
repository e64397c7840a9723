import { exportJWK, generateKeyPair, type JWK } from 'jose';
import { describe, expect, it } from 'vitest';
import type { AppConfig } from '@benteng/config';
import { generateSigningJwk, parseSigningKeys, SigningKeys } from './signing-keys.js';

async function es256Jwk(kid: string): Promise<JWK> {
  const { privateKey } = await generateKeyPair('ES256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid };
}
async function rejected(json: string): Promise<string> {
  return parseSigningKeys(json).then(
    () => 'accepted',
    (error: unknown) => (error as Error).message,
  );
}

describe('parseSigningKeys', () => {
  it('reads Ed25519 and P-256 private JWKs, in order, with a public JWK that carries no private part', async () => {
    const ed = await generateSigningJwk();
    const ec = await es256Jwk('ec-1');
    const [first, second, ...rest] = await parseSigningKeys(JSON.stringify([ed, ec]));
    expect(rest).toEqual([]);
    expect(first).toMatchObject({ kid: ed.kid, alg: 'EdDSA' });
    expect(first!.publicJwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: ed.x, kid: ed.kid, alg: 'EdDSA', use: 'sig' });
    expect(second).toMatchObject({ kid: 'ec-1', alg: 'ES256' });
    expect(second!.publicJwk).toEqual({ kty: 'EC', crv: 'P-256', x: ec.x, y: ec.y, kid: 'ec-1', alg: 'ES256', use: 'sig' });
    expect(first!.privateKey.type).toBe('private');
    expect(first!.publicKey.type).toBe('public');
    expect(second!.privateKey.type).toBe('private');
    expect(second!.publicKey.type).toBe('public');
  });

  it('generates Ed25519 keys with a dated random kid', async () => {
    const jwk = await generateSigningJwk();
    expect(jwk).toMatchObject({ kty: 'OKP', crv: 'Ed25519' });
    expect(typeof jwk.d).toBe('string');
    expect(jwk.kid).toMatch(/^k\d{8}-[0-9a-f]{8}$/);
    expect(jwk.kid!.slice(1, 9)).toBe(new Date().toISOString().slice(0, 10).replaceAll('-', ''));
  });

  it('refuses anything else, naming the problem and never the key material', async () => {
    const ed = await generateSigningJwk();
    const { d: _private, ...publicOnly } = ed;
    expect(await rejected('{')).toBe('AUTH_SIGNING_KEYS is not valid JSON');
    expect(await rejected('[]')).toBe('AUTH_SIGNING_KEYS must be a non-empty JSON array of private JWKs');
    expect(await rejected(JSON.stringify(ed))).toBe('AUTH_SIGNING_KEYS must be a non-empty JSON array of private JWKs');
    expect(await rejected(JSON.stringify([{ ...ed, kid: undefined }]))).toBe('AUTH_SIGNING_KEYS: every key needs a kid');
    expect(await rejected(JSON.stringify([{ ...ed, kid: '' }]))).toBe('AUTH_SIGNING_KEYS: every key needs a kid');
    expect(await rejected(JSON.stringify([{ ...ed, kid: 7 }]))).toBe('AUTH_SIGNING_KEYS: every key needs a kid');
    expect(await rejected(JSON.stringify([publicOnly]))).toBe('AUTH_SIGNING_KEYS: keys must be private JWKs (with "d")');
    expect(await rejected(JSON.stringify([ed, { ...(await generateSigningJwk()), kid: ed.kid }]))).toBe('AUTH_SIGNING_KEYS: kids must be unique');
    const x25519 = { ...ed, crv: 'X25519' };
    expect(await rejected(JSON.stringify([x25519]))).toBe('AUTH_SIGNING_KEYS: each key must be an Ed25519 (OKP) or P-256 (EC) private JWK');
    expect(await rejected(JSON.stringify([{ ...(await es256Jwk('p384')), crv: 'P-384' }]))).toBe('AUTH_SIGNING_KEYS: each key must be an Ed25519 (OKP) or P-256 (EC) private JWK');
    expect(await rejected(JSON.stringify([{ ...ed, kty: 'EC' }]))).toBe('AUTH_SIGNING_KEYS: each key must be an Ed25519 (OKP) or P-256 (EC) private JWK');
    expect(await rejected(JSON.stringify([{ kty: 'oct', k: 'c2VjcmV0', d: 'x', kid: 'hs' }]))).toBe('AUTH_SIGNING_KEYS: each key must be an Ed25519 (OKP) or P-256 (EC) private JWK');
  });
});

describe('SigningKeys', () => {
  function make(config: Partial<AppConfig>) {
    const warnings: unknown[] = [];
    const contexts: unknown[] = [];
    const logger = { setContext: (name: string) => contexts.push(name), warn: (message: unknown) => warnings.push(message) };
    return { warnings, contexts, sut: new SigningKeys(config as AppConfig, logger as never) };
  }

  it('the first configured key signs, every key is found by kid, and only public JWKs are published', async () => {
    const first = await generateSigningJwk();
    const second = await es256Jwk('retired');
    const { sut, warnings, contexts } = make({ AUTH_SIGNING_KEYS: JSON.stringify([first, second]) });
    expect(contexts).toEqual(['SigningKeys']);
    expect(() => sut.active).toThrow('signing keys are not loaded');
    await sut.onModuleInit();
    expect(warnings).toEqual([]);
    expect(sut.active.kid).toBe(first.kid);
    expect(sut.find('retired')?.alg).toBe('ES256');
    expect(sut.find('unknown')).toBeUndefined();
    expect(sut.publicJwks.keys.map((k) => k.kid)).toEqual([first.kid, 'retired']);
    expect(JSON.stringify(sut.publicJwks)).not.toContain('"d"');
  });

  it('without AUTH_SIGNING_KEYS: one ephemeral Ed25519 key, and a warning', async () => {
    const { sut, warnings } = make({});
    await sut.onModuleInit();
    expect(sut.active.alg).toBe('EdDSA');
    expect(sut.publicJwks.keys).toHaveLength(1);
    expect(warnings).toEqual(['AUTH_SIGNING_KEYS is not set: using an ephemeral signing key for this process']);
  });
});

import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { PartnerErrorCode } from './partner.errors.js';
import { jwkOfPem, signingKeyMaterial as sut } from './signing-key-material.js';

/** RFC 8037 Appendix A.2 / A.3: the Ed25519 public key and its RFC 7638 thumbprint. */
const RFC_8037_X = '11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo';
const RFC_8037_THUMBPRINT = 'kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k';

const invalid = expect.objectContaining({ code: PartnerErrorCode.InvalidSigningKey });

describe('signingKeyMaterial', () => {
  it('names a key by its RFC 7638 thumbprint (the RFC 8037 example), whether given as JWK or as PEM', async () => {
    const fromJwk = await sut({ jwk: { kty: 'OKP', crv: 'Ed25519', x: RFC_8037_X } });
    expect(fromJwk.keyid).toBe(RFC_8037_THUMBPRINT);
    expect(fromJwk.jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: RFC_8037_X });
    const fromPem = await sut({ pem: fromJwk.publicKeyPem });
    expect(fromPem).toEqual(fromJwk);
    expect(jwkOfPem(fromJwk.publicKeyPem)).toEqual(fromJwk.jwk);
  });

  it('refuses private keys, other key types, both forms or neither, and garbage', async () => {
    const ed = generateKeyPairSync('ed25519');
    await expect(sut({ jwk: ed.privateKey.export({ format: 'jwk' }) })).rejects.toEqual(invalid);
    await expect(sut({ pem: ed.privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() })).rejects.toEqual(invalid);
    await expect(sut({ pem: generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString() })).rejects.toEqual(invalid);
    await expect(sut({ pem: generateKeyPairSync('x25519').publicKey.export({ format: 'pem', type: 'spki' }).toString() })).rejects.toEqual(invalid);
    await expect(sut({ jwk: { kty: 'OKP', crv: 'X25519', x: RFC_8037_X } })).rejects.toEqual(invalid);
    await expect(sut({ jwk: { kty: 'OKP', crv: 'Ed25519', x: 'short' } })).rejects.toEqual(invalid);
    await expect(sut({ jwk: { kty: 'OKP', crv: 'Ed25519', x: RFC_8037_X }, pem: 'x' })).rejects.toEqual(invalid);
    await expect(sut({})).rejects.toEqual(invalid);
    await expect(sut({ pem: '-----BEGIN PUBLIC KEY-----\nnot base64\n-----END PUBLIC KEY-----\n' })).rejects.toEqual(invalid);
  });
});

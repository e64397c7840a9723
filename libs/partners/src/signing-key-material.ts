import { createPublicKey, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint } from 'jose';
import { PartnerError, PartnerErrorCode } from './partner.errors.js';

/** An Ed25519 public key as JWK (RFC 8037): the only members a thumbprint and a verifier need. */
export interface Ed25519PublicJwk {
  kty: 'OKP';
  crv: 'Ed25519';
  x: string;
}

/** A registered key in the forms it is stored (SPKI PEM), named (RFC 7638 thumbprint) and shown (JWK) in. */
export interface SigningKeyMaterial {
  keyid: string;
  publicKeyPem: string;
  jwk: Ed25519PublicJwk;
}

/** Longest PEM a public Ed25519 key can take with generous whitespace; anything longer is not one. */
export const MAX_PUBLIC_KEY_PEM = 1_000;

const invalid = () => new PartnerError(PartnerErrorCode.InvalidSigningKey);

/**
 * Reads the public key a partner registers, as a JWK or an SPKI PEM, through node:crypto (which
 * parses and validates the encoding). Only Ed25519 public keys pass: a private key is refused
 * rather than reduced to its public half, because whoever sends one has leaked it (the owner must
 * generate a new pair). The keyid is the RFC 7638 thumbprint, computed by jose, so a partner can
 * compute it from its own key and no identifier has to be handed back and forth.
 */
export async function signingKeyMaterial(input: { jwk?: Record<string, unknown>; pem?: string }): Promise<SigningKeyMaterial> {
  if ((input.jwk === undefined) === (input.pem === undefined)) throw invalid();
  let key: KeyObject;
  try {
    if (input.pem !== undefined) {
      // node:crypto would derive the public half of a private PEM: only a PUBLIC KEY block passes.
      if (input.pem.length > MAX_PUBLIC_KEY_PEM || !input.pem.trimStart().startsWith('-----BEGIN PUBLIC KEY-----') || input.pem.includes('PRIVATE')) throw invalid();
      key = createPublicKey({ key: input.pem, format: 'pem' });
    } else {
      const jwk = input.jwk as Record<string, unknown>;
      if ('d' in jwk || jwk['kty'] !== 'OKP' || jwk['crv'] !== 'Ed25519' || typeof jwk['x'] !== 'string') throw invalid();
      key = createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: jwk['x'] }, format: 'jwk' });
    }
  } catch {
    throw invalid();
  }
  if (key.type !== 'public' || key.asymmetricKeyType !== 'ed25519') throw invalid();
  const exported = key.export({ format: 'jwk' });
  if (typeof exported.x !== 'string' || exported.x.length !== 43) throw invalid();
  const jwk: Ed25519PublicJwk = { kty: 'OKP', crv: 'Ed25519', x: exported.x };
  return { keyid: await calculateJwkThumbprint(jwk, 'sha256'), publicKeyPem: key.export({ format: 'pem', type: 'spki' }).toString(), jwk };
}

/** The JWK of a stored key (for listings). */
export function jwkOfPem(pem: string): Ed25519PublicJwk {
  const exported = createPublicKey({ key: pem, format: 'pem' }).export({ format: 'jwk' });
  return { kty: 'OKP', crv: 'Ed25519', x: String(exported.x) };
}

import { defineErrors } from '@benteng/common';

/**
 * Why a /partner/v1 request's RFC 9421 signature was refused. Each is a 401 with its own code, so a
 * partner's developer can tell what to fix; none says anything about another client or tenant (a
 * key of another client is `signature.unknown_key`, exactly as a key that does not exist).
 */
export enum SignatureErrorCode {
  Missing = 'signature.missing',
  Malformed = 'signature.malformed',
  Insufficient = 'signature.insufficient',
  UnknownKey = 'signature.unknown_key',
  KeyRevoked = 'signature.key_revoked',
  Algorithm = 'signature.algorithm',
  Expired = 'signature.expired',
  Replayed = 'signature.replayed',
  DigestMismatch = 'signature.digest_mismatch',
  Invalid = 'signature.invalid',
}

export class SignatureError extends defineErrors<SignatureErrorCode>({
  [SignatureErrorCode.Missing]: { kind: 'unauthenticated', message: 'This request must carry an RFC 9421 signature (Signature and Signature-Input headers).' },
  [SignatureErrorCode.Malformed]: { kind: 'unauthenticated', message: 'The Signature, Signature-Input or Content-Digest header is malformed, or holds more than one signature.' },
  [SignatureErrorCode.Insufficient]: {
    kind: 'unauthenticated',
    message: 'The signature must cover "@method", "@target-uri" and, with a body, "content-digest", and carry the created, keyid and nonce parameters.',
  },
  [SignatureErrorCode.UnknownKey]: { kind: 'unauthenticated', message: 'The keyid names no signing key of this partner client.' },
  [SignatureErrorCode.KeyRevoked]: { kind: 'unauthenticated', message: 'The signing key is revoked.' },
  [SignatureErrorCode.Algorithm]: { kind: 'unauthenticated', message: 'Only alg "ed25519" is accepted.' },
  [SignatureErrorCode.Expired]: { kind: 'unauthenticated', message: 'The signature was created outside the accepted window, or has expired; check your clock.' },
  [SignatureErrorCode.Replayed]: { kind: 'unauthenticated', message: 'This nonce was already used; sign every request with a new nonce.' },
  [SignatureErrorCode.DigestMismatch]: { kind: 'unauthenticated', message: 'The Content-Digest is missing, has no sha-256 or sha-512 member, or does not match the body.' },
  [SignatureErrorCode.Invalid]: { kind: 'unauthenticated', message: 'The signature does not verify.' },
}) {}

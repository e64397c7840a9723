import type { PartnerSigningKeyView } from '@benteng/partners';
import { dateTime, isoOrNull, nullable, object, ref, uuid, type Schema } from '../http/response-shape.js';

/** A request-signing public key of a partner client (docs/request-signing.md): nothing here is secret. */
export interface PartnerSigningKeyResponse {
  id: string;
  keyid: string;
  alg: string;
  jwk: { kty: 'OKP'; crv: 'Ed25519'; x: string };
  label: string | null;
  status: 'active' | 'revoked';
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export function partnerSigningKeyResponse(key: PartnerSigningKeyView): PartnerSigningKeyResponse {
  return {
    id: key.id,
    keyid: key.keyid,
    alg: key.alg,
    jwk: { kty: key.jwk.kty, crv: key.jwk.crv, x: key.jwk.x },
    label: key.label,
    status: key.status,
    createdAt: key.createdAt.toISOString(),
    revokedAt: isoOrNull(key.revokedAt),
    lastUsedAt: isoOrNull(key.lastUsedAt),
  };
}

const SIGNING_KEY_PROPERTIES: Record<string, Schema> = {
  id: uuid,
  keyid: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$', description: 'The RFC 9421 keyid to sign with: the key\'s RFC 7638 JWK SHA-256 thumbprint.' },
  alg: { type: 'string', enum: ['ed25519'] },
  jwk: object({ kty: { type: 'string', enum: ['OKP'] }, crv: { type: 'string', enum: ['Ed25519'] }, x: { type: 'string', pattern: '^[A-Za-z0-9_-]{43}$' } }),
  label: nullable({ type: 'string', maxLength: 100 }),
  status: { type: 'string', enum: ['active', 'revoked'] },
  createdAt: dateTime,
  revokedAt: nullable(dateTime),
  lastUsedAt: nullable(dateTime),
};

/** The OpenAPI component schemas and success bodies of PartnerSigningKeysController (apps/api/src/openapi/openapi.schemas.ts). */
export const PARTNER_SIGNING_KEY_RESPONSE_SCHEMAS: Record<string, Schema> = {
  PartnerSigningKey: object(SIGNING_KEY_PROPERTIES),
  PartnerSigningKeyList: object({ items: { type: 'array', items: ref('PartnerSigningKey') } }),
};

export const PARTNER_SIGNING_KEY_SUCCESS_BODIES: Record<string, { json: string }> = {
  'PartnerSigningKeysController.list': { json: 'PartnerSigningKeyList' },
  'PartnerSigningKeysController.register': { json: 'PartnerSigningKey' },
  'PartnerSigningKeysController.revoke': { json: 'PartnerSigningKey' },
};

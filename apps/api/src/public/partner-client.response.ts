import { PARTNER_SCOPES, PARTNER_TIERS } from '@benteng/authz';
import type { PartnerClientView, PartnerKeyView } from '@benteng/partners';
import { dateTime, isoOrNull, nullable, object, ref, uuid, type Schema } from '../http/response-shape.js';

/**
 * The public shapes of partner clients and their API keys. Built field by field: no tenant id, no
 * creator id, and never a secret's hash. A credential in clear appears only in the response of the
 * call that made it (clientSecret, key); that response is the only copy there will ever be.
 */
export interface PartnerClientResponse {
  id: string;
  name: string;
  environment: 'live' | 'test';
  scopes: string[];
  tier: 'free' | 'standard' | 'premium';
  ipAllowlist: string[];
  requireSignatures: boolean;
  expiresAt: string | null;
  revokedAt: string | null;
  status: 'active' | 'revoked' | 'expired';
  createdAt: string;
  updatedAt: string;
  version: number;
}

/**
 * Create and secret rotation: the client, its id under the name OAuth clients use, and the secret.
 * `clientSecret` is null only in an Idempotency-Key replay: the secret is never stored, so a client
 * whose first response was lost rotates the secret (POST /v1/partner-clients/:id/secret).
 */
export interface PartnerClientWithSecretResponse extends PartnerClientResponse {
  clientId: string;
  clientSecret: string | null;
}

export interface PartnerKeyResponse {
  id: string;
  prefix: string;
  environment: 'live' | 'test';
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  replacedById: string | null;
}

/** A new key: its metadata and, once, the key. `key` is null only in an Idempotency-Key replay. */
export interface PartnerKeyWithSecretResponse extends PartnerKeyResponse {
  key: string | null;
}

export function partnerClientResponse(client: PartnerClientView): PartnerClientResponse {
  return {
    id: client.id,
    name: client.name,
    environment: client.environment,
    scopes: [...client.scopes],
    tier: client.tier,
    ipAllowlist: [...client.ipAllowlist],
    requireSignatures: client.requireSignatures,
    expiresAt: isoOrNull(client.expiresAt),
    revokedAt: isoOrNull(client.revokedAt),
    status: client.status,
    createdAt: client.createdAt.toISOString(),
    updatedAt: client.updatedAt.toISOString(),
    version: client.version,
  };
}

/** `clientSecret` starts null: RevealOnceInterceptor fills it in on the first response only. */
export function partnerClientWithSecretResponse(client: PartnerClientView): PartnerClientWithSecretResponse {
  return { ...partnerClientResponse(client), clientId: client.id, clientSecret: null };
}

export function partnerKeyResponse(key: PartnerKeyView): PartnerKeyResponse {
  return {
    id: key.id,
    prefix: key.prefix,
    environment: key.environment,
    createdAt: key.createdAt.toISOString(),
    expiresAt: isoOrNull(key.expiresAt),
    lastUsedAt: isoOrNull(key.lastUsedAt),
    revokedAt: isoOrNull(key.revokedAt),
    replacedById: key.replacedById,
  };
}

/** `key` starts null: RevealOnceInterceptor fills it in on the first response only. */
export function partnerKeyWithSecretResponse(key: PartnerKeyView): PartnerKeyWithSecretResponse {
  return { ...partnerKeyResponse(key), key: null };
}

const environment: Schema = { type: 'string', enum: ['live', 'test'] };

const CLIENT_PROPERTIES: Record<string, Schema> = {
  id: uuid,
  name: { type: 'string', minLength: 1, maxLength: 100 },
  environment,
  scopes: { type: 'array', items: { type: 'string', enum: [...PARTNER_SCOPES] } },
  tier: { type: 'string', enum: [...PARTNER_TIERS] },
  ipAllowlist: { type: 'array', items: { type: 'string', description: 'CIDR range, normalized' }, description: 'Empty: every address.' },
  requireSignatures: { type: 'boolean', description: 'Every /partner/v1 request of this client must carry a valid RFC 9421 signature.' },
  expiresAt: nullable(dateTime),
  revokedAt: nullable(dateTime),
  status: { type: 'string', enum: ['active', 'revoked', 'expired'] },
  createdAt: dateTime,
  updatedAt: dateTime,
  version: { type: 'integer' },
};
const KEY_PROPERTIES: Record<string, Schema> = {
  id: uuid,
  prefix: { type: 'string', pattern: '^[a-z2-7]{12}$', description: 'The non-secret lookup part of the key.' },
  environment,
  createdAt: dateTime,
  expiresAt: nullable(dateTime),
  lastUsedAt: nullable(dateTime),
  revokedAt: nullable(dateTime),
  replacedById: nullable(uuid),
};

/**
 * The OpenAPI component schemas of these shapes and the success body of every route of
 * PartnerClientsController, for apps/api/src/openapi/openapi.schemas.ts (RESPONSE_SCHEMAS and
 * SUCCESS_BODIES) to spread in.
 */
export const PARTNER_CLIENT_RESPONSE_SCHEMAS: Record<string, Schema> = {
  PartnerClient: object(CLIENT_PROPERTIES),
  PartnerClientPage: object({ items: { type: 'array', items: ref('PartnerClient') }, nextCursor: nullable({ type: 'string' }) }),
  PartnerClientWithSecret: object({
    ...CLIENT_PROPERTIES,
    clientId: uuid,
    clientSecret: nullable({ type: 'string', pattern: '^bt_cs_[A-Za-z0-9_-]{43}$', description: 'Shown once. null in an Idempotency-Key replay: rotate the secret if the first response was lost.' }),
  }),
  PartnerKey: object(KEY_PROPERTIES),
  PartnerKeyList: object({ items: { type: 'array', items: ref('PartnerKey') } }),
  PartnerKeyWithSecret: object({
    ...KEY_PROPERTIES,
    key: nullable({ type: 'string', pattern: '^bt_(live|test)_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$', description: 'Shown once. null in an Idempotency-Key replay: revoke that key and create another.' }),
  }),
};

export const PARTNER_CLIENT_SUCCESS_BODIES: Record<string, { json: string }> = {
  'PartnerClientsController.list': { json: 'PartnerClientPage' },
  'PartnerClientsController.create': { json: 'PartnerClientWithSecret' },
  'PartnerClientsController.get': { json: 'PartnerClient' },
  'PartnerClientsController.update': { json: 'PartnerClient' },
  'PartnerClientsController.revoke': { json: 'PartnerClient' },
  'PartnerClientsController.rotateSecret': { json: 'PartnerClientWithSecret' },
  'PartnerClientsController.listKeys': { json: 'PartnerKeyList' },
  'PartnerClientsController.createKey': { json: 'PartnerKeyWithSecret' },
  'PartnerClientsController.rotateKey': { json: 'PartnerKeyWithSecret' },
  'PartnerClientsController.revokeKey': { json: 'PartnerKey' },
};

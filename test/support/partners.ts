import { randomBytes, randomUUID } from 'node:crypto';
import type pg from 'pg';
import type { PinoLogger } from 'nestjs-pino';
import request from 'supertest';
import { PartnerCredentials, type PartnerEnvironment } from '@benteng/auth';
import type { PartnerScope, PartnerTier } from '@benteng/authz';
import { loadConfig } from '@benteng/config';
import type { TestApi } from './api.js';
import { ownerInTenant } from './db.js';
import { leakRegistry } from './leak-registry.js';

/**
 * Partner clients and API keys for tests, inserted with the owner connection (the way an operator
 * or the management API would leave them), hashed exactly as the app hashes them: the same
 * PartnerCredentials, with the pepper of the test run (AUTH_TOKEN_PEPPER, test/support/setup-env.ts).
 */
let credentials: PartnerCredentials | undefined;
function partnerCredentials(): PartnerCredentials {
  // The pepper is set, so the logger (used only to warn about a missing one) is never called.
  return (credentials ??= new PartnerCredentials(loadConfig(process.env), { warn: () => undefined } as unknown as PinoLogger));
}

export interface PartnerClientSeed {
  name?: string;
  scopes?: PartnerScope[];
  environment?: PartnerEnvironment;
  tier?: PartnerTier;
  ipAllowlist?: string[];
  expiresAt?: Date | null;
  revokedAt?: Date | null;
}

export interface TestPartnerClient {
  clientId: string;
  clientSecret: string;
}

/** A partner client (default: every scope, the test environment, standard tier, any address). */
export async function createPartnerClient(owner: pg.Pool, tenantId: string, createdByUserId: string, seed: PartnerClientSeed = {}): Promise<TestPartnerClient> {
  const clientId = randomUUID();
  const { secret, hash } = partnerCredentials().mintClientSecret();
  leakRegistry.seeded('partner client secret', secret);
  await ownerInTenant(owner, tenantId, (client) =>
    client.query(
      `INSERT INTO partner_clients (tenant_id, id, name, environment, scopes, tier, ip_allowlist, secret_hash, expires_at, revoked_at, created_by_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
      [
        tenantId,
        clientId,
        seed.name ?? `client-${randomBytes(3).toString('hex')}`,
        seed.environment ?? 'test',
        seed.scopes ?? ['invoices:read', 'invoices:write', 'tickets:read', 'tickets:write', 'documents:read'],
        seed.tier ?? 'standard',
        seed.ipAllowlist ?? [],
        hash,
        seed.expiresAt ?? null,
        seed.revokedAt ?? null,
        createdByUserId,
      ],
    ),
  );
  return { clientId, clientSecret: secret };
}

export interface PartnerKeySeed {
  environment?: PartnerEnvironment;
  expiresAt?: Date | null;
  revokedAt?: Date | null;
  /** Set on a rotated key: the key that replaced it. */
  replacedById?: string | null;
}

export interface TestPartnerKey {
  keyId: string;
  key: string;
  prefix: string;
}

/** An API key of a client (default: the test environment, no expiry). */
export async function createPartnerKey(owner: pg.Pool, tenantId: string, clientId: string, userId: string, seed: PartnerKeySeed = {}): Promise<TestPartnerKey> {
  const keyId = randomUUID();
  const environment = seed.environment ?? 'test';
  const { key, prefix, hash } = partnerCredentials().mintKey(environment);
  leakRegistry.seeded('partner api key', key);
  await ownerInTenant(owner, tenantId, (client) =>
    client.query(
      `INSERT INTO partner_api_keys (tenant_id, id, client_id, prefix, key_hash, environment, expires_at, revoked_at, replaced_by_id, created_by_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
      [tenantId, keyId, clientId, prefix, hash, environment, seed.expiresAt ?? null, seed.revokedAt ?? null, seed.replacedById ?? null, userId],
    ),
  );
  return { keyId, key, prefix };
}

export interface PartnerCallOptions {
  /** API key or access token, sent as `Authorization: Bearer`. */
  credential?: string;
  body?: object;
  headers?: Record<string, string>;
}

/** One call of the partner (or any) surface over supertest, from 127.0.0.1. */
export async function partnerCall(api: TestApi, method: 'get' | 'post' | 'patch' | 'delete', path: string, options: PartnerCallOptions = {}): Promise<request.Response> {
  let test = request(api.app.getHttpServer())[method](path);
  if (options.credential !== undefined) test = test.set('authorization', `Bearer ${options.credential}`);
  for (const [name, value] of Object.entries(options.headers ?? {})) test = test.set(name, value);
  return options.body === undefined ? test : test.send(options.body);
}

export type TokenRequestStyle = 'basic' | 'post' | 'json';

/**
 * POST /partner/oauth/token with grant_type=client_credentials: as a form with HTTP Basic
 * (client_secret_basic), as a form with the credentials in it (client_secret_post), or as JSON.
 */
export function requestPartnerToken(
  api: TestApi,
  client: TestPartnerClient,
  options: { style?: TokenRequestStyle; scope?: string; extra?: Record<string, string>; headers?: Record<string, string> } = {},
): Promise<request.Response> {
  const style = options.style ?? 'basic';
  const params: Record<string, string> = { grant_type: 'client_credentials', ...(options.scope === undefined ? {} : { scope: options.scope }), ...options.extra };
  let test = request(api.app.getHttpServer()).post('/partner/oauth/token');
  for (const [name, value] of Object.entries(options.headers ?? {})) test = test.set(name, value);
  if (style === 'basic') {
    const basic = Buffer.from(`${encodeURIComponent(client.clientId)}:${encodeURIComponent(client.clientSecret)}`).toString('base64');
    return test.set('authorization', `Basic ${basic}`).type('form').send(new URLSearchParams(params).toString());
  }
  const withClient = { ...params, client_id: client.clientId, client_secret: client.clientSecret };
  return style === 'post' ? test.type('form').send(new URLSearchParams(withClient).toString()) : test.send(withClient);
}

/** A token for the client, or a thrown error quoting the answer (for arrangement steps). */
export async function partnerToken(api: TestApi, client: TestPartnerClient, scope?: string): Promise<string> {
  const res = await requestPartnerToken(api, client, scope === undefined ? {} : { scope });
  if (res.status !== 200) throw new Error(`token request answered ${res.status}: ${res.text}`);
  return (res.body as { access_token: string }).access_token;
}

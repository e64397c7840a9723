import { createHash, generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto';
import type pg from 'pg';
import request from 'supertest';
import { calculateJwkThumbprint } from 'jose';
import { createSigner, httpbis } from 'http-message-signatures';
import { loadConfig } from '@benteng/config';
import type { TestApi } from './api.js';
import { ownerInTenant } from './db.js';

/**
 * RFC 9421 request signing from the partner's side, for tests: an Ed25519 key pair, its keyid (the
 * RFC 7638 thumbprint the API uses), the key registered as the owner connection would leave it,
 * and requests signed with http-message-signatures exactly as docs/request-signing.md tells a
 * partner to. Every part of a signature can be bent on purpose (`tamper`), so attack tests can send
 * what an attacker would.
 */
export interface TestSigningKey {
  privateKey: KeyObject;
  publicJwk: { kty: 'OKP'; crv: 'Ed25519'; x: string };
  publicPem: string;
  keyid: string;
}

export async function newSigningKey(): Promise<TestSigningKey> {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const x = String(publicKey.export({ format: 'jwk' }).x);
  const publicJwk = { kty: 'OKP' as const, crv: 'Ed25519' as const, x };
  return { privateKey, publicJwk, publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(), keyid: await calculateJwkThumbprint(publicJwk, 'sha256') };
}

/** Registers `key` for the client directly (arrangement; the management API is tested in its own spec). Returns the row id. */
export async function insertSigningKey(owner: pg.Pool, tenantId: string, clientId: string, userId: string, key: TestSigningKey, seed: { revokedAt?: Date | null } = {}): Promise<string> {
  const id = randomUUID();
  await ownerInTenant(owner, tenantId, (client) =>
    client.query(`INSERT INTO partner_signing_keys (tenant_id, id, client_id, keyid, alg, public_key, created_by_id, revoked_at) VALUES ($1, $2, $3, $4, 'ed25519', $5, $6, $7)`, [
      tenantId,
      id,
      clientId,
      key.keyid,
      key.publicPem,
      userId,
      seed.revokedAt ?? null,
    ]),
  );
  return id;
}

export async function requireSignatures(owner: pg.Pool, tenantId: string, clientId: string, required = true): Promise<void> {
  await ownerInTenant(owner, tenantId, (client) => client.query('UPDATE partner_clients SET require_signatures = $3 WHERE tenant_id = $1 AND id = $2', [tenantId, clientId, required]));
}

/** The origin the test app signs against: PUBLIC_BASE_URL, else http://127.0.0.1:PORT (apps/api/src/public/well-known.controller.ts). */
export function signingOrigin(): string {
  const config = loadConfig(process.env);
  return config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${config.PORT}`;
}

export const contentDigest = (body: string | Buffer, algorithm: 'sha-256' | 'sha-512' = 'sha-256') =>
  `${algorithm}=:${createHash(algorithm === 'sha-256' ? 'sha256' : 'sha512').update(body).digest('base64')}:`;

export interface SignOptions {
  /** The signing key, and the keyid to name (default: its own thumbprint). */
  key: TestSigningKey;
  keyid?: string;
  nonce?: string;
  /** Unix seconds (default: now). */
  created?: number;
  alg?: string | null;
  /** Components to cover (default: @method, @target-uri, and content-digest when there is a body). */
  components?: string[];
  /** Sign as if the target URI were this (default: the signing origin + path). */
  signedUri?: string;
  /** Sign as if the method were this. */
  signedMethod?: string;
  /** Content-Digest header to send (default: the sha-256 digest of the body). */
  digest?: string | null;
}

/** Signature, Signature-Input and (with a body) Content-Digest headers for one request. */
export async function signatureHeaders(method: string, path: string, body: string | undefined, options: SignOptions): Promise<Record<string, string>> {
  const headers: Record<string, string> = {};
  const digest = options.digest === undefined ? (body === undefined ? null : contentDigest(body)) : options.digest;
  if (digest !== null) headers['content-digest'] = digest;
  const components = options.components ?? ['@method', '@target-uri', ...(digest !== null ? ['content-digest'] : [])];
  const alg = options.alg === undefined ? 'ed25519' : options.alg;
  const signed = await httpbis.signMessage(
    {
      key: createSigner(options.key.privateKey, 'ed25519', options.keyid ?? options.key.keyid),
      fields: components,
      params: ['created', 'keyid', 'nonce', ...(alg === null ? [] : ['alg'])],
      paramValues: {
        created: new Date((options.created ?? Math.floor(Date.now() / 1000)) * 1000),
        nonce: options.nonce ?? randomBytes(16).toString('base64url'),
        ...(alg === null ? {} : { alg }),
      },
    },
    { method: options.signedMethod ?? method, url: options.signedUri ?? `${signingOrigin()}${path}`, headers },
  );
  return Object.fromEntries(Object.entries(signed.headers).map(([name, value]) => [name.toLowerCase(), Array.isArray(value) ? value.join(', ') : value]));
}

/** A partner call with a bearer credential and, when `sign` is given, a signature. `sentBody` replaces the body after signing (tampering). */
export async function signedCall(
  api: TestApi,
  method: 'GET' | 'POST',
  path: string,
  options: { credential: string; body?: object; sign?: SignOptions; sentBody?: string; sentPath?: string; extraHeaders?: Record<string, string> },
): Promise<request.Response> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  const headers = options.sign ? await signatureHeaders(method, path, body, options.sign) : {};
  let test = request(api.app.getHttpServer())[method === 'GET' ? 'get' : 'post'](options.sentPath ?? path).set('authorization', `Bearer ${options.credential}`);
  for (const [name, value] of Object.entries({ ...headers, ...options.extraHeaders })) test = test.set(name, value);
  const sent = options.sentBody ?? body;
  return sent === undefined ? test : test.set('content-type', 'application/json').send(sent);
}

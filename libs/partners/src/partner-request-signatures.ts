import { createHash, createPublicKey, timingSafeEqual } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { createVerifier, ExpiredError, httpbis, MalformedSignatureError, UnacceptableSignatureError, UnknownKeyError, UnsupportedAlgorithmError, type SignatureParameters, type VerifyingKey } from 'http-message-signatures';
import { Dictionary } from 'http-message-signatures/lib/structured-header.js';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { Scope } from '@benteng/tenancy';
import { PartnerSigningKeysRepository, type SigningKeyRow } from './partner-signing-keys.repository.js';
import { SignatureError, SignatureErrorCode } from './request-signature.errors.js';
import { SignatureNonceStore } from './signature-nonce-store.js';

/** The components every signature must cover (RFC 9421 §2.2), and the digest field when there is a body (RFC 9530). */
export const REQUIRED_COMPONENTS = ['@method', '@target-uri'] as const;
export const DIGEST_COMPONENT = 'content-digest';
/** Signature parameters every signature must carry (RFC 9421 §2.3). */
export const REQUIRED_PARAMETERS = ['created', 'keyid', 'nonce'] as const;
export const SIGNATURE_ALGORITHM = 'ed25519';
/**
 * RFC 9421 §5.1 Accept-Signature: what a refused request should have carried, sent with every
 * signature refusal so a client library can build the right signature.
 */
export const ACCEPT_SIGNATURE = `sig1=("@method" "@target-uri" "content-digest");created;keyid;nonce;alg="${SIGNATURE_ALGORITHM}"`;

/** A nonce: 16-128 characters, URL-safe, so a Redis key stays small and unambiguous. */
const NONCE = /^[A-Za-z0-9_\-.~+/=]{16,128}$/;
const KEYID = /^[A-Za-z0-9_-]{43}$/;
const BYTE_SEQUENCE = /^:([A-Za-z0-9+/]*={0,2}):$/;
/** RFC 9530 algorithms accepted in Content-Digest, and their node:crypto names. */
const DIGESTS = { 'sha-512': 'sha512', 'sha-256': 'sha256' } as const;
/** lastUsedAt of a signing key is written at most this often. */
const LAST_USED_RESOLUTION_MS = 60_000;

/** One request as the verifier needs it: what the signature covers, as received. */
export interface SignedRequest {
  method: string;
  /** RFC 9421 @target-uri: the API's configured origin + path and query exactly as sent. */
  targetUri: string;
  headers: Record<string, string | string[] | undefined>;
  /** The body bytes as received; undefined when they were not kept. */
  rawBody: Buffer | undefined;
  /** The request announced a body (Content-Length > 0 or Transfer-Encoding). */
  hasBody: boolean;
}

/** Who sent it, from the verified credential: the signing key must be this client's. */
export interface SignatureCaller {
  tenantId: string;
  clientId: string;
}

export type SignatureOutcome = { signed: false } | { signed: true; keyid: string; signingKeyId: string };

/**
 * Verifies RFC 9421 HTTP Message Signatures on /partner/v1 requests (docs/request-signing.md),
 * with the maintained http-message-signatures library for the signature base and the Ed25519
 * check. Around it, what the library leaves to the application:
 * - when a signature is required: always for a client whose `requireSignatures` flag is set; on a
 *   high-trust route for a client with at least one active key; and whenever a request carries one
 *   anyway (a signature that is present is never ignored);
 * - the key: named by `keyid`, found in the caller's tenant only, and only if it belongs to the same
 *   client as the API key or token (another client's key is "unknown", not "forbidden"), active;
 * - coverage: @method, @target-uri, content-digest with a body; created, keyid and nonce; alg, if
 *   given, ed25519;
 * - time: `created` within PARTNER_SIGNATURE_TOLERANCE_S of the injected Clock, either way, and
 *   `expires`, if given, not passed;
 * - the body: Content-Digest (RFC 9530, sha-256 and/or sha-512) recomputed over the raw bytes;
 * - replay: the nonce is remembered per tenant and keyid for twice the tolerance (the whole window
 *   in which the same `created` could still pass), only after everything else verified, so a
 *   forged request cannot burn a genuine client's nonce.
 */
@Injectable()
export class PartnerRequestSignatures {
  constructor(
    private readonly keys: PartnerSigningKeysRepository,
    private readonly nonces: SignatureNonceStore,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async verify(caller: SignatureCaller, request: SignedRequest, route: { highTrust: boolean }): Promise<SignatureOutcome> {
    const scope = Scope.for(caller.tenantId, { kind: 'system', name: 'partner-auth' });
    const present = header(request.headers, 'signature') !== undefined || header(request.headers, 'signature-input') !== undefined;
    if (!present) {
      const requirement = await this.keys.signingState(scope, caller.clientId, undefined);
      if (requirement.requireSignatures || (route.highTrust && requirement.hasActiveKey)) throw new SignatureError(SignatureErrorCode.Missing);
      return { signed: false };
    }
    const nowS = this.clock.nowSeconds();
    const toleranceS = this.config.PARTNER_SIGNATURE_TOLERANCE_S;
    let lookups = 0;
    let used: { key: SigningKeyRow; nonce: string } | undefined;
    const keyLookup = async (params: SignatureParameters): Promise<VerifyingKey> => {
      // One signature per request: with several, which one authorizes the request would be ambiguous.
      if (++lookups > 1) throw new SignatureError(SignatureErrorCode.Malformed);
      const { keyid, nonce, created, alg, expires } = params;
      if (typeof keyid !== 'string' || typeof nonce !== 'string' || !(created instanceof Date)) throw new SignatureError(SignatureErrorCode.Insufficient);
      if (!KEYID.test(keyid)) throw new SignatureError(SignatureErrorCode.UnknownKey);
      if (!NONCE.test(nonce)) throw new SignatureError(SignatureErrorCode.Malformed);
      if (alg !== undefined && alg !== SIGNATURE_ALGORITHM) throw new SignatureError(SignatureErrorCode.Algorithm);
      const createdS = created.getTime() / 1000;
      if (!Number.isInteger(createdS) || Math.abs(nowS - createdS) > toleranceS) throw new SignatureError(SignatureErrorCode.Expired);
      if (expires !== undefined && !(typeof expires === 'number' && expires > nowS)) throw new SignatureError(SignatureErrorCode.Expired);
      const { key } = await this.keys.signingState(scope, caller.clientId, keyid);
      if (!key || key.clientId !== caller.clientId) throw new SignatureError(SignatureErrorCode.UnknownKey);
      if (key.revokedAt) throw new SignatureError(SignatureErrorCode.KeyRevoked);
      used = { key, nonce };
      return { id: key.keyid, algs: [SIGNATURE_ALGORITHM], verify: createVerifier(createPublicKey(key.publicKey), SIGNATURE_ALGORITHM) };
    };

    const requiredFields: string[] = [...REQUIRED_COMPONENTS, ...(request.hasBody ? [DIGEST_COMPONENT] : [])];
    let verified: boolean | null;
    try {
      verified = await httpbis.verifyMessage(
        // notAfter / tolerance from the injected clock; the window itself is checked in keyLookup.
        { keyLookup, requiredFields, requiredParams: [...REQUIRED_PARAMETERS], notAfter: nowS + toleranceS },
        { method: request.method, url: request.targetUri, headers: definedHeaders(request.headers) },
      );
    } catch (error) {
      throw refusalOf(error);
    }
    if (verified !== true || !used) throw new SignatureError(SignatureErrorCode.Invalid);
    if (request.hasBody || header(request.headers, DIGEST_COMPONENT) !== undefined) this.checkDigest(request);
    if (!(await this.nonces.remember(`${caller.tenantId}:${used.key.keyid}:${used.nonce}`, 2 * toleranceS + 1))) throw new SignatureError(SignatureErrorCode.Replayed);
    await this.touch(scope, used.key);
    return { signed: true, keyid: used.key.keyid, signingKeyId: used.key.id };
  }

  /**
   * RFC 9530: every member we know (sha-256, sha-512) must match the raw body, and at least one
   * must be present; unknown algorithms are ignored as the RFC allows. A body whose bytes were not
   * kept cannot be checked and is refused (fail closed).
   */
  private checkDigest(request: SignedRequest): void {
    const value = header(request.headers, DIGEST_COMPONENT);
    if (value === undefined || (request.hasBody && request.rawBody === undefined)) throw new SignatureError(SignatureErrorCode.DigestMismatch);
    let digests: Dictionary;
    try {
      digests = new Dictionary(value);
    } catch {
      throw new SignatureError(SignatureErrorCode.Malformed);
    }
    const body = request.rawBody ?? Buffer.alloc(0);
    let checked = 0;
    for (const [name, algorithm] of Object.entries(DIGESTS)) {
      if (!digests.has(name)) continue;
      const match = BYTE_SEQUENCE.exec(digests.get(name) ?? '');
      if (!match) throw new SignatureError(SignatureErrorCode.Malformed);
      const expected = createHash(algorithm).update(body).digest();
      const given = Buffer.from(match[1] ?? '', 'base64');
      if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new SignatureError(SignatureErrorCode.DigestMismatch);
      checked++;
    }
    if (checked === 0) throw new SignatureError(SignatureErrorCode.DigestMismatch);
  }

  private async touch(scope: Scope, key: SigningKeyRow): Promise<void> {
    const now = this.clock.now();
    if (key.lastUsedAt && now.getTime() - key.lastUsedAt.getTime() < LAST_USED_RESOLUTION_MS) return;
    await this.keys.touch(scope, key.id, now);
  }
}

/** The library's errors and ours, as one refusal each; anything else in the headers is malformed. */
function refusalOf(error: unknown): SignatureError {
  if (error instanceof SignatureError) return error;
  if (error instanceof UnacceptableSignatureError) return new SignatureError(SignatureErrorCode.Insufficient);
  if (error instanceof UnsupportedAlgorithmError) return new SignatureError(SignatureErrorCode.Algorithm);
  if (error instanceof ExpiredError) return new SignatureError(SignatureErrorCode.Expired);
  if (error instanceof UnknownKeyError) return new SignatureError(SignatureErrorCode.UnknownKey);
  if (error instanceof MalformedSignatureError) return new SignatureError(SignatureErrorCode.Malformed);
  return new SignatureError(SignatureErrorCode.Malformed);
}

function header(headers: SignedRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function definedHeaders(headers: SignedRequest['headers']): Record<string, string | string[]> {
  return Object.fromEntries(Object.entries(headers).filter((entry): entry is [string, string | string[]] => entry[1] !== undefined));
}

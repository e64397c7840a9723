import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { minted, isCanonicalUuid } from '@benteng/common';

/**
 * Signed service requests for the internal listener (/internal/v1). docs/internal-signatures.md
 * describes the scheme for people writing a client; this file is the reference implementation of
 * both sides, built on node:crypto's HMAC-SHA256 and timingSafeEqual only.
 *
 * Canonical string (lines joined by "\n", no trailing newline):
 *
 *   BENTENG-HMAC-SHA256
 *   <METHOD, upper case>
 *   <path exactly as sent, without the query>
 *   <query: pairs decoded, re-encoded per RFC 3986, sorted, "k=v" joined by "&"; empty when none>
 *   <lowercase hex SHA-256 of the raw body bytes (of nothing when there is no body)>
 *   <timestamp, Unix seconds>
 *   <nonce>
 *   <key id>
 *   <operator id, or "-">
 *   <reason header value as sent, or "-">
 *
 * Every header that changes what a request means (operator, reason) is inside the signature, so
 * a proxy or an attacker on the path cannot swap them.
 */
export const SIGNATURE_SCHEME = 'BENTENG-HMAC-SHA256';

export const SERVICE_SIGNATURE_HEADERS = {
  keyId: 'x-benteng-key-id',
  timestamp: 'x-benteng-timestamp',
  nonce: 'x-benteng-nonce',
  signature: 'x-benteng-signature',
  operator: 'x-benteng-operator',
  reason: 'x-benteng-reason',
} as const;

const KEY_ID = /^[A-Za-z0-9_-]{1,32}$/;
const TIMESTAMP = /^[0-9]{1,12}$/;
const NONCE = /^[A-Za-z0-9_-]{16,128}$/;
const SIGNATURE = /^[A-Za-z0-9_-]{43}$/;
/** The reason travels percent-encoded (UTF-8), so any language fits in a header. */
const REASON_HEADER = /^[\x21-\x7e]{1,2000}$/;
const EMPTY = '-';

/** RFC 3986 unreserved characters stay; everything else is %XX (upper case), spaces included. */
export function rfc3986(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * The query part of the canonical string. Pairs are decoded as a form-style query is (URLSearchParams:
 * `+` is a space), re-encoded per RFC 3986 and sorted by key, then value, so two spellings of the
 * same query sign the same, and a changed query never does.
 */
export function canonicalQuery(search: string): string {
  const pairs = [...new URLSearchParams(search.startsWith('?') ? search.slice(1) : search)].map(([k, v]) => [rfc3986(k), rfc3986(v)] as const);
  pairs.sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

export function sha256Hex(body: Buffer | string | undefined): string {
  return createHash('sha256').update(body ?? '').digest('hex');
}

export interface CanonicalRequest {
  method: string;
  /** Path as sent on the request line, without `?` and the query. */
  path: string;
  /** The raw query string (with or without the leading `?`); empty when none. */
  query: string;
  bodySha256: string;
  timestamp: string;
  nonce: string;
  keyId: string;
  operatorId?: string | undefined;
  /** The X-Benteng-Reason header value as sent (percent-encoded). */
  reason?: string | undefined;
}

export function canonicalString(request: CanonicalRequest): string {
  return [
    SIGNATURE_SCHEME,
    request.method.toUpperCase(),
    request.path,
    canonicalQuery(request.query),
    request.bodySha256,
    request.timestamp,
    request.nonce,
    request.keyId,
    request.operatorId || EMPTY,
    request.reason || EMPTY,
  ].join('\n');
}

function hmac(secret: Buffer | string, canonical: string): Buffer {
  return createHmac('sha256', secret).update(canonical, 'utf8').digest();
}

/** Path and raw query of a request target; an absolute URL is reduced to what goes on the request line. */
function splitUrl(url: string): { path: string; query: string } {
  let target = url;
  if (/^https?:\/\//i.test(url)) {
    const parsed = new URL(url);
    target = parsed.pathname + parsed.search;
  }
  const at = target.indexOf('?');
  return at < 0 ? { path: target, query: '' } : { path: target.slice(0, at), query: target.slice(at + 1) };
}

export interface SignServiceRequestInput {
  method: string;
  /** A path with its query (`/internal/v1/tenants?limit=10`) or an absolute URL. */
  url: string;
  /** The exact bytes that will be sent; a string is sent as UTF-8. */
  body?: Buffer | string | undefined;
  keyId: string;
  secret: Buffer | string;
  operatorId?: string | undefined;
  /** Why an operator makes a state-changing call (3-500 characters, any language). */
  reason?: string | undefined;
  /** Unix seconds; the current time by default. */
  now?: number | undefined;
  nonce?: string | undefined;
}

/**
 * The client helper: the headers that sign one request. Send the path, query and body exactly as
 * given here; any byte changed on the way (or any header above) makes the signature fail.
 */
export function signServiceRequest(input: SignServiceRequestInput): Record<string, string> {
  const { path, query } = splitUrl(input.url);
  const timestamp = String(input.now ?? Math.floor(Date.now() / 1000));
  const nonce = input.nonce ?? randomBytes(18).toString('base64url');
  const reason = input.reason === undefined ? undefined : encodeURIComponent(input.reason);
  const canonical = canonicalString({ method: input.method, path, query, bodySha256: sha256Hex(input.body), timestamp, nonce, keyId: input.keyId, operatorId: input.operatorId, reason });
  const h = SERVICE_SIGNATURE_HEADERS;
  return {
    [h.keyId]: input.keyId,
    [h.timestamp]: timestamp,
    [h.nonce]: nonce,
    [h.signature]: minted('internal signature', hmac(input.secret, canonical).toString('base64url')),
    ...(input.operatorId ? { [h.operator]: input.operatorId } : {}),
    ...(reason !== undefined ? { [h.reason]: reason } : {}),
  };
}

/** Why a signed request was refused: logged and audited, never told to the caller. */
export type ServiceSignatureRefusal =
  | 'missing_headers'
  | 'malformed_headers'
  | 'unknown_key'
  | 'stale_timestamp'
  | 'future_timestamp'
  | 'signature_mismatch'
  | 'replayed_nonce'
  | 'nonce_store_unavailable';

/** Remembers a nonce for `ttlS` seconds; false when it was already remembered. Throws when it cannot tell. */
export interface NonceStore {
  remember(key: string, ttlS: number): Promise<boolean>;
}

export interface ServiceKeyLookup {
  /** The secret and owning service of a key id that is currently configured. */
  find(keyId: string): { service: string; secret: Buffer } | undefined;
}

export interface IncomingServiceRequest {
  method: string;
  /** The raw request target (`request.url`): path and query as sent. */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  rawBody: Buffer;
}

export type ServiceSignatureResult =
  | { ok: true; service: string; keyId: string; operatorId?: string; reason?: string }
  | { ok: false; refusal: ServiceSignatureRefusal; keyId?: string; service?: string };

function header(headers: IncomingServiceRequest['headers'], name: string): string | undefined {
  const value = headers[name];
  // A repeated header is ambiguous (which one was signed?): treated as malformed by the caller.
  return Array.isArray(value) ? (value.length === 1 ? value[0] : '\u0000') : value;
}

/**
 * The verifier. Order matters:
 * 1. headers present and well-formed (bounded before anything is computed);
 * 2. the key id is configured now (a rotated-out key is simply no longer configured);
 * 3. the timestamp is within ±tolerance of our clock;
 * 4. the HMAC matches, compared in constant time;
 * 5. only then the nonce is remembered (SET NX EX 2×tolerance), so a caller without a key cannot
 *    fill Redis or burn someone else's nonces. A nonce seen before is a replay. When the store
 *    cannot answer (Redis down) the request is refused: accepting it would make replay possible.
 *    The window is twice the tolerance because a timestamp may be up to `tolerance` in the future.
 */
export class ServiceSignatureVerifier {
  constructor(
    private readonly keys: ServiceKeyLookup,
    private readonly nonces: NonceStore,
    private readonly toleranceS: number,
    private readonly nowSeconds: () => number,
  ) {}

  async verify(request: IncomingServiceRequest): Promise<ServiceSignatureResult> {
    const h = SERVICE_SIGNATURE_HEADERS;
    const keyId = header(request.headers, h.keyId);
    const timestamp = header(request.headers, h.timestamp);
    const nonce = header(request.headers, h.nonce);
    const signature = header(request.headers, h.signature);
    const operatorId = header(request.headers, h.operator);
    const reason = header(request.headers, h.reason);
    if (keyId === undefined || timestamp === undefined || nonce === undefined || signature === undefined) return { ok: false, refusal: 'missing_headers' };
    if (
      !KEY_ID.test(keyId) ||
      !TIMESTAMP.test(timestamp) ||
      !NONCE.test(nonce) ||
      !SIGNATURE.test(signature) ||
      (operatorId !== undefined && !isCanonicalUuid(operatorId)) ||
      (reason !== undefined && !REASON_HEADER.test(reason))
    ) {
      return { ok: false, refusal: 'malformed_headers' };
    }
    const key = this.keys.find(keyId);
    if (!key) return { ok: false, refusal: 'unknown_key', keyId };
    const skew = Number(timestamp) - this.nowSeconds();
    if (skew < -this.toleranceS) return { ok: false, refusal: 'stale_timestamp', keyId, service: key.service };
    if (skew > this.toleranceS) return { ok: false, refusal: 'future_timestamp', keyId, service: key.service };

    const { path, query } = splitUrl(request.url);
    const expected = hmac(key.secret, canonicalString({ method: request.method, path, query, bodySha256: sha256Hex(request.rawBody), timestamp, nonce, keyId, operatorId, reason }));
    if (!timingSafeEqual(expected, Buffer.from(signature, 'base64url'))) return { ok: false, refusal: 'signature_mismatch', keyId, service: key.service };

    let fresh: boolean;
    try {
      fresh = await this.nonces.remember(`${keyId}:${nonce}`, 2 * this.toleranceS);
    } catch {
      return { ok: false, refusal: 'nonce_store_unavailable', keyId, service: key.service };
    }
    if (!fresh) return { ok: false, refusal: 'replayed_nonce', keyId, service: key.service };

    let decodedReason: string | undefined;
    if (reason !== undefined) {
      try {
        decodedReason = decodeURIComponent(reason);
      } catch {
        return { ok: false, refusal: 'malformed_headers', keyId, service: key.service };
      }
    }
    return { ok: true, service: key.service, keyId, ...(operatorId ? { operatorId } : {}), ...(decodedReason !== undefined ? { reason: decodedReason } : {}) };
  }
}

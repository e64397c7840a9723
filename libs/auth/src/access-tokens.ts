import { Injectable } from '@nestjs/common';
import { decodeProtectedHeader, errors, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { AppConfig } from '@benteng/config';
import { Clock, minted, isCanonicalUuid } from '@benteng/common';
import type { MembershipRole } from '@benteng/database';
import { SIGNING_ALGORITHMS, SigningKeys, type SigningKey } from './signing-keys.js';

/** Every surface has its own audience: a partner or internal token is refused on /v1. */
export const PUBLIC_AUDIENCE = 'benteng-public';
/** Audience of client-credentials tokens for /partner/v1. */
export const PARTNER_AUDIENCE = 'benteng-partner';
const SCOPE_TOKEN = /^[a-z]+:[a-z]+$/;
const ROLES: readonly MembershipRole[] = ['owner', 'admin', 'member', 'viewer'];

export interface AccessClaims {
  sub: string;
  tid: string;
  sid: string;
  role: MembershipRole;
  exp: number;
  iat: number;
}

/** A partner access token's claims (RFC 9068: `client_id`, `scope`), after verification. */
export interface PartnerAccessClaims {
  sub: string;
  client_id: string;
  tid: string;
  scope: string[];
  exp: number;
  iat: number;
}

export type TokenRejection = 'malformed' | 'unknown_key' | 'bad_algorithm' | 'bad_signature' | 'expired' | 'wrong_audience' | 'wrong_issuer' | 'bad_claims' | 'too_long_lived';

export class AccessTokenError extends Error {
  constructor(readonly reason: TokenRejection) {
    super(`access token rejected: ${reason}`);
    this.name = 'AccessTokenError';
  }
}

/** Tokens whose signature this process has verified (see `verifyFor`); bounded, oldest out first. */
export const VERIFIED_CACHE_MAX = 10_000;

interface VerifiedToken {
  readonly kid: string;
  readonly key: SigningKey;
  readonly exp: number;
  readonly nbf?: number;
  readonly payload: Readonly<Record<string, unknown>>;
}

/**
 * Issues and verifies the public surface's access tokens (JWT, EdDSA or ES256, `typ: at+jwt`,
 * RFC 9068 style). Verification pins the algorithm to the one of the key named by `kid`, so
 * `alg: none`, HS256 signed with a public key (algorithm confusion) and unknown keys all fail.
 */
@Injectable()
export class AccessTokens {
  /**
   * Verified tokens by audience and exact token text, until they expire. The Ed25519 signature
   * check costs 150-260 µs of CPU, as much as the rest of a read; a client presents the same token
   * for up to ACCESS_TOKEN_TTL_S. Only successful verifications are kept, and revocation is not
   * part of this (RevocationStore is asked on every request).
   */
  private readonly verified = new Map<string, VerifiedToken>();

  /** Entries of the verified-token cache: never more than VERIFIED_CACHE_MAX, whatever the traffic. */
  get cachedVerifications(): number {
    return this.verified.size;
  }

  constructor(
    private readonly keys: SigningKeys,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  async issue(claims: { sub: string; tid: string; sid: string; role: MembershipRole }): Promise<{ token: string; expiresAt: Date }> {
    const key = this.keys.active;
    const iat = this.clock.nowSeconds();
    const exp = iat + this.config.ACCESS_TOKEN_TTL_S;
    const token = await new SignJWT({ tid: claims.tid, sid: claims.sid, role: claims.role })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setSubject(claims.sub)
      .setIssuer(this.config.AUTH_ISSUER)
      .setAudience(PUBLIC_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(exp)
      .setJti(crypto.randomUUID())
      .sign(key.privateKey);
    return { token: minted('access token', token), expiresAt: new Date(exp * 1000) };
  }

  async verify(token: string): Promise<AccessClaims> {
    const payload = await this.verifyFor(token, PUBLIC_AUDIENCE, this.config.ACCESS_TOKEN_TTL_S);
    const { sub, tid, sid, role, exp, iat } = payload as Partial<AccessClaims>;
    if (!sub || !isCanonicalUuid(sub) || !tid || !isCanonicalUuid(tid) || !sid || !isCanonicalUuid(sid) || !role || !ROLES.includes(role) || !exp || !iat) {
      throw new AccessTokenError('bad_claims');
    }
    return { sub, tid, sid, role, exp, iat };
  }

  /**
   * A client-credentials token for /partner/v1: same keys and checks as the public tokens, but its
   * own audience, so neither kind is accepted on the other surface (audience confusion).
   */
  async issuePartner(claims: { clientId: string; tid: string; scopes: readonly string[] }): Promise<{ token: string; expiresIn: number }> {
    const key = this.keys.active;
    const iat = this.clock.nowSeconds();
    const expiresIn = this.config.PARTNER_TOKEN_TTL_S;
    const token = await new SignJWT({ tid: claims.tid, client_id: claims.clientId, scope: claims.scopes.join(' ') })
      .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: 'at+jwt' })
      .setSubject(claims.clientId)
      .setIssuer(this.config.AUTH_ISSUER)
      .setAudience(PARTNER_AUDIENCE)
      .setIssuedAt(iat)
      .setExpirationTime(iat + expiresIn)
      .setJti(crypto.randomUUID())
      .sign(key.privateKey);
    return { token: minted('partner access token', token), expiresIn };
  }

  async verifyPartner(token: string): Promise<PartnerAccessClaims> {
    const payload = await this.verifyFor(token, PARTNER_AUDIENCE, this.config.PARTNER_TOKEN_TTL_S);
    const { sub, client_id: clientId, tid, scope, exp, iat } = payload as { sub?: string; client_id?: unknown; tid?: unknown; scope?: unknown; exp?: number; iat?: number };
    const scopes = typeof scope === 'string' ? scope.split(' ').filter((s) => s !== '') : undefined;
    if (!sub || !isCanonicalUuid(sub) || clientId !== sub || typeof tid !== 'string' || !isCanonicalUuid(tid) || !scopes || !scopes.every((s) => SCOPE_TOKEN.test(s)) || !exp || !iat) {
      throw new AccessTokenError('bad_claims');
    }
    return { sub, client_id: sub, tid, scope: scopes, exp, iat };
  }

  /**
   * `maxLifetimeS` is the TTL this deployment issues the kind of token with: a token claiming a
   * longer life (exp - iat), or issued in the future (so living longer from now), was not minted by
   * this configuration, whatever its signature says (a minting bug, a key used elsewhere, an older
   * and longer TTL). `aud` must be exactly this surface's audience as a string: jose accepts an
   * array that merely contains it, which would make one token valid on several surfaces.
   */
  private async verifyFor(token: string, audience: string, maxLifetimeS: number): Promise<Record<string, unknown>> {
    const cacheKey = `${audience} ${token}`;
    const cached = this.verified.get(cacheKey);
    if (cached) {
      // A hit skips only the signature check, whose answer for this exact token and key cannot
      // change. Everything that can change is checked again: the key must still be in the set
      // (a removed key stops its tokens at once), and the token must be valid at this moment.
      const now = this.clock.nowSeconds();
      if (this.keys.find(cached.kid) === cached.key && cached.exp > now && (cached.nbf === undefined || cached.nbf <= now)) return cached.payload;
      this.verified.delete(cacheKey);
    }
    let kid: string | undefined;
    try {
      kid = decodeProtectedHeader(token).kid;
    } catch {
      throw new AccessTokenError('malformed');
    }
    const key = kid ? this.keys.find(kid) : undefined;
    if (!key) throw new AccessTokenError('unknown_key');
    try {
      const { payload } = await jwtVerify(token, key.publicKey, {
        algorithms: [key.alg],
        issuer: this.config.AUTH_ISSUER,
        audience,
        typ: 'at+jwt',
        currentDate: this.clock.now(),
        requiredClaims: ['sub', 'exp', 'iat'],
      });
      lifetimeAndAudience(payload, audience, maxLifetimeS, this.clock.nowSeconds());
      this.remember(cacheKey, kid!, key, payload);
      return payload;
    } catch (error) {
      throw error instanceof AccessTokenError ? error : new AccessTokenError(rejection(error));
    }
  }

  private remember(cacheKey: string, kid: string, key: SigningKey, payload: JWTPayload): void {
    if (typeof payload.exp !== 'number' || (payload.nbf !== undefined && typeof payload.nbf !== 'number')) return;
    // Insertion order is age order: past the bound, the oldest entry goes.
    if (this.verified.size >= VERIFIED_CACHE_MAX) this.verified.delete(this.verified.keys().next().value!);
    this.verified.set(cacheKey, { kid, key, exp: payload.exp, ...(payload.nbf === undefined ? {} : { nbf: payload.nbf }), payload: Object.freeze(payload) });
  }
}

/**
 * Checks jose does not make (see `verifyFor`). `iat` may be ahead of this clock by at most
 * ISSUED_AT_SKEW_S, for instances whose clocks differ slightly; exp - iat gets no leeway.
 */
const ISSUED_AT_SKEW_S = 5;
function lifetimeAndAudience(payload: JWTPayload, audience: string, maxLifetimeS: number, nowS: number): void {
  if (typeof payload.aud !== 'string' || payload.aud !== audience) throw new AccessTokenError('wrong_audience');
  const { iat, exp } = payload;
  if (typeof iat !== 'number' || typeof exp !== 'number' || !Number.isFinite(iat) || !Number.isFinite(exp)) throw new AccessTokenError('bad_claims');
  if (iat > nowS + ISSUED_AT_SKEW_S || exp - iat > maxLifetimeS) throw new AccessTokenError('too_long_lived');
}

function rejection(error: unknown): TokenRejection {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') return 'wrong_audience';
    if (error.claim === 'iss') return 'wrong_issuer';
    return 'bad_claims';
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  // `alg: none`, or HS256 made with a public key (algorithm confusion): worth telling apart in logs.
  if (error instanceof errors.JOSEAlgNotAllowed) return 'bad_algorithm';
  return 'malformed';
}

export { SIGNING_ALGORITHMS };

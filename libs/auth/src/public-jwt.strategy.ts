import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy, type VerifyFunction } from 'passport-http-bearer';
import { PinoLogger } from 'nestjs-pino';
import type { Guard } from '@benteng/security';
import { AccessTokenError, AccessTokens } from './access-tokens.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { VerifiedUserToken } from './auth.types.js';
import { RevocationStore } from './revocation-store.js';

export const PUBLIC_JWT = 'public-jwt';

interface RequestLike {
  query?: unknown;
  body?: unknown;
}

const carries = (value: unknown): boolean => typeof value === 'object' && value !== null && 'access_token' in value;

/**
 * passport-http-bearer also reads `access_token` from the query string and the body (RFC 6750
 * 2.2, 2.3). Tokens in URLs end up in proxy logs, browser history and Referer headers, out of
 * reach of our log redaction (RFC 9700 4.3.2), so a request that puts one there is refused
 * outright, even when it also sends the header.
 */
export class HeaderOnlyBearerStrategy extends Strategy<VerifyFunction> {
  override authenticate(req: RequestLike, options?: object): void {
    if (carries(req.query) || carries(req.body)) {
      (this as unknown as { fail: (challenge: string, status: number) => void }).fail('Bearer error="invalid_request"', 401);
      return;
    }
    super.authenticate(req as never, options);
  }
}

/**
 * The public surface's authentication: a Bearer access token (JWT) whose signature, algorithm,
 * kid, issuer, audience and expiry verify (passport's `validate`), and whose session, user and
 * tenant are not revoked (`refuseRevoked`, checked on every request by the gate right after
 * `validate`: apps/api/src/http/gate/authenticate.stage.ts). The two are separate steps so that
 * the gate can read the revocation markers in the same Redis round trip as the principal's block
 * and rate limit (RevocationStore.guards, RateLimiter.consumeUnless). The reason a token failed is
 * logged, never returned.
 */
@Injectable()
export class PublicJwtStrategy extends PassportStrategy(HeaderOnlyBearerStrategy, PUBLIC_JWT) {
  constructor(
    private readonly tokens: AccessTokens,
    private readonly revocations: RevocationStore,
    private readonly logger: PinoLogger,
  ) {
    super();
    this.logger.setContext(PublicJwtStrategy.name);
  }

  /** The token's user, once its signature and claims verify; not yet checked for revocation. */
  async validate(token: string): Promise<VerifiedUserToken> {
    let claims;
    try {
      claims = await this.tokens.verify(token);
    } catch (error) {
      this.logger.info({ event: 'auth.token_rejected', reason: error instanceof AccessTokenError ? error.reason : 'error' }, 'access token rejected');
      throw new AuthError(AuthErrorCode.Unauthenticated);
    }
    return { userId: claims.sub, tenantId: claims.tid, sessionId: claims.sid, role: claims.role };
  }

  /** The revocation guards of this user's token (see RevocationStore.guards). */
  revocationGuards(user: VerifiedUserToken): Guard[] | undefined {
    return this.revocations.guards(claimsOf(user));
  }

  /**
   * Refuses (401, logged) a token whose session, user or tenant is revoked. `read`: the values of
   * `revocationGuards(user)` as the gate's round trip read them; without it the store reads them.
   */
  async refuseRevoked(user: VerifiedUserToken, read?: readonly (string | null)[]): Promise<void> {
    if (await this.revocations.isRevoked(claimsOf(user), read)) {
      this.logger.info({ event: 'auth.token_rejected', reason: 'revoked', tenantId: user.tenantId, sessionId: user.sessionId }, 'access token rejected');
      throw new AuthError(AuthErrorCode.Unauthenticated);
    }
  }
}

function claimsOf(user: VerifiedUserToken): { tid: string; sub: string; sid: string } {
  return { tid: user.tenantId, sub: user.userId, sid: user.sessionId };
}

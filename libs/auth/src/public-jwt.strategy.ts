import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy, type VerifyFunction } from 'passport-http-bearer';
import { PinoLogger } from 'nestjs-pino';
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
 * kid, issuer, audience and expiry verify, and whose session, user and tenant are not revoked,
 * checked on every request. The reason a token failed is logged, never returned.
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

  async validate(token: string): Promise<VerifiedUserToken> {
    let claims;
    try {
      claims = await this.tokens.verify(token);
    } catch (error) {
      this.logger.info({ event: 'auth.token_rejected', reason: error instanceof AccessTokenError ? error.reason : 'error' }, 'access token rejected');
      throw new AuthError(AuthErrorCode.Unauthenticated);
    }
    if (await this.revocations.isRevoked(claims)) {
      this.logger.info({ event: 'auth.token_rejected', reason: 'revoked', tenantId: claims.tid, sessionId: claims.sid }, 'access token rejected');
      throw new AuthError(AuthErrorCode.Unauthenticated);
    }
    return { userId: claims.sub, tenantId: claims.tid, sessionId: claims.sid, role: claims.role };
  }
}

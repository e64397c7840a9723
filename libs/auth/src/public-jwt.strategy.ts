import { Injectable } from '@nestjs/common';
import { PassportStrategy } from '@nestjs/passport';
import { Strategy } from 'passport-http-bearer';
import { PinoLogger } from 'nestjs-pino';
import { AccessTokenError, AccessTokens } from './access-tokens.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { AuthenticatedUser } from './auth.types.js';
import { RevocationStore } from './revocation-store.js';

export const PUBLIC_JWT = 'public-jwt';

/**
 * The public surface's authentication: a Bearer access token (JWT) whose signature, algorithm,
 * kid, issuer, audience and expiry verify, and whose session, user and tenant are not revoked,
 * checked on every request. The reason a token failed is logged, never returned.
 */
@Injectable()
export class PublicJwtStrategy extends PassportStrategy(Strategy, PUBLIC_JWT) {
  constructor(
    private readonly tokens: AccessTokens,
    private readonly revocations: RevocationStore,
    private readonly logger: PinoLogger,
  ) {
    super();
    this.logger.setContext(PublicJwtStrategy.name);
  }

  async validate(token: string): Promise<AuthenticatedUser> {
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

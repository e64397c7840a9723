import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { LoginThrottle } from '@benteng/security';
import { Scope } from '@benteng/tenancy';
import { AUTH_LOG_CONTEXT } from './auth-entry.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta, TokenPair } from './auth.types.js';
import { RefreshTokens } from './refresh-tokens.js';
import { RevocationStore } from './revocation-store.js';
import { SessionIssuer } from './session-issuer.js';
import { SessionsRepository } from './sessions.repository.js';

/**
 * POST /v1/auth/refresh: rotates the refresh token of a live session and issues the next pair; a
 * spent token presented again ends the whole session family (RFC 9700, 4.14.2; decision
 * docs/decisions/0002-revocation-and-refresh.md). Runs in the token's tenant as `system:auth`.
 */
@Injectable()
export class RefreshService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly refreshTokens: RefreshTokens,
    private readonly revocations: RevocationStore,
    private readonly throttle: LoginThrottle,
    private readonly issuer: SessionIssuer,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(AUTH_LOG_CONTEXT);
  }

  async refresh(token: string, meta: RequestMeta): Promise<TokenPair> {
    // The address's refresh failures throttle the failures, not the people behind it: a valid
    // refresh token is still honoured at a throttled address (an office where one client presents
    // garbage must not end everyone's sessions), and anything else gets 429 there instead of 401.
    // A malformed token costs nothing; a well-formed one one lookup, as it would anyway.
    const gate = await this.throttle.checkRefresh(meta.ip);
    const failed = async (): Promise<AuthError> => {
      if (!gate.allowed) return new AuthError(AuthErrorCode.RateLimited, gate.retryAfterS);
      await this.throttle.recordRefreshFailure(meta.ip);
      return new AuthError(AuthErrorCode.InvalidRefreshToken);
    };
    const parsed = this.refreshTokens.parse(token);
    if (!parsed) throw await failed();
    const tenantId = parsed.tenantId;
    const scope = Scope.for(tenantId, { kind: 'system', name: 'auth' });

    const outcome = await this.sessions.rotate(scope, this.refreshTokens.hash(token), meta);

    switch (outcome.kind) {
      case 'rotated':
        return this.issuer.pair(tenantId, outcome.userId, outcome.sessionId, outcome.role, outcome.refreshToken);
      case 'reuse':
        await this.revocations.publish([{ kind: 'session', id: outcome.sessionId }]);
        this.logger.warn({ event: 'auth.refresh_reuse', tenantId, sessionId: outcome.sessionId, ip: meta.ip, requestId: meta.requestId }, 'refresh token reuse: session revoked');
        throw new AuthError(AuthErrorCode.InvalidRefreshToken);
      case 'unknown':
      case 'inactive':
        throw await failed();
    }
  }
}

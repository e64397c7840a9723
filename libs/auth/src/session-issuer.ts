import { Injectable } from '@nestjs/common';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import type { MembershipRole } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { AccessTokens } from './access-tokens.js';
import type { RequestMeta, TokenPair } from './auth.types.js';
import { RefreshTokens } from './refresh-tokens.js';
import { SessionsRepository } from './sessions.repository.js';

const truncate = (value: string | undefined, max: number) => (value && value.length > max ? value.slice(0, max) : value);

/**
 * Starts sessions and issues their token pairs, for LoginService and TenantSwitchService; RefreshService
 * issues the next pair of a session through it too.
 */
@Injectable()
export class SessionIssuer {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly accessTokens: AccessTokens,
    private readonly refreshTokens: RefreshTokens,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** A new session (refresh-token family) with its first token pair, audited in the tenant. */
  async start(tenantId: string, userId: string, role: MembershipRole, meta: RequestMeta, auditType: 'auth.login' | 'auth.tenant_switched'): Promise<TokenPair> {
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.config.SESSION_MAX_AGE_S * 1000);
    const refresh = this.refreshTokens.mint(tenantId);
    const scope = Scope.for(tenantId, { kind: 'system', name: 'auth' });
    const sessionId = await this.sessions.start(scope, { userId, createdAt: now, expiresAt, userAgent: truncate(meta.userAgent, 300) ?? null, ip: meta.ip }, refresh.hash, auditType, meta);
    return this.pair(tenantId, userId, sessionId, role, refresh.token);
  }

  /** An access token for the session, beside its (new) refresh token. */
  async pair(tenantId: string, userId: string, sessionId: string, role: MembershipRole, refreshToken: string): Promise<TokenPair> {
    const access = await this.accessTokens.issue({ sub: userId, tid: tenantId, sid: sessionId, role });
    return { tokenType: 'Bearer', accessToken: access.token, expiresIn: this.config.ACCESS_TOKEN_TTL_S, refreshToken, tenantId, role };
  }
}

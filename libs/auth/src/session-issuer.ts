import { Injectable } from '@nestjs/common';
import { AuditLog } from '@benteng/audit';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { TenantDatabase, type MembershipRole } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { AccessTokens } from './access-tokens.js';
import { authEntry } from './auth-entry.js';
import type { RequestMeta, TokenPair } from './auth.types.js';
import { RefreshTokens } from './refresh-tokens.js';

const truncate = (value: string | undefined, max: number) => (value && value.length > max ? value.slice(0, max) : value);

/**
 * Starts sessions and issues their token pairs, for LoginService and TenantSwitchService; RefreshService
 * issues the next pair of a session through it too.
 */
@Injectable()
export class SessionIssuer {
  constructor(
    private readonly db: TenantDatabase,
    private readonly accessTokens: AccessTokens,
    private readonly refreshTokens: RefreshTokens,
    private readonly audit: AuditLog,
    private readonly config: AppConfig,
    private readonly clock: Clock,
  ) {}

  /** A new session (refresh-token family) with its first token pair, audited in the tenant. */
  async start(tenantId: string, userId: string, role: MembershipRole, meta: RequestMeta, auditType: 'auth.login' | 'auth.tenant_switched'): Promise<TokenPair> {
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.config.SESSION_MAX_AGE_S * 1000);
    const refresh = this.refreshTokens.mint(tenantId);
    const scope = Scope.for(tenantId, { kind: 'system', name: 'auth' });
    const session = await this.db.run(scope, async (tx) => {
      const created = await tx.session.create({
        data: { tenantId, userId, createdAt: now, lastSeenAt: now, expiresAt, userAgent: truncate(meta.userAgent, 300) ?? null, ip: meta.ip },
      });
      await tx.refreshToken.create({
        data: { tenantId, sessionId: created.id, tokenHash: refresh.hash, createdAt: now, expiresAt: this.refreshExpiry(now, expiresAt) },
      });
      await this.audit.recordIn(tx, tenantId, authEntry(auditType, 'success', `user:${userId}`, `session:${created.id}`, meta));
      return created;
    });
    return this.pair(tenantId, userId, session.id, role, refresh.token);
  }

  /** An access token for the session, beside its (new) refresh token. */
  async pair(tenantId: string, userId: string, sessionId: string, role: MembershipRole, refreshToken: string): Promise<TokenPair> {
    const access = await this.accessTokens.issue({ sub: userId, tid: tenantId, sid: sessionId, role });
    return { tokenType: 'Bearer', accessToken: access.token, expiresIn: this.config.ACCESS_TOKEN_TTL_S, refreshToken, tenantId, role };
  }

  /** A refresh token lives its TTL, never past its session. */
  refreshExpiry(now: Date, sessionExpiresAt: Date): Date {
    return new Date(Math.min(now.getTime() + this.config.REFRESH_TOKEN_TTL_S * 1000, sessionExpiresAt.getTime()));
  }
}

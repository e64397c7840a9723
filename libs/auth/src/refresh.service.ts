import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { Clock } from '@benteng/common';
import { TenantDatabase, type MembershipRole } from '@benteng/database';
import { LoginThrottle } from '@benteng/security';
import { Scope } from '@benteng/tenancy';
import { AUTH_LOG_CONTEXT, authEntry } from './auth-entry.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta, TokenPair } from './auth.types.js';
import { RefreshTokens } from './refresh-tokens.js';
import { RevocationStore } from './revocation-store.js';
import { SessionIssuer } from './session-issuer.js';

type RefreshOutcome =
  | { kind: 'unknown' | 'inactive' }
  | { kind: 'reuse'; sessionId: string }
  | { kind: 'rotated'; userId: string; sessionId: string; role: MembershipRole; refreshToken: string };

/**
 * POST /v1/auth/refresh: rotates the refresh token of a live session and issues the next pair; a
 * spent token presented again ends the whole session family (RFC 9700, 4.14.2; decision
 * docs/decisions/0002-revocation-and-refresh.md). Runs in the token's tenant as `system:auth`.
 */
@Injectable()
export class RefreshService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly refreshTokens: RefreshTokens,
    private readonly revocations: RevocationStore,
    private readonly throttle: LoginThrottle,
    private readonly audit: AuditLog,
    private readonly sessions: SessionIssuer,
    private readonly clock: Clock,
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
    const hash = this.refreshTokens.hash(token);

    const outcome = await this.db.run(scope, async (tx): Promise<RefreshOutcome> => {
      const row = await tx.refreshToken.findFirst({
        where: { tokenHash: hash },
        include: { session: { include: { tenant: { select: { status: true } }, membership: { select: { role: true, user: { select: { status: true } } } } } } },
      });
      if (!row) return { kind: 'unknown' };
      const now = this.clock.now();
      const { session } = row;
      const reuse = async (): Promise<RefreshOutcome> => {
        await tx.session.updateMany({ where: { id: session.id, revokedAt: null }, data: { revokedAt: now, revokedReason: 'refresh_token_reuse' } });
        await this.audit.recordIn(tx, tenantId, authEntry('auth.refresh_reuse', 'denied', `user:${session.userId}`, `session:${session.id}`, meta));
        return { kind: 'reuse', sessionId: session.id };
      };
      // A rotated token presented again: the token was used twice, so the whole family ends
      // (RFC 9700, 4.14.2).
      if (this.refreshTokens.wasSpent(row)) return reuse();
      // A dead session's last token is refused without being spent, so a client retrying after
      // logout is not mistaken for a replay.
      if (session.revokedAt || session.expiresAt <= now || row.expiresAt <= now || session.tenant.status !== 'active' || session.membership.user.status !== 'active') {
        return { kind: 'inactive' };
      }
      // The loser of two concurrent refreshes with one token finds it spent: reuse, as above.
      if (!(await this.refreshTokens.spend(tx, row.id, now))) return reuse();
      const next = this.refreshTokens.mint(tenantId);
      await tx.refreshToken.create({ data: { tenantId, sessionId: session.id, tokenHash: next.hash, createdAt: now, expiresAt: this.sessions.refreshExpiry(now, session.expiresAt) } });
      await tx.session.update({ where: { tenantId_id: { tenantId, id: session.id } }, data: { lastSeenAt: now } });
      await this.audit.recordIn(tx, tenantId, authEntry('auth.refresh', 'success', `user:${session.userId}`, `session:${session.id}`, meta));
      return { kind: 'rotated', userId: session.userId, sessionId: session.id, role: session.membership.role, refreshToken: next.token };
    });

    switch (outcome.kind) {
      case 'rotated':
        return this.sessions.pair(tenantId, outcome.userId, outcome.sessionId, outcome.role, outcome.refreshToken);
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

import { Injectable } from '@nestjs/common';
import { AuditLog } from '@benteng/audit';
import { Clock } from '@benteng/common';
import type { Scope } from '@benteng/tenancy';
import { authEntry, userIdOf } from './auth-entry.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta } from './auth.types.js';
import { RevocationStore } from './revocation-store.js';
import { SessionsRepository } from './sessions.repository.js';

/**
 * The signed-in user's sessions: list, logout, revoke one, and end them all (in every tenant, for
 * logout-all and a password change). Every ended session is published to the revocation store, so
 * its access tokens stop at once, and audited in its tenant.
 */
@Injectable()
export class SessionsService {
  constructor(
    private readonly sessions: SessionsRepository,
    private readonly revocations: RevocationStore,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** The caller's active sessions in this tenant. */
  list(scope: Scope) {
    return this.sessions.listActive(scope, this.clock.now());
  }

  /** Ends the session the access token belongs to. */
  async logout(scope: Scope, sessionId: string, meta: RequestMeta): Promise<void> {
    await this.revoke(scope, { id: sessionId }, 'logout', 'auth.logout', meta);
  }

  /** Ends one session of this tenant that the caller may end (its own; any, for owners and admins). */
  async revokeSession(scope: Scope, sessionId: string, meta: RequestMeta): Promise<void> {
    const revoked = await this.revoke(scope, { id: sessionId }, 'revoked', 'auth.session_revoked', meta);
    if (revoked === 0) throw new AuthError(AuthErrorCode.SessionNotFound);
  }

  /** Ends every session of the caller, in every tenant. */
  async logoutAll(scope: Scope, meta: RequestMeta): Promise<number> {
    const userId = userIdOf(scope);
    const revoked = await this.revokeEverywhere(scope, null, 'logout_all', meta);
    await this.audit.record(scope, { ...authEntry('auth.logout_all', 'success', `user:${userId}`, `user:${userId}`, meta), data: { sessions: revoked } });
    return revoked;
  }

  /**
   * Ends the caller's sessions in every tenant but `keep` (a named cross-tenant function) and
   * records it in the audit log of each tenant that lost one, so every tenant's admins can see why.
   */
  async revokeEverywhere(scope: Scope, keep: { tenantId: string; sessionId: string } | null, reason: string, meta: RequestMeta): Promise<number> {
    const userId = userIdOf(scope);
    const rows = await this.sessions.revokeInEveryTenant(scope, keep, reason);
    await this.revocations.publish(rows.map((r) => ({ kind: 'session' as const, id: r.session_id })));
    for (const row of rows) {
      await this.audit.recordFor(row.tenant_id, { ...authEntry('auth.session_revoked', 'success', `user:${userId}`, `session:${row.session_id}`, meta), data: { reason } });
    }
    return rows.length;
  }

  private async revoke(scope: Scope, where: { id?: string; userId?: string }, reason: string, type: 'auth.logout' | 'auth.session_revoked', meta: RequestMeta): Promise<number> {
    const ids = await this.sessions.revoke(scope, where, reason, type, meta);
    await this.revocations.publish(ids.map((id) => ({ kind: 'session' as const, id })));
    return ids.length;
  }
}

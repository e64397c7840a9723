import { Injectable } from '@nestjs/common';
import { AuditLog } from '@benteng/audit';
import { LoginThrottle } from '@benteng/security';
import type { Scope } from '@benteng/tenancy';
import { AccountsRepository } from './accounts.repository.js';
import { authEntry, userIdOf } from './auth-entry.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta } from './auth.types.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionsService } from './sessions.service.js';

/**
 * POST /v1/auth/password: the signed-in user changes their password (one account, every tenant,
 * through the named functions auth_password_hash / auth_set_password_hash); every other session of
 * theirs ends.
 */
@Injectable()
export class PasswordService {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly audit: AuditLog,
    private readonly sessions: SessionsService,
  ) {}

  async change(scope: Scope, currentSessionId: string, input: { currentPassword: string; newPassword: string }, meta: RequestMeta): Promise<void> {
    const userId = userIdOf(scope);
    // The caller is signed in: the account's counters apply, not the address's (anonymous spraying).
    const gate = await this.throttle.check({ account: `user:${userId}`, ip: meta.ip, authenticated: true });
    if (!gate.allowed) throw new AuthError(AuthErrorCode.RateLimited, gate.retryAfterS);
    const stored = await this.accounts.passwordHash(scope);
    const ok = await this.hasher.verify(stored ?? (await this.hasher.dummyHash()), input.currentPassword);
    if (!ok) {
      await this.throttle.recordFailure({ account: `user:${userId}`, ip: meta.ip, authenticated: true });
      await this.audit.record(scope, { ...authEntry('auth.password_changed', 'failure', `user:${userId}`, `user:${userId}`, meta), data: { reason: 'wrong_password' } });
      throw new AuthError(AuthErrorCode.WrongPassword);
    }
    const hash = await this.hasher.hash(input.newPassword);
    await this.accounts.setPasswordHash(scope, hash);
    const revoked = await this.sessions.revokeEverywhere(scope, { tenantId: scope.tenantId, sessionId: currentSessionId }, 'password_changed', meta);
    await this.audit.record(scope, { ...authEntry('auth.password_changed', 'success', `user:${userId}`, `user:${userId}`, meta), data: { sessionsRevoked: revoked } });
  }
}

import { createHash } from 'node:crypto';
import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { DeferredAuditLog, type AuditEntry } from '@benteng/audit';
import { LoginThrottle } from '@benteng/security';
import { AccountsRepository } from './accounts.repository.js';
import { AUTH_LOG_CONTEXT } from './auth-entry.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta, TokenPair } from './auth.types.js';
import { PasswordHasher } from './password-hasher.js';
import { SessionIssuer } from './session-issuer.js';

const emailDigest = (email: string) => createHash('sha256').update(email).digest('hex').slice(0, 16);

/**
 * Login of tenant users (POST /v1/auth/login): throttle, one password verification on every path,
 * then a new session (SessionIssuer). The account is found through the named SECURITY DEFINER
 * function auth_login_lookup (no tenant is known yet); failures are audited in the account's tenant
 * through DeferredAuditLog, so every failure answers alike (AUTHN-ACCOUNT-ENUMERATION).
 */
@Injectable()
export class LoginService implements OnModuleInit, OnModuleDestroy {
  constructor(
    private readonly accounts: AccountsRepository,
    private readonly hasher: PasswordHasher,
    private readonly throttle: LoginThrottle,
    private readonly failureAudit: DeferredAuditLog,
    private readonly sessions: SessionIssuer,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(AUTH_LOG_CONTEXT);
  }

  /**
   * Failed logins still being recorded are written before the database goes: this module is torn
   * down before the global ones (PrismaService), whose order among themselves Nest does not fix.
   */
  async onModuleDestroy(): Promise<void> {
    await this.failureAudit.onModuleDestroy();
  }

  async onModuleInit(): Promise<void> {
    // The dummy hash is computed once up front so the first unknown-email login is not faster.
    await this.hasher.dummyHash();
  }

  async login(input: { email: string; password: string; tenant?: string }, meta: RequestMeta): Promise<TokenPair> {
    const email = input.email.trim().toLowerCase();
    const gate = await this.throttle.check({ account: email, ip: meta.ip });
    if (!gate.allowed) {
      this.logger.warn({ event: 'auth.rate_limited', reason: gate.reason, account: emailDigest(email), ip: meta.ip, requestId: meta.requestId }, 'login throttled');
      throw new AuthError(AuthErrorCode.RateLimited, gate.retryAfterS);
    }

    const rows = await this.accounts.authLoginLookup(email);
    const user = rows[0];
    // A named tenant must be one of the user's; without one, the first active membership.
    const membership = !user
      ? undefined
      : input.tenant !== undefined
        ? rows.find((r) => r.tenant_id !== null && r.tenant_slug === input.tenant)
        : (rows.find((r) => r.tenant_id !== null && r.tenant_status === 'active') ?? rows.find((r) => r.tenant_id !== null));
    // Exactly one argon2 verification on every path: unknown users are checked against a dummy hash.
    const passwordOk = await this.hasher.verify(user?.password_hash ?? (await this.hasher.dummyHash()), input.password);

    const failure = !user
      ? 'unknown_user'
      : !passwordOk
        ? 'wrong_password'
        : user.user_status !== 'active'
          ? 'user_locked'
          : !membership
            ? 'no_membership'
            : membership.tenant_status !== 'active'
              ? 'tenant_suspended'
              : undefined;
    if (failure || !user || !membership?.tenant_id || !membership.role) {
      const throttled = await this.throttle.recordFailure({ account: email, ip: meta.ip });
      const auditTenant = membership?.tenant_id ?? rows.find((r) => r.tenant_id)?.tenant_id;
      const actor = user ? `user:${user.user_id}` : 'anonymous';
      const base = { actor, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
      const entries: AuditEntry[] = [{ ...base, type: 'auth.login', outcome: 'failure', data: { reason: failure ?? 'unknown' } }];
      // The start of a block is a security event of its own (once per block, not per refusal).
      if (throttled.blocked) entries.push({ ...base, type: 'auth.rate_limited', outcome: 'denied', data: { limit: throttled.blocked, blockSeconds: throttled.blockS } });
      // Issue 14: every failure answers without waiting for its audit write. Awaiting the insert for
      // known accounts only (an unknown email has no tenant to write in) made their 401 about 4 ms
      // slower, which told which emails have accounts. Same hash work (above), same throttle
      // calls, same deferral: nothing on this path depends on whether the account exists.
      await this.failureAudit.defer({
        tenantId: auditTenant ?? undefined,
        entries,
        untenanted: (entry) =>
          this.logger.warn({ event: entry.type, outcome: entry.outcome, ...entry.data, account: emailDigest(email), ip: meta.ip, requestId: meta.requestId }, 'login failed'),
      });
      throw new AuthError(AuthErrorCode.InvalidCredentials);
    }

    await this.throttle.recordSuccess({ account: email, ip: meta.ip });
    // The tenant's failed attempts still being recorded come first in its chain.
    await this.failureAudit.settled(membership.tenant_id);
    return this.sessions.start(membership.tenant_id, user.user_id, membership.role, meta, 'auth.login');
  }
}

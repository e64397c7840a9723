import { createHash } from 'node:crypto';
import { Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog, DeferredAuditLog, type AuditEntry } from '@benteng/audit';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { PrismaService, TenantDatabase, type MembershipRole, type TenantStatus, type UserStatus } from '@benteng/database';
import { LoginThrottle } from '@benteng/security';
import { accessibleWhere } from '@benteng/authz';
import { Scope } from '@benteng/tenancy';
import { AccessTokens } from './access-tokens.js';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta, TokenPair } from './auth.types.js';
import { PasswordHasher } from './password-hasher.js';
import { RefreshTokens } from './refresh-tokens.js';
import { RevocationStore } from './revocation-store.js';

interface LoginRow {
  user_id: string;
  password_hash: string | null;
  user_status: UserStatus;
  tenant_id: string | null;
  tenant_slug: string | null;
  tenant_status: TenantStatus | null;
  role: MembershipRole | null;
}

interface MembershipRow {
  tenant_id: string;
  tenant_slug: string;
  tenant_name: string;
  tenant_status: TenantStatus;
  role: MembershipRole;
}

type RefreshOutcome =
  | { kind: 'unknown' | 'inactive' }
  | { kind: 'reuse'; sessionId: string }
  | { kind: 'rotated'; userId: string; sessionId: string; role: MembershipRole; refreshToken: string };

const emailDigest = (email: string) => createHash('sha256').update(email).digest('hex').slice(0, 16);
const truncate = (value: string | undefined, max: number) => (value && value.length > max ? value.slice(0, max) : value);

/**
 * Login, refresh, logout, password change and tenant switching for tenant users.
 *
 * Cross-tenant reads go through the named SECURITY DEFINER functions of the identity migration
 * (auth_login_lookup, auth_user_memberships, ...); everything else runs in the tenant's own
 * transaction as the `system:auth` principal or as the user, and is audited in that tenant.
 */
@Injectable()
export class AuthService implements OnModuleInit, OnModuleDestroy {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
    private readonly hasher: PasswordHasher,
    private readonly accessTokens: AccessTokens,
    private readonly refreshTokens: RefreshTokens,
    private readonly revocations: RevocationStore,
    private readonly throttle: LoginThrottle,
    private readonly audit: AuditLog,
    private readonly failureAudit: DeferredAuditLog,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(AuthService.name);
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

    const rows = await this.prisma.client.$queryRaw<LoginRow[]>`SELECT * FROM auth_login_lookup(${email})`;
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
    return this.startSession(membership.tenant_id, user.user_id, membership.role, meta, 'auth.login');
  }

  /** A new session (refresh-token family) with its first token pair, audited in the tenant. */
  private async startSession(tenantId: string, userId: string, role: MembershipRole, meta: RequestMeta, auditType: 'auth.login' | 'auth.tenant_switched'): Promise<TokenPair> {
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
      await this.audit.recordIn(tx, tenantId, this.entry(auditType, 'success', `user:${userId}`, `session:${created.id}`, meta));
      return created;
    });
    return this.pair(tenantId, userId, session.id, role, refresh.token);
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
        await this.audit.recordIn(tx, tenantId, this.entry('auth.refresh_reuse', 'denied', `user:${session.userId}`, `session:${session.id}`, meta));
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
      await tx.refreshToken.create({ data: { tenantId, sessionId: session.id, tokenHash: next.hash, createdAt: now, expiresAt: this.refreshExpiry(now, session.expiresAt) } });
      await tx.session.update({ where: { tenantId_id: { tenantId, id: session.id } }, data: { lastSeenAt: now } });
      await this.audit.recordIn(tx, tenantId, this.entry('auth.refresh', 'success', `user:${session.userId}`, `session:${session.id}`, meta));
      return { kind: 'rotated', userId: session.userId, sessionId: session.id, role: session.membership.role, refreshToken: next.token };
    });

    switch (outcome.kind) {
      case 'rotated':
        return this.pair(tenantId, outcome.userId, outcome.sessionId, outcome.role, outcome.refreshToken);
      case 'reuse':
        await this.revocations.publish([{ kind: 'session', id: outcome.sessionId }]);
        this.logger.warn({ event: 'auth.refresh_reuse', tenantId, sessionId: outcome.sessionId, ip: meta.ip, requestId: meta.requestId }, 'refresh token reuse: session revoked');
        throw new AuthError(AuthErrorCode.InvalidRefreshToken);
      case 'unknown':
      case 'inactive':
        throw await failed();
    }
  }

  /** Ends the session the access token belongs to. */
  async logout(scope: Scope, sessionId: string, meta: RequestMeta): Promise<void> {
    await this.revokeSessions(scope, { id: sessionId }, 'logout', 'auth.logout', meta);
  }

  /** Ends one session of this tenant that the caller may end (its own; any, for owners and admins). */
  async revokeSession(scope: Scope, sessionId: string, meta: RequestMeta): Promise<void> {
    const revoked = await this.revokeSessions(scope, { id: sessionId }, 'revoked', 'auth.session_revoked', meta);
    if (revoked === 0) throw new AuthError(AuthErrorCode.SessionNotFound);
  }

  private async revokeSessions(scope: Scope, where: { id?: string; userId?: string }, reason: string, type: 'auth.logout' | 'auth.session_revoked', meta: RequestMeta): Promise<number> {
    const userId = this.userId(scope);
    const now = this.clock.now();
    const ids = await this.db.run(scope, async (tx) => {
      const sessions = await tx.session.findMany({
        where: { AND: [accessibleWhereSession(scope), where, { revokedAt: null }] },
        select: { id: true },
      });
      if (sessions.length === 0) return [];
      await tx.session.updateMany({ where: { id: { in: sessions.map((s) => s.id) }, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
      for (const s of sessions) await this.audit.recordIn(tx, scope.tenantId, this.entry(type, 'success', `user:${userId}`, `session:${s.id}`, meta));
      return sessions.map((s) => s.id);
    });
    await this.revocations.publish(ids.map((id) => ({ kind: 'session' as const, id })));
    return ids.length;
  }

  /** Ends every session of the caller, in every tenant. */
  async logoutAll(scope: Scope, meta: RequestMeta): Promise<number> {
    const userId = this.userId(scope);
    const revoked = await this.revokeEverywhere(userId, null, 'logout_all', meta);
    await this.audit.record(scope, { ...this.entry('auth.logout_all', 'success', `user:${userId}`, `user:${userId}`, meta), data: { sessions: revoked } });
    return revoked;
  }

  async changePassword(scope: Scope, currentSessionId: string, input: { currentPassword: string; newPassword: string }, meta: RequestMeta): Promise<void> {
    const userId = this.userId(scope);
    // The caller is signed in: the account's counters apply, not the address's (anonymous spraying).
    const gate = await this.throttle.check({ account: `user:${userId}`, ip: meta.ip, authenticated: true });
    if (!gate.allowed) throw new AuthError(AuthErrorCode.RateLimited, gate.retryAfterS);
    const [row] = await this.prisma.client.$queryRaw<{ auth_password_hash: string | null }[]>`SELECT auth_password_hash(${userId}::uuid)`;
    const ok = await this.hasher.verify(row?.auth_password_hash ?? (await this.hasher.dummyHash()), input.currentPassword);
    if (!ok) {
      await this.throttle.recordFailure({ account: `user:${userId}`, ip: meta.ip, authenticated: true });
      await this.audit.record(scope, { ...this.entry('auth.password_changed', 'failure', `user:${userId}`, `user:${userId}`, meta), data: { reason: 'wrong_password' } });
      throw new AuthError(AuthErrorCode.WrongPassword);
    }
    const hash = await this.hasher.hash(input.newPassword);
    await this.prisma.client.$executeRaw`SELECT auth_set_password_hash(${userId}::uuid, ${hash})`;
    const revoked = await this.revokeEverywhere(userId, { tenantId: scope.tenantId, sessionId: currentSessionId }, 'password_changed', meta);
    await this.audit.record(scope, { ...this.entry('auth.password_changed', 'success', `user:${userId}`, `user:${userId}`, meta), data: { sessionsRevoked: revoked } });
  }

  /**
   * Ends the user's sessions in every tenant (a named cross-tenant function) and records it in the
   * audit log of each tenant that lost one, so every tenant's admins can see why.
   */
  private async revokeEverywhere(userId: string, keep: { tenantId: string; sessionId: string } | null, reason: string, meta: RequestMeta): Promise<number> {
    const rows = await this.prisma.client.$queryRaw<{ tenant_id: string; session_id: string }[]>`
      SELECT * FROM auth_revoke_user_sessions(${userId}::uuid, ${keep?.tenantId ?? null}::uuid, ${keep?.sessionId ?? null}::uuid, ${reason})`;
    await this.revocations.publish(rows.map((r) => ({ kind: 'session' as const, id: r.session_id })));
    for (const row of rows) {
      await this.audit.recordFor(row.tenant_id, { ...this.entry('auth.session_revoked', 'success', `user:${userId}`, `session:${row.session_id}`, meta), data: { reason } });
    }
    return rows.length;
  }

  /** The caller's memberships in every tenant (their own data; the tenant list of /v1/me). */
  memberships(scope: Scope): Promise<MembershipRow[]> {
    return this.prisma.client.$queryRaw<MembershipRow[]>`SELECT * FROM auth_user_memberships(${this.userId(scope)}::uuid)`;
  }

  /**
   * A token pair for another tenant the caller belongs to. The target is looked up among the
   * caller's own memberships (as the verified token names the user), never taken on trust.
   */
  async switchTenant(scope: Scope, tenantSlug: string, meta: RequestMeta): Promise<TokenPair> {
    const userId = this.userId(scope);
    // A new session must not outlive what the current one may: a locked user, a suspended tenant
    // or a revoked session gets no fresh tokens here, whatever the Redis markers say.
    const sessionId = scope.principal.kind === 'user' ? scope.principal.sessionId : undefined;
    if (!sessionId || (await this.revocations.revokedInDatabase({ tid: scope.tenantId, sub: userId, sid: sessionId }))) {
      throw new AuthError(AuthErrorCode.Unauthenticated);
    }
    const target = (await this.memberships(scope)).find((m) => m.tenant_slug === tenantSlug && m.tenant_status === 'active');
    if (!target) throw new AuthError(AuthErrorCode.NoSuchMembership);
    return this.startSession(target.tenant_id, userId, target.role, meta, 'auth.tenant_switched');
  }

  /** The caller's own account, tenant and role (GET /v1/me). */
  async profile(scope: Scope) {
    const userId = this.userId(scope);
    const [user, tenant, memberships] = await Promise.all([
      this.db.run(scope, (tx) => tx.user.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'User'), { id: userId }] }, select: { id: true, email: true, displayName: true } })),
      this.db.run(scope, (tx) => tx.tenant.findFirst({ where: accessibleWhere(scope.ability, 'read', 'Tenant'), select: { id: true, slug: true, name: true } })),
      this.memberships(scope),
    ]);
    if (!user || !tenant) throw new AuthError(AuthErrorCode.Unauthenticated);
    return { user, tenant, memberships };
  }

  /** The caller's active sessions in this tenant. */
  sessions(scope: Scope) {
    const userId = this.userId(scope);
    return this.db.run(scope, (tx) =>
      tx.session.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Session'), { userId, revokedAt: null, expiresAt: { gt: this.clock.now() } }] },
        select: { id: true, createdAt: true, lastSeenAt: true, expiresAt: true, userAgent: true, ip: true },
        orderBy: { createdAt: 'desc' },
        take: 100,
      }),
    );
  }

  private async pair(tenantId: string, userId: string, sessionId: string, role: MembershipRole, refreshToken: string): Promise<TokenPair> {
    const access = await this.accessTokens.issue({ sub: userId, tid: tenantId, sid: sessionId, role });
    return { tokenType: 'Bearer', accessToken: access.token, expiresIn: this.config.ACCESS_TOKEN_TTL_S, refreshToken, tenantId, role };
  }

  private refreshExpiry(now: Date, sessionExpiresAt: Date): Date {
    return new Date(Math.min(now.getTime() + this.config.REFRESH_TOKEN_TTL_S * 1000, sessionExpiresAt.getTime()));
  }

  private userId(scope: Scope): string {
    if (scope.principal.kind !== 'user') throw new AuthError(AuthErrorCode.Unauthenticated);
    return scope.principal.userId;
  }

  private entry(type: AuditEntry['type'], outcome: AuditEntry['outcome'], actor: string, subject: string, meta: RequestMeta): AuditEntry {
    return { type, outcome, actor, subject, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
  }
}

function accessibleWhereSession(scope: Scope) {
  return accessibleWhere(scope.ability, 'delete', 'Session');
}

import { Injectable } from '@nestjs/common';
import { AuditLog } from '@benteng/audit';
import { accessibleWhere } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { PrismaService, TenantDatabase, type MembershipRole } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { authEntry, userIdOf } from './auth-entry.js';
import type { RequestMeta } from './auth.types.js';
import { RefreshTokens } from './refresh-tokens.js';

/** What presenting a refresh token came to, decided and written in one transaction. */
export type RefreshOutcome =
  | { kind: 'unknown' | 'inactive' }
  | { kind: 'reuse'; sessionId: string }
  | { kind: 'rotated'; userId: string; sessionId: string; role: MembershipRole; refreshToken: string };

/** A new session's row: who, until when, from where. */
export interface SessionDraft {
  userId: string;
  createdAt: Date;
  expiresAt: Date;
  userAgent: string | null;
  ip: string;
}

/**
 * Sessions and their refresh-token families. Every method takes the Scope first and runs in one
 * tenant transaction, audit entries included; the one cross-tenant write (ending a user's sessions
 * in every tenant) goes through the named SECURITY DEFINER function auth_revoke_user_sessions. The
 * ids of ended sessions are returned for the caller to publish to the RevocationStore once the
 * transaction has committed.
 */
@Injectable()
export class SessionsRepository {
  constructor(
    private readonly prisma: PrismaService,
    private readonly db: TenantDatabase,
    private readonly refreshTokens: RefreshTokens,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** A new session with its first refresh token (stored as `refreshHash`), audited in the tenant; answers its id. */
  start(scope: Scope, draft: SessionDraft, refreshHash: string, auditType: 'auth.login' | 'auth.tenant_switched', meta: RequestMeta): Promise<string> {
    const tenantId = scope.tenantId;
    const now = draft.createdAt;
    return this.db.run(scope, async (tx) => {
      const created = await tx.session.create({
        data: { tenantId, userId: draft.userId, createdAt: now, lastSeenAt: now, expiresAt: draft.expiresAt, userAgent: draft.userAgent, ip: draft.ip },
      });
      await tx.refreshToken.create({
        data: { tenantId, sessionId: created.id, tokenHash: refreshHash, createdAt: now, expiresAt: this.refreshTokens.expiry(now, draft.expiresAt) },
      });
      await this.audit.recordIn(tx, tenantId, authEntry(auditType, 'success', `user:${draft.userId}`, `session:${created.id}`, meta));
      return created.id;
    });
  }

  /**
   * Rotation with reuse detection (RFC 9700, 4.14.2; docs/decisions/0002-revocation-and-refresh.md),
   * in one transaction: the token whose HMAC is `tokenHash` is found; a spent one, or one a
   * concurrent refresh spent first, ends its whole session (reuse); a live session's token is spent
   * and replaced by the next one of the family.
   */
  rotate(scope: Scope, tokenHash: string, meta: RequestMeta): Promise<RefreshOutcome> {
    const tenantId = scope.tenantId;
    return this.db.run(scope, async (tx): Promise<RefreshOutcome> => {
      const row = await tx.refreshToken.findFirst({
        where: { tokenHash },
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
      await tx.refreshToken.create({ data: { tenantId, sessionId: session.id, tokenHash: next.hash, createdAt: now, expiresAt: this.refreshTokens.expiry(now, session.expiresAt) } });
      await tx.session.update({ where: { tenantId_id: { tenantId, id: session.id } }, data: { lastSeenAt: now } });
      await this.audit.recordIn(tx, tenantId, authEntry('auth.refresh', 'success', `user:${session.userId}`, `session:${session.id}`, meta));
      return { kind: 'rotated', userId: session.userId, sessionId: session.id, role: session.membership.role, refreshToken: next.token };
    });
  }

  /** The caller's sessions in this tenant that are neither revoked nor expired at `now`, newest first. */
  listActive(scope: Scope, now: Date) {
    const userId = userIdOf(scope);
    return this.db.run(scope, (tx) =>
      tx.session.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Session'), { userId, revokedAt: null, expiresAt: { gt: now } }] },
        select: { id: true, createdAt: true, lastSeenAt: true, expiresAt: true, userAgent: true, ip: true },
        orderBy: { createdAt: 'desc' },
        take: 100,
      }),
    );
  }

  /**
   * Ends the live sessions matching `where` that the scope may delete, each audited as `type` in
   * the same transaction; answers their ids.
   */
  revoke(scope: Scope, where: { id?: string; userId?: string }, reason: string, type: 'auth.logout' | 'auth.session_revoked', meta: RequestMeta): Promise<string[]> {
    const userId = userIdOf(scope);
    const now = this.clock.now();
    return this.db.run(scope, async (tx) => {
      const sessions = await tx.session.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'delete', 'Session'), where, { revokedAt: null }] },
        select: { id: true },
      });
      if (sessions.length === 0) return [];
      await tx.session.updateMany({ where: { id: { in: sessions.map((s) => s.id) }, revokedAt: null }, data: { revokedAt: now, revokedReason: reason } });
      for (const s of sessions) await this.audit.recordIn(tx, scope.tenantId, authEntry(type, 'success', `user:${userId}`, `session:${s.id}`, meta));
      return sessions.map((s) => s.id);
    });
  }

  /**
   * Ends the scope's user's sessions in every tenant but `keep`, through the named SECURITY DEFINER
   * function auth_revoke_user_sessions; answers which sessions of which tenants ended.
   */
  revokeInEveryTenant(scope: Scope, keep: { tenantId: string; sessionId: string } | null, reason: string): Promise<{ tenant_id: string; session_id: string }[]> {
    const userId = userIdOf(scope);
    return this.prisma.client.$queryRaw<{ tenant_id: string; session_id: string }[]>`
      SELECT * FROM auth_revoke_user_sessions(${userId}::uuid, ${keep?.tenantId ?? null}::uuid, ${keep?.sessionId ?? null}::uuid, ${reason})`;
  }
}

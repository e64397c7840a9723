import { Injectable } from '@nestjs/common';
import { AuditLog, successEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { accessibleWhere, authorize } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { keysetWhere, TenantDatabase, type Keyset, type MembershipRole, type Prisma, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { MemberError, MemberErrorCode } from './member.errors.js';
import type { MemberView } from './member.types.js';
import { assertMayGrant } from './owner-grants.js';

const MEMBER_SELECT = { id: true, role: true, createdAt: true, displayName: true, user: { select: { email: true, displayName: true } } } as const;
type MemberRow = Prisma.MembershipGetPayload<{ select: typeof MEMBER_SELECT }>;
/**
 * The tenant's own name for the member wins over the user's global one, and the global user id
 * stays internal: nothing here tells a tenant about the person's account elsewhere.
 */
const view = (m: MemberRow): MemberView => ({ id: m.id, email: m.user.email, displayName: m.displayName ?? m.user.displayName, role: m.role, createdAt: m.createdAt });

const notFound = () => new MemberError(MemberErrorCode.NotFound);

/**
 * Membership persistence. Every method takes the Scope first and runs in one tenant transaction; a
 * role change or removal locks the member (and the owners) first, checks the owner rules
 * (owner-grants.ts) on the role it read, writes, ends the member's sessions and records the audit
 * event in that same transaction. The ids of the ended sessions are returned for the caller to
 * publish once the transaction has committed.
 */
@Injectable()
export class MembersRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** One page of the tenant's members, oldest first (keyset on createdAt, id: stable under inserts). */
  async list(scope: Scope, page: { limit: number; after?: Keyset }): Promise<MemberView[]> {
    const rows = await this.db.run(scope, (tx) =>
      tx.membership.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), page.after ? (keysetWhere('createdAt', 'asc', page.after) as Prisma.MembershipWhereInput) : {}] },
        select: MEMBER_SELECT,
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: page.limit,
      }),
    );
    return rows.map(view);
  }

  /** The member with its new role, and the sessions that ended (none when the role is unchanged). */
  async changeRole(scope: Scope, membershipId: string, role: MembershipRole, meta: RequestMeta): Promise<{ member: MemberView; sessions: string[] }> {
    return this.db.run(scope, async (tx) => {
      const target = await this.findForUpdate(tx, scope, membershipId, 'update');
      if (target.role === role) {
        // Nothing changes: no sessions end, nothing is audited.
        const unchanged = await tx.membership.findFirstOrThrow({ where: { id: target.id }, select: MEMBER_SELECT });
        return { member: view(unchanged), sessions: [] };
      }
      if (target.role === 'owner' || role === 'owner') assertMayGrant(scope, 'owner');
      if (target.role === 'owner' && role !== 'owner') await this.assertNotLastOwner(tx);
      const updated = await tx.membership.update({ where: { tenantId_id: { tenantId: scope.tenantId, id: target.id } }, data: { role }, select: MEMBER_SELECT });
      // Tokens carry the role: end the member's sessions so the new role applies at once.
      const ended = await this.endSessions(tx, target.userId);
      await this.audit.recordIn(tx, scope.tenantId, { ...successEntry(scope, 'member.role_changed', `membership:${target.id}`, meta), data: { from: target.role, to: role, sessionsRevoked: ended.length } });
      return { member: view(updated), sessions: ended };
    });
  }

  /** Deletes the membership; answers the sessions that ended with it. */
  async remove(scope: Scope, membershipId: string, meta: RequestMeta): Promise<string[]> {
    return this.db.run(scope, async (tx) => {
      const target = await this.findForUpdate(tx, scope, membershipId, 'delete');
      if (target.role === 'owner') {
        assertMayGrant(scope, 'owner');
        await this.assertNotLastOwner(tx);
      }
      const ended = await this.endSessions(tx, target.userId);
      // Sessions and refresh tokens go with the membership (composite FK, ON DELETE CASCADE).
      await tx.membership.delete({ where: { tenantId_id: { tenantId: scope.tenantId, id: target.id } } });
      await this.audit.recordIn(tx, scope.tenantId, { ...successEntry(scope, 'member.removed', `membership:${target.id}`, meta), data: { role: target.role, sessionsRevoked: ended.length } });
      return ended;
    });
  }

  /**
   * The membership the scope may act on; missing and forbidden are both "not found". The row is
   * locked first, so the role read below is the one the write will change: a concurrent promotion
   * to owner is either seen (and the owner rules apply) or waits for this transaction.
   */
  private async findForUpdate(tx: TenantTx, scope: Scope, id: string, action: 'update' | 'delete') {
    // The owner rows are locked in the same statement and in id order: two owners demoting each
    // other take the same locks in the same order, so one waits instead of deadlocking.
    await tx.$queryRaw`SELECT id FROM memberships WHERE id = ${id}::uuid OR role = 'owner' ORDER BY id FOR UPDATE`;
    const target = await tx.membership.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), { id }] }, select: { tenantId: true, id: true, userId: true, role: true } });
    if (!target) throw notFound();
    authorize(scope, action, 'Membership', target, notFound);
    return target;
  }

  /** Owner rows are already locked by findForUpdate: two concurrent demotions cannot both pass. */
  private async assertNotLastOwner(tx: TenantTx): Promise<void> {
    const owners = await tx.membership.count({ where: { role: 'owner' } });
    if (owners <= 1) throw new MemberError(MemberErrorCode.LastOwner);
  }

  private async endSessions(tx: TenantTx, userId: string): Promise<string[]> {
    const sessions = await tx.session.findMany({ where: { userId, revokedAt: null }, select: { id: true } });
    if (sessions.length > 0) {
      await tx.session.updateMany({ where: { userId, revokedAt: null }, data: { revokedAt: this.clock.now(), revokedReason: 'membership_changed' } });
    }
    return sessions.map((s) => s.id);
  }
}

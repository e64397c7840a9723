import { Injectable } from '@nestjs/common';
import { AuditLog, successEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { accessibleWhere, authorize } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { appendDomainEvent, isUniqueViolation, keysetWhere, PrismaService, TenantDatabase, type InTransaction, type Keyset, type MembershipRole, type Prisma, type TenantStatus, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { InvitationError, InvitationErrorCode } from './invitation.errors.js';
import { MAX_INVITATION_PAGE, MAX_PENDING_INVITATIONS, type AcceptedInvitation } from './invitation.types.js';

/** Every column the runtime role may read (token_hash is withheld by a column grant). */
const INVITATION_SELECT = {
  id: true,
  email: true,
  role: true,
  displayName: true,
  createdAt: true,
  expiresAt: true,
  acceptedAt: true,
  revokedAt: true,
} as const satisfies Prisma.InvitationSelect;
export type InvitationRow = Prisma.InvitationGetPayload<{ select: typeof INVITATION_SELECT }>;

/** What `invitation_lookup` answers for a token's hash: the invitation and its tenant, across tenants. */
export interface InvitationLookup {
  tenant_id: string;
  invitation_id: string;
  email: string;
  tenant_slug: string;
  tenant_name: string;
  tenant_status: TenantStatus;
}

/** Why a presented token was refused; recorded, never told to the presenter (one answer for all). */
export type Refusal = 'accepted' | 'revoked' | 'expired' | 'other_account' | 'tenant_suspended' | 'already_member' | 'account_exists';

export type Outcome = { kind: 'accepted'; accepted: AcceptedInvitation } | { kind: 'refused'; reason: Refusal };

export interface InvitationDraft {
  email: string;
  role: MembershipRole;
  displayName: string | null;
  tokenHash: string;
  invitedById: string;
  createdAt: Date;
  expiresAt: Date;
}

const notFound = () => new InvitationError(InvitationErrorCode.NotFound);

/**
 * Invitation persistence, and the membership an accepted invitation makes. Tenant work takes the
 * Scope first and runs in one tenant transaction. Acceptance crosses tenants: the invitation is
 * found by its token's hash through the `invitation_lookup` SQL function (no tenant is known yet,
 * so `findByToken` alone takes no Scope), and the membership is made in the invitation's tenant
 * (a Scope of the `system:invitations` principal), in one transaction that locks the invitation
 * row first: two acceptances of one token make one membership.
 */
@Injectable()
export class InvitationsRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly prisma: PrismaService,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Newest first (keyset on createdAt, id). */
  list(scope: Scope, page: { limit: number; after?: Keyset }): Promise<InvitationRow[]> {
    return this.db.run(scope, (tx) =>
      tx.invitation.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Invitation'), page.after ? (keysetWhere('createdAt', 'desc', page.after) as Prisma.InvitationWhereInput) : {}] },
        select: INVITATION_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: Math.min(Math.max(page.limit, 1), MAX_INVITATION_PAGE),
      }),
    );
  }

  /** Null when missing or not readable in this scope (another tenant's: the same answer). */
  get(scope: Scope, id: string): Promise<InvitationRow | null> {
    return this.db.run(scope, (tx) => tx.invitation.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Invitation'), { id }] }, select: INVITATION_SELECT }));
  }

  /**
   * A pending invitation. A pending invitation of the same email is replaced (revoked, audited) in
   * the same transaction. Refused when the email is already a member's, or when the tenant holds
   * MAX_PENDING_INVITATIONS pending invitations already (a replacement does not add one).
   */
  create(scope: Scope, draft: InvitationDraft, meta: RequestMeta, also?: InTransaction<InvitationRow>): Promise<InvitationRow> {
    const { email, role, createdAt: now, expiresAt } = draft;
    return this.db.run(scope, async (tx) => {
      // One invitation of an email at a time per tenant: concurrent invites of one email queue here.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`invitation:${scope.tenantId}:${email}`}, 0))`;
      if (await tx.membership.findFirst({ where: { user: { email } }, select: { id: true } })) throw new InvitationError(InvitationErrorCode.AlreadyMember);
      const pending = { acceptedAt: null, revokedAt: null, expiresAt: { gt: now } } satisfies Prisma.InvitationWhereInput;
      const replaced = await tx.invitation.findMany({ where: { ...pending, email }, select: { id: true } });
      if (replaced.length === 0 && (await tx.invitation.count({ where: pending })) >= MAX_PENDING_INVITATIONS) throw new InvitationError(InvitationErrorCode.TooManyPending);
      for (const old of replaced) {
        await tx.invitation.update({ where: { tenantId_id: { tenantId: scope.tenantId, id: old.id } }, data: { revokedAt: now }, select: { id: true } });
        await this.audit.recordIn(tx, scope.tenantId, { ...successEntry(scope, 'invitation.revoked', `invitation:${old.id}`, meta), data: { reason: 'replaced' } });
      }
      const created = await tx.invitation.create({
        data: { tenantId: scope.tenantId, email, role, displayName: draft.displayName, tokenHash: draft.tokenHash, invitedById: draft.invitedById, createdAt: now, expiresAt },
        select: INVITATION_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, { ...successEntry(scope, 'invitation.created', `invitation:${created.id}`, meta), data: { role, expiresAt: expiresAt.toISOString() } });
      // For webhooks (and a mailer that prefers events): ids and facts, never the token or the email.
      await appendDomainEvent(tx, scope.tenantId, { type: 'member.invited', subjectType: 'invitation', subjectId: created.id, payload: { invitationId: created.id, role, expiresAt: expiresAt.toISOString() } }, now);
      return created;
    }, { also });
  }

  /** Revokes a pending or expired invitation; revoking twice changes nothing; an accepted one is 409. */
  revoke(scope: Scope, id: string, now: Date, meta: RequestMeta): Promise<InvitationRow> {
    return this.db.run(scope, async (tx) => {
      const locked = await this.lock(tx, id);
      if (!locked) throw notFound();
      const { tenantId, ...current } = locked;
      authorize(scope, 'update', 'Invitation', { tenantId }, notFound);
      if (current.acceptedAt) throw new InvitationError(InvitationErrorCode.NotPending);
      if (current.revokedAt) return current;
      const revoked = await tx.invitation.update({ where: { tenantId_id: { tenantId: scope.tenantId, id } }, data: { revokedAt: now }, select: INVITATION_SELECT });
      await this.audit.recordIn(tx, scope.tenantId, successEntry(scope, 'invitation.revoked', `invitation:${id}`, meta));
      return revoked;
    });
  }

  /** The invitation a token's hash names, in whichever tenant (`invitation_lookup`, invariant 4). */
  async findByToken(tokenHash: string): Promise<InvitationLookup | undefined> {
    const [row] = await this.prisma.client.$queryRaw<InvitationLookup[]>`SELECT * FROM invitation_lookup(${tokenHash})`;
    return row;
  }

  /** The email of the scope's own account, as far as the scope may read it. */
  async accountEmail(scope: Scope, userId: string): Promise<string | undefined> {
    const me = await this.db.run(scope, (tx) => tx.user.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'User'), { id: userId }] }, select: { email: true } }));
    return me?.email;
  }

  /**
   * Attaches an existing account to the invitation's tenant (the email was checked by the caller).
   * `scope` is the invitation's tenant and the principal that attaches (`system:invitations`).
   */
  accept(scope: Scope, found: InvitationLookup, userId: string, meta: RequestMeta): Promise<Outcome> {
    return this.inInvitationTenant(scope, found, (tx, invitation) => this.attach(tx, found, invitation, userId, meta));
  }

  /**
   * A new account for the invited email (`invitation_create_user`, which refuses an email that
   * has one), and its membership. `actor` is the new account once it exists.
   */
  async register(scope: Scope, found: InvitationLookup, tokenHash: string, account: { passwordHash: string; name?: string }, meta: RequestMeta): Promise<{ outcome: Outcome; actor: string }> {
    let actor = 'anonymous';
    const outcome = await this.inInvitationTenant(scope, found, async (tx, invitation) => {
      const name = account.name ?? invitation.displayName ?? found.email.split('@')[0]!;
      const [created] = await tx.$queryRaw<{ id: string | null }[]>`SELECT invitation_create_user(${tokenHash}, ${name}, ${account.passwordHash}) AS id`;
      if (!created?.id) return { kind: 'refused', reason: 'account_exists' } as const;
      actor = `user:${created.id}`;
      return this.attach(tx, found, invitation, created.id, meta);
    });
    return { outcome, actor };
  }

  /**
   * Runs `work` in the invitation's tenant with its row locked and still pending: a second
   * acceptance waits for the first and then finds it spent.
   */
  private inInvitationTenant(scope: Scope, found: InvitationLookup, work: (tx: TenantTx, invitation: InvitationRow) => Promise<Outcome>): Promise<Outcome> {
    return this.db
      .run(scope, async (tx): Promise<Outcome> => {
        const locked = await this.lock(tx, found.invitation_id);
        if (!locked) return { kind: 'refused', reason: 'revoked' };
        const { tenantId: _tenantId, ...invitation } = locked;
        if (invitation.acceptedAt) return { kind: 'refused', reason: 'accepted' };
        if (invitation.revokedAt) return { kind: 'refused', reason: 'revoked' };
        if (invitation.expiresAt <= this.clock.now()) return { kind: 'refused', reason: 'expired' };
        return work(tx, invitation);
      })
      .catch((error: unknown) => {
        // Two invitations of one person accepted at once: the membership's unique key decides.
        if (isUniqueViolation(error)) return { kind: 'refused', reason: 'already_member' } as const;
        throw error;
      });
  }

  /** The membership, the spent invitation, the audit record and the event: one transaction. */
  private async attach(tx: TenantTx, found: InvitationLookup, invitation: InvitationRow, userId: string, meta: RequestMeta): Promise<Outcome> {
    if (await tx.membership.findFirst({ where: { userId }, select: { id: true } })) return { kind: 'refused', reason: 'already_member' };
    const now = this.clock.now();
    const membership = await tx.membership.create({ data: { tenantId: found.tenant_id, userId, role: invitation.role, displayName: invitation.displayName, createdAt: now }, select: { id: true } });
    await tx.invitation.update({ where: { tenantId_id: { tenantId: found.tenant_id, id: invitation.id } }, data: { acceptedAt: now, acceptedUserId: userId }, select: { id: true } });
    await this.audit.recordIn(tx, found.tenant_id, {
      type: 'invitation.accepted',
      outcome: 'success',
      actor: `user:${userId}`,
      subject: `invitation:${invitation.id}`,
      ip: meta.ip,
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
      data: { membershipId: membership.id, role: invitation.role },
    });
    await appendDomainEvent(tx, found.tenant_id, { type: 'member.joined', subjectType: 'membership', subjectId: membership.id, payload: { invitationId: invitation.id, memberId: membership.id, role: invitation.role } }, now);
    return { kind: 'accepted', accepted: { tenant: { slug: found.tenant_slug, name: found.tenant_name }, role: invitation.role, memberId: membership.id } };
  }

  /** The invitation row, locked for this transaction (RLS keeps it to the transaction's tenant). */
  private async lock(tx: TenantTx, id: string): Promise<(InvitationRow & { tenantId: string }) | undefined> {
    const [locked] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM invitations WHERE id = ${id}::uuid FOR UPDATE`;
    if (!locked) return undefined;
    return (await tx.invitation.findFirst({ where: { id }, select: { ...INVITATION_SELECT, tenantId: true } })) ?? undefined;
  }
}

import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { PasswordHasher, type RequestMeta } from '@benteng/auth';
import { accessibleWhere, principalId } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { appendDomainEvent, isUniqueViolation, keysetWhere, PrismaService, TenantDatabase, type Keyset, type MembershipRole, type Prisma, type TenantStatus, type TenantTx } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { InvitationError, InvitationErrorCode } from './invitation.errors.js';
import { InvitationMailer, InvitationTokens } from './invitation-tokens.js';

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface InvitationView {
  id: string;
  email: string;
  role: MembershipRole;
  displayName: string | null;
  status: InvitationStatus;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
}

/** What accepting or registering answers: where the caller now belongs (no tenant id leaves). */
export interface AcceptedInvitation {
  tenant: { slug: string; name: string };
  role: MembershipRole;
  /** The new membership, by its tenant-local id (as GET /v1/members lists it). */
  memberId: string;
}

/** Pending (unexpired) invitations a tenant may hold at once: invitations are not a mailing list. */
export const MAX_PENDING_INVITATIONS = 100;
export const MAX_INVITATION_PAGE = 100;

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
type InvitationRow = Prisma.InvitationGetPayload<{ select: typeof INVITATION_SELECT }>;

interface LookupRow {
  tenant_id: string;
  invitation_id: string;
  email: string;
  tenant_slug: string;
  tenant_name: string;
  tenant_status: TenantStatus;
}

/** Why a presented token was refused; recorded, never told to the presenter (one answer for all). */
type Refusal = 'accepted' | 'revoked' | 'expired' | 'other_account' | 'tenant_suspended' | 'already_member' | 'account_exists';

type Outcome = { kind: 'accepted'; accepted: AcceptedInvitation } | { kind: 'refused'; reason: Refusal };

const emailDigest = (email: string) => createHash('sha256').update(email).digest('hex').slice(0, 16);
const normalizeEmail = (email: string) => email.trim().toLowerCase();

/**
 * Invitations (issue 14, finding 6): how a person comes to belong to a tenant. Owners and admins
 * invite an email address with a role; nothing is attached until the holder of that address
 * consents, by accepting from their own session (an existing account, whose email must be the
 * invited one) or by choosing a password (a new account for that email). The token is single use,
 * expires after INVITATION_TTL_S, can be revoked, and is stored only as an HMAC.
 *
 * Written by hand rather than taken from a library: the rules are the product's (roles, owner
 * grants, tenancy, audit), and the primitives underneath (HMAC, argon2, row locks) are library code.
 *
 * Acceptance crosses tenants: the invitee is not a member, so the invitation is found by its
 * token's hash through `invitation_lookup`, and the membership is made in the invitation's tenant
 * as the `system:invitations` principal, in one transaction that locks the invitation row first:
 * two acceptances of one token make one membership.
 */
@Injectable()
export class InvitationsService {
  constructor(
    protected readonly db: TenantDatabase,
    protected readonly prisma: PrismaService,
    protected readonly tokens: InvitationTokens,
    protected readonly mailer: InvitationMailer,
    protected readonly hasher: PasswordHasher,
    protected readonly audit: AuditLog,
    protected readonly clock: Clock,
    protected readonly config: AppConfig,
    protected readonly logger: PinoLogger,
  ) {
    this.logger.setContext(InvitationsService.name);
  }

  /** Newest first (keyset on createdAt, id). */
  async list(scope: Scope, page: { limit: number; after?: Keyset }): Promise<InvitationView[]> {
    const rows = await this.db.run(scope, (tx) =>
      tx.invitation.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Invitation'), page.after ? (keysetWhere('createdAt', 'desc', page.after) as Prisma.InvitationWhereInput) : {}] },
        select: INVITATION_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take: Math.min(Math.max(page.limit, 1), MAX_INVITATION_PAGE),
      }),
    );
    const now = this.clock.now();
    return rows.map((row) => view(row, now));
  }

  /** Missing and another tenant's invitation are the same answer (invariant 5). */
  async get(scope: Scope, id: string): Promise<InvitationView> {
    const row = await this.db.run(scope, (tx) => tx.invitation.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Invitation'), { id }] }, select: INVITATION_SELECT }));
    if (!row) throw new InvitationError(InvitationErrorCode.NotFound);
    return view(row, this.clock.now());
  }

  /**
   * A pending invitation, and its token in clear for this one answer (null when a mailer delivered
   * it). A pending invitation of the same email is replaced: its token stops working. Nobody is
   * attached here, whether or not the email has an account.
   */
  async create(scope: Scope, input: { email: string; role: MembershipRole; displayName?: string }, meta: RequestMeta): Promise<{ invitation: InvitationView; token: string | null }> {
    const invitedById = this.assertMayInvite(scope, input.role);
    const email = normalizeEmail(input.email);
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.config.INVITATION_TTL_S * 1000);
    const { token, hash } = this.tokens.mint();
    const row = await this.db.run(scope, async (tx) => {
      // One invitation of an email at a time per tenant: concurrent invites of one email queue here.
      await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtextextended(${`invitation:${scope.tenantId}:${email}`}, 0))`;
      if (await tx.membership.findFirst({ where: { user: { email } }, select: { id: true } })) throw new InvitationError(InvitationErrorCode.AlreadyMember);
      const pending = { acceptedAt: null, revokedAt: null, expiresAt: { gt: now } } satisfies Prisma.InvitationWhereInput;
      const replaced = await tx.invitation.findMany({ where: { ...pending, email }, select: { id: true } });
      if (replaced.length === 0 && (await tx.invitation.count({ where: pending })) >= MAX_PENDING_INVITATIONS) throw new InvitationError(InvitationErrorCode.TooManyPending);
      for (const old of replaced) {
        await tx.invitation.update({ where: { tenantId_id: { tenantId: scope.tenantId, id: old.id } }, data: { revokedAt: now }, select: { id: true } });
        await this.audit.recordIn(tx, scope.tenantId, { ...this.entry(scope, 'invitation.revoked', old.id, meta), data: { reason: 'replaced' } });
      }
      const created = await tx.invitation.create({
        data: { tenantId: scope.tenantId, email, role: input.role, displayName: input.displayName ?? null, tokenHash: hash, invitedById, createdAt: now, expiresAt },
        select: INVITATION_SELECT,
      });
      await this.audit.recordIn(tx, scope.tenantId, { ...this.entry(scope, 'invitation.created', created.id, meta), data: { role: input.role, expiresAt: expiresAt.toISOString() } });
      // For webhooks (and a mailer that prefers events): ids and facts, never the token or the email.
      await appendDomainEvent(tx, scope.tenantId, { type: 'member.invited', subjectType: 'invitation', subjectId: created.id, payload: { invitationId: created.id, role: input.role, expiresAt: expiresAt.toISOString() } }, now);
      return created;
    });
    const delivered = await this.mailer.deliver({ invitationId: row.id, tenantId: scope.tenantId, email, role: row.role, expiresAt, token });
    return { invitation: view(row, now), token: delivered ? null : token };
  }

  /** Revokes a pending or expired invitation; revoking twice changes nothing; an accepted one is 409. */
  async revoke(scope: Scope, id: string, meta: RequestMeta): Promise<InvitationView> {
    const now = this.clock.now();
    const row = await this.db.run(scope, async (tx) => {
      const current = await this.lock(tx, id);
      if (!current || !(await tx.invitation.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'update', 'Invitation'), { id }] }, select: { id: true } }))) {
        throw new InvitationError(InvitationErrorCode.NotFound);
      }
      if (current.acceptedAt) throw new InvitationError(InvitationErrorCode.NotPending);
      if (current.revokedAt) return current;
      const revoked = await tx.invitation.update({ where: { tenantId_id: { tenantId: scope.tenantId, id } }, data: { revokedAt: now }, select: INVITATION_SELECT });
      await this.audit.recordIn(tx, scope.tenantId, this.entry(scope, 'invitation.revoked', id, meta));
      return revoked;
    });
    return view(row, now);
  }

  /**
   * Accepts from the invitee's own session (in whichever tenant it is): the account's email must be
   * the invited one. Every refusal but "already a member" is the answer an unknown token gets.
   */
  async accept(scope: Scope, token: string, meta: RequestMeta): Promise<AcceptedInvitation> {
    if (scope.principal.kind !== 'user') throw new InvitationError(InvitationErrorCode.Invalid);
    const userId = scope.principal.userId;
    const found = await this.find(token, meta);
    const me = await this.db.run(scope, (tx) => tx.user.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'User'), { id: userId }] }, select: { email: true } }));
    const outcome: Outcome =
      found.row.tenant_status !== 'active'
        ? { kind: 'refused', reason: 'tenant_suspended' }
        : me?.email !== found.row.email
          ? { kind: 'refused', reason: 'other_account' }
          : await this.inInvitationTenant(found.row, async (tx, invitation) => this.attach(tx, found.row, invitation, userId, meta));
    return this.settle(found.row, outcome, `user:${userId}`, meta);
  }

  /**
   * A new account for the invited email, with the password the invitee chose, and its membership.
   * An email that already has an account is refused (accept from that account's session instead).
   */
  async register(input: { token: string; password: string; name?: string }, meta: RequestMeta): Promise<AcceptedInvitation> {
    const found = await this.find(input.token, meta);
    if (found.row.tenant_status !== 'active') return this.settle(found.row, { kind: 'refused', reason: 'tenant_suspended' }, 'anonymous', meta);
    // Hashed before the transaction: argon2 takes tens of milliseconds, no row lock waits on it.
    const passwordHash = await this.hasher.hash(input.password);
    let actor = 'anonymous';
    const outcome = await this.inInvitationTenant(found.row, async (tx, invitation) => {
      const name = input.name ?? invitation.displayName ?? found.row.email.split('@')[0]!;
      const [created] = await tx.$queryRaw<{ id: string | null }[]>`SELECT invitation_create_user(${found.hash}, ${name}, ${passwordHash}) AS id`;
      if (!created?.id) return { kind: 'refused', reason: 'account_exists' } as const;
      actor = `user:${created.id}`;
      return this.attach(tx, found.row, invitation, created.id, meta);
    });
    return this.settle(found.row, outcome, actor, meta);
  }

  /** The invitation a token names, or the one refusal (logged with a digest, never the token). */
  private async find(token: string, meta: RequestMeta): Promise<{ row: LookupRow; hash: string }> {
    const hash = this.tokens.hashOf(token);
    const [row] = hash ? await this.prisma.client.$queryRaw<LookupRow[]>`SELECT * FROM invitation_lookup(${hash})` : [];
    if (!hash || !row) {
      this.logger.warn({ event: 'invitation.refused', reason: hash ? 'unknown_token' : 'malformed_token', ip: meta.ip, requestId: meta.requestId }, 'invitation token refused');
      throw new InvitationError(InvitationErrorCode.Invalid);
    }
    return { row, hash };
  }

  /**
   * Runs `work` in the invitation's tenant with its row locked and still pending: a second
   * acceptance waits for the first and then finds it spent.
   */
  private inInvitationTenant(row: LookupRow, work: (tx: TenantTx, invitation: InvitationRow) => Promise<Outcome>): Promise<Outcome> {
    const scope = Scope.for(row.tenant_id, { kind: 'system', name: 'invitations' });
    return this.db
      .run(scope, async (tx): Promise<Outcome> => {
        const invitation = await this.lock(tx, row.invitation_id);
        if (!invitation) return { kind: 'refused', reason: 'revoked' };
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
  private async attach(tx: TenantTx, row: LookupRow, invitation: InvitationRow, userId: string, meta: RequestMeta): Promise<Outcome> {
    if (await tx.membership.findFirst({ where: { userId }, select: { id: true } })) return { kind: 'refused', reason: 'already_member' };
    const now = this.clock.now();
    const membership = await tx.membership.create({ data: { tenantId: row.tenant_id, userId, role: invitation.role, displayName: invitation.displayName, createdAt: now }, select: { id: true } });
    await tx.invitation.update({ where: { tenantId_id: { tenantId: row.tenant_id, id: invitation.id } }, data: { acceptedAt: now, acceptedUserId: userId }, select: { id: true } });
    await this.audit.recordIn(tx, row.tenant_id, {
      type: 'invitation.accepted',
      outcome: 'success',
      actor: `user:${userId}`,
      subject: `invitation:${invitation.id}`,
      ip: meta.ip,
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
      data: { membershipId: membership.id, role: invitation.role },
    });
    await appendDomainEvent(tx, row.tenant_id, { type: 'member.joined', subjectType: 'membership', subjectId: membership.id, payload: { invitationId: invitation.id, memberId: membership.id, role: invitation.role } }, now);
    return { kind: 'accepted', accepted: { tenant: { slug: row.tenant_slug, name: row.tenant_name }, role: invitation.role, memberId: membership.id } };
  }

  /** Audits a refusal in the invitation's tenant (a genuine token was presented) and answers it. */
  private async settle(row: LookupRow, outcome: Outcome, actor: string, meta: RequestMeta): Promise<AcceptedInvitation> {
    if (outcome.kind === 'accepted') return outcome.accepted;
    await this.audit.recordFor(row.tenant_id, {
      type: 'invitation.refused',
      outcome: 'denied',
      actor,
      subject: `invitation:${row.invitation_id}`,
      ip: meta.ip,
      ...(meta.requestId ? { requestId: meta.requestId } : {}),
      data: { reason: outcome.reason },
    });
    this.logger.warn({ event: 'invitation.refused', reason: outcome.reason, email: emailDigest(row.email), ip: meta.ip, requestId: meta.requestId }, 'invitation refused');
    // The invitee, and only they, learns what to do next; everything else is "not valid".
    if (outcome.reason === 'already_member') throw new InvitationError(InvitationErrorCode.AlreadyMember);
    if (outcome.reason === 'account_exists') throw new InvitationError(InvitationErrorCode.SignInRequired);
    throw new InvitationError(InvitationErrorCode.Invalid);
  }

  /** The invitation row, locked for this transaction (RLS keeps it to the transaction's tenant). */
  private async lock(tx: TenantTx, id: string): Promise<InvitationRow | undefined> {
    const [locked] = await tx.$queryRaw<{ id: string }[]>`SELECT id FROM invitations WHERE id = ${id}::uuid FOR UPDATE`;
    if (!locked) return undefined;
    return (await tx.invitation.findFirst({ where: { id }, select: INVITATION_SELECT })) ?? undefined;
  }

  /** The inviter's user id, once the role may invite at all and may grant the role. */
  private assertMayInvite(scope: Scope, role: MembershipRole): string {
    if (scope.principal.kind !== 'user') throw new InvitationError(InvitationErrorCode.Forbidden);
    if (!scope.ability.can('create', subject('Invitation', { tenantId: scope.tenantId } as never))) throw new InvitationError(InvitationErrorCode.Forbidden);
    // As for role changes: only an owner grants the owner role.
    if (role === 'owner' && scope.principal.role !== 'owner') throw new InvitationError(InvitationErrorCode.OwnerRequired);
    return scope.principal.userId;
  }

  private entry(scope: Scope, type: AuditEntry['type'], invitationId: string, meta: RequestMeta): AuditEntry {
    return { type, outcome: 'success', actor: principalId(scope.principal), subject: `invitation:${invitationId}`, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
  }
}

function view(row: InvitationRow, now: Date): InvitationView {
  const status: InvitationStatus = row.acceptedAt ? 'accepted' : row.revokedAt ? 'revoked' : row.expiresAt <= now ? 'expired' : 'pending';
  return { ...row, status };
}

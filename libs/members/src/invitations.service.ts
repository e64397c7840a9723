import { createHash } from 'node:crypto';
import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog } from '@benteng/audit';
import { PasswordHasher, type RequestMeta } from '@benteng/auth';
import { authorize } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import type { InTransaction, Keyset, MembershipRole } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { InvitationError, InvitationErrorCode } from './invitation.errors.js';
import { InvitationMailer, InvitationTokens } from './invitation-tokens.js';
import type { AcceptedInvitation, InvitationStatus, InvitationView } from './invitation.types.js';
import { InvitationsRepository, type InvitationLookup, type InvitationRow, type Outcome } from './invitations.repository.js';

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
 * two acceptances of one token make one membership (InvitationsRepository).
 */
@Injectable()
export class InvitationsService {
  constructor(
    protected readonly invitations: InvitationsRepository,
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
    const rows = await this.invitations.list(scope, page);
    const now = this.clock.now();
    return rows.map((row) => view(row, now));
  }

  /** Missing and another tenant's invitation are the same answer (invariant 5). */
  async get(scope: Scope, id: string): Promise<InvitationView> {
    const row = await this.invitations.get(scope, id);
    if (!row) throw new InvitationError(InvitationErrorCode.NotFound);
    return view(row, this.clock.now());
  }

  /**
   * A pending invitation, and its token in clear for this one answer (null when a mailer delivered
   * it). A pending invitation of the same email is replaced: its token stops working. Nobody is
   * attached here, whether or not the email has an account.
   */
  /** `also` runs in the create's transaction with the invitation's view, never its token (an Idempotency-Key's answer). */
  async create(
    scope: Scope,
    input: { email: string; role: MembershipRole; displayName?: string },
    meta: RequestMeta,
    also?: InTransaction<InvitationView>,
  ): Promise<{ invitation: InvitationView; token: string | null }> {
    const invitedById = this.assertMayInvite(scope, input.role);
    const email = normalizeEmail(input.email);
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.config.INVITATION_TTL_S * 1000);
    const { token, hash } = this.tokens.mint();
    const row = await this.invitations.create(scope, { email, role: input.role, displayName: input.displayName ?? null, tokenHash: hash, invitedById, createdAt: now, expiresAt }, meta, also ? (tx, created) => also(tx, view(created, now)) : undefined);
    const delivered = await this.mailer.deliver({ invitationId: row.id, tenantId: scope.tenantId, email, role: row.role, expiresAt, token });
    return { invitation: view(row, now), token: delivered ? null : token };
  }

  /** Revokes a pending or expired invitation; revoking twice changes nothing; an accepted one is 409. */
  async revoke(scope: Scope, id: string, meta: RequestMeta): Promise<InvitationView> {
    const now = this.clock.now();
    return view(await this.invitations.revoke(scope, id, now, meta), now);
  }

  /**
   * Accepts from the invitee's own session (in whichever tenant it is): the account's email must be
   * the invited one. Every refusal but "already a member" is the answer an unknown token gets.
   */
  async accept(scope: Scope, token: string, meta: RequestMeta): Promise<AcceptedInvitation> {
    if (scope.principal.kind !== 'user') throw new InvitationError(InvitationErrorCode.Invalid);
    const userId = scope.principal.userId;
    const found = await this.find(token, meta);
    const email = await this.invitations.accountEmail(scope, userId);
    const outcome: Outcome =
      found.row.tenant_status !== 'active'
        ? { kind: 'refused', reason: 'tenant_suspended' }
        : email !== found.row.email
          ? { kind: 'refused', reason: 'other_account' }
          : await this.invitations.accept(invitationScope(found.row), found.row, userId, meta);
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
    const { outcome, actor } = await this.invitations.register(invitationScope(found.row), found.row, found.hash, { passwordHash, ...(input.name !== undefined ? { name: input.name } : {}) }, meta);
    return this.settle(found.row, outcome, actor, meta);
  }

  /** The invitation a token names, or the one refusal (logged with a digest, never the token). */
  private async find(token: string, meta: RequestMeta): Promise<{ row: InvitationLookup; hash: string }> {
    const hash = this.tokens.hashOf(token);
    const row = hash ? await this.invitations.findByToken(hash) : undefined;
    if (!hash || !row) {
      this.logger.warn({ event: 'invitation.refused', reason: hash ? 'unknown_token' : 'malformed_token', ip: meta.ip, requestId: meta.requestId }, 'invitation token refused');
      throw new InvitationError(InvitationErrorCode.Invalid);
    }
    return { row, hash };
  }

  /** Audits a refusal in the invitation's tenant (a genuine token was presented) and answers it. */
  private async settle(row: InvitationLookup, outcome: Outcome, actor: string, meta: RequestMeta): Promise<AcceptedInvitation> {
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

  /** The inviter's user id, once the role may invite at all and may grant the role. */
  private assertMayInvite(scope: Scope, role: MembershipRole): string {
    const forbidden = () => new InvitationError(InvitationErrorCode.Forbidden);
    if (scope.principal.kind !== 'user') throw forbidden();
    authorize(scope, 'create', 'Invitation', { tenantId: scope.tenantId }, forbidden);
    // As for role changes: only an owner grants the owner role.
    if (role === 'owner' && scope.principal.role !== 'owner') throw new InvitationError(InvitationErrorCode.OwnerRequired);
    return scope.principal.userId;
  }
}

/** Who attaches an invitee, in the invitation's tenant: the invitee is not a member yet. */
const invitationScope = (found: InvitationLookup): Scope => Scope.for(found.tenant_id, { kind: 'system', name: 'invitations' });

function view(row: InvitationRow, now: Date): InvitationView {
  const status: InvitationStatus = row.acceptedAt ? 'accepted' : row.revokedAt ? 'revoked' : row.expiresAt <= now ? 'expired' : 'pending';
  return { ...row, status };
}

import { Injectable } from '@nestjs/common';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { accessibleWhere } from '@benteng/authz';
import { TenantDatabase, type Prisma } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { ErasureResult } from './privacy.types.js';

/** What erasure writes in place of free text (prisma/personal-data.ts: `pseudonymise`). */
export const ERASED_TEXT = '[erased]';

/** The subject's membership, as the service needs it to decide (last owner, who the subject is). */
export interface SubjectMembership {
  id: string;
  userId: string;
  role: string;
  email: string;
}

/** A document to delete: its row id and where its bytes are. */
export interface SubjectDocument {
  id: string;
  storageKey: string;
}

const json = (value: unknown): Prisma.InputJsonValue => JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))) as Prisma.InputJsonValue;

/**
 * One data subject's personal data in one tenant, as prisma/personal-data.ts lists it: collected for
 * an access request, erased for an erasure request. Runs as `system:privacy`
 * (libs/authz/src/rules/system.rules.ts) after PrivacyService has checked the request against the
 * requester's own rules; every query is in a tenant transaction (RLS) with that principal's CASL
 * condition, so nothing of another tenant is read or changed.
 */
@Injectable()
export class SubjectDataRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /** A membership of this tenant, by member id or by user id, or null (none, or another tenant's). */
  membership(scope: Scope, by: { memberId: string } | { userId: string }): Promise<SubjectMembership | null> {
    return this.db.run(scope, async (tx) => {
      const row = await tx.membership.findFirst({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), 'memberId' in by ? { id: by.memberId } : { userId: by.userId }] },
        select: { id: true, userId: true, role: true, user: { select: { email: true } } },
      });
      return row ? { id: row.id, userId: row.userId, role: row.role, email: row.user.email } : null;
    });
  }

  /** How many owners the tenant has (an erasure must leave one). */
  owners(scope: Scope): Promise<number> {
    return this.db.run(scope, (tx) => tx.membership.count({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), { role: 'owner' }] } }));
  }

  /** The documents the subject uploaded (their bytes are deleted from the storage before the rows). */
  documents(scope: Scope, userId: string): Promise<SubjectDocument[]> {
    return this.db.run(scope, (tx) =>
      tx.document.findMany({ where: { AND: [accessibleWhere(scope.ability, 'delete', 'Document'), { uploadedById: userId }] }, select: { id: true, storageKey: true } }),
    );
  }

  /**
   * Everything this tenant holds about the subject, as one JSON-ready object: their account as this
   * tenant sees it, membership, sessions, invitations to their address, tickets they opened or work
   * on, their comments, documents (metadata), the invoices and exports they created, blocks, their
   * audit trail and their earlier requests. Another member's data appears only where it is part of
   * the subject's own record (a ticket they opened names its assignee by id, never by name).
   */
  collect(scope: Scope, userId: string): Promise<Record<string, unknown>> {
    const a = scope.ability;
    return this.db.run(scope, async (tx) => {
      const user = await tx.user.findFirst({ where: { AND: [accessibleWhere(a, 'read', 'User'), { id: userId }] }, select: { id: true, email: true, displayName: true, status: true, createdAt: true } });
      const email = user?.email ?? '';
      const principal = `user:${userId}`;
      const membership = await tx.membership.findFirst({ where: { AND: [accessibleWhere(a, 'read', 'Membership'), { userId }] }, select: { id: true, role: true, displayName: true, createdAt: true } });
      const about = [{ actor: principal }, { subject: principal }, ...(membership ? [{ subject: `membership:${membership.id}` }] : [])];
      const [sessions, invitations, tickets, comments, documents, invoices, exports, blocks, audit, requests] = await Promise.all([
        tx.session.findMany({ where: { AND: [accessibleWhere(a, 'read', 'Session'), { userId }] }, select: { id: true, createdAt: true, lastSeenAt: true, expiresAt: true, revokedAt: true, revokedReason: true, userAgent: true, ip: true }, orderBy: { createdAt: 'asc' } }),
        tx.invitation.findMany({ where: { AND: [accessibleWhere(a, 'read', 'Invitation'), { OR: [{ email }, { acceptedUserId: userId }] }] }, select: { id: true, email: true, role: true, displayName: true, createdAt: true, expiresAt: true, acceptedAt: true, revokedAt: true }, orderBy: { createdAt: 'asc' } }),
        tx.ticket.findMany({ where: { AND: [accessibleWhere(a, 'read', 'Ticket'), { OR: [{ openedById: userId }, { assigneeId: userId }] }] }, select: { id: true, subject: true, body: true, status: true, priority: true, openedById: true, assigneeId: true, createdAt: true }, orderBy: { createdAt: 'asc' } }),
        tx.ticketComment.findMany({ where: { AND: [accessibleWhere(a, 'read', 'TicketComment'), { authorId: userId }] }, select: { id: true, ticketId: true, body: true, createdAt: true }, orderBy: { createdAt: 'asc' } }),
        tx.document.findMany({ where: { AND: [accessibleWhere(a, 'read', 'Document'), { uploadedById: userId }] }, select: { id: true, fileName: true, contentType: true, size: true, sha256: true, createdAt: true }, orderBy: { createdAt: 'asc' } }),
        tx.invoice.findMany({ where: { AND: [accessibleWhere(a, 'read', 'Invoice'), { createdById: userId }] }, select: { id: true, number: true, status: true, createdAt: true }, orderBy: { createdAt: 'asc' } }),
        tx.export.findMany({ where: { AND: [accessibleWhere(a, 'read', 'Export'), { requestedById: userId }] }, select: { id: true, type: true, format: true, status: true, createdAt: true }, orderBy: { createdAt: 'asc' } }),
        tx.securityBlock.findMany({ where: { AND: [accessibleWhere(a, 'read', 'SecurityBlock'), { principal }] }, select: { id: true, signal: true, ip: true, blockedAt: true, expiresAt: true, liftedAt: true }, orderBy: { blockedAt: 'asc' } }),
        tx.auditEvent.findMany({
          where: { AND: [accessibleWhere(a, 'read', 'AuditEvent'), { OR: about }] },
          select: { seq: true, occurredAt: true, type: true, outcome: true, actor: true, subject: true, ip: true, data: true, erasedAt: true },
          orderBy: { seq: 'asc' },
        }),
        tx.privacyRequest.findMany({ where: { AND: [accessibleWhere(a, 'read', 'PrivacyRequest'), { subjectUserId: userId }] }, select: { id: true, kind: true, status: true, createdAt: true, completedAt: true }, orderBy: { createdAt: 'asc' } }),
      ]);
      // An event about the subject that someone else performed carries that person's address: the
      // subject gets what was done to them and by whom (a pseudonymous id), not the actor's address.
      const auditEvents = audit.map((e) => (e.actor === principal ? e : { ...e, ip: null }));
      return json({ user, membership, sessions, invitations, tickets, ticketComments: comments, documents, invoicesCreated: invoices, exports, securityBlocks: blocks, auditEvents, privacyRequests: requests }) as Record<string, unknown>;
    });
  }

  /**
   * Erases the subject from this tenant in one transaction, as prisma/personal-data.ts says for each
   * column, and records `audit` (built from the counts) last, in the same transaction. The
   * documents' bytes must already be deleted from the storage (`documents`). Answers the counts and
   * the ids of the sessions that ended, for the revocation store.
   *
   * `eraseAccount`: also erase the account itself (privacy_erase_account, which refuses while the
   * user belongs to another tenant).
   */
  erase(scope: Scope, userId: string, options: { eraseAccount: boolean; at: Date; documentIds: readonly string[] }, audit: (result: ErasureResult) => AuditEntry): Promise<{ result: ErasureResult; sessionIds: string[] }> {
    const a = scope.ability;
    const principal = `user:${userId}`;
    return this.db.run(scope, async (tx) => {
      const membership = await tx.membership.findFirst({ where: { AND: [accessibleWhere(a, 'delete', 'Membership'), { userId }] }, select: { id: true, user: { select: { email: true } } } });
      if (!membership) throw new Error('SubjectDataRepository.erase: the subject is not a member (checked by the service first)');
      const email = membership.user.email;
      const sessions = await tx.session.findMany({ where: { AND: [accessibleWhere(a, 'delete', 'Session'), { userId }] }, select: { id: true } });
      const documents = await tx.document.deleteMany({ where: { AND: [accessibleWhere(a, 'delete', 'Document'), { uploadedById: userId, id: { in: [...options.documentIds] } }] } });
      const ticketsRedacted = await tx.ticket.updateMany({ where: { AND: [accessibleWhere(a, 'update', 'Ticket'), { openedById: userId }] }, data: { subject: ERASED_TEXT, body: ERASED_TEXT, version: { increment: 1 } } });
      // tickets.assignee_id references the membership, which goes below.
      const ticketsUnassigned = await tx.ticket.updateMany({ where: { AND: [accessibleWhere(a, 'update', 'Ticket'), { assigneeId: userId }] }, data: { assigneeId: null, version: { increment: 1 } } });
      const commentsRedacted = await tx.ticketComment.updateMany({ where: { AND: [accessibleWhere(a, 'update', 'TicketComment'), { authorId: userId }] }, data: { body: ERASED_TEXT } });
      const invitations = await tx.invitation.findMany({ where: { AND: [accessibleWhere(a, 'update', 'Invitation'), { OR: [{ email }, { acceptedUserId: userId }] }] }, select: { id: true } });
      for (const inv of invitations) {
        await tx.invitation.updateMany({ where: { id: inv.id }, data: { email: `erased+${inv.id}@erased.invalid`, displayName: null } });
      }
      const exports = await tx.export.deleteMany({ where: { AND: [accessibleWhere(a, 'delete', 'Export'), { requestedById: userId }] } });
      // Idempotency keys have no CASL subject (libs/idempotency); RLS keeps this to the tenant.
      const idempotencyKeys = await tx.idempotencyKey.deleteMany({ where: { principal } });
      const securityBlocks = await tx.securityBlock.updateMany({ where: { AND: [accessibleWhere(a, 'update', 'SecurityBlock'), { principal, ip: { not: null } }] }, data: { ip: null } });
      // The access log (libs/audit/src/access-log.ts) has no CASL subject either; RLS keeps this to the tenant.
      const accessRecords = await tx.accessRecord.updateMany({ where: { principal, ip: { not: null } }, data: { ip: null } });
      const detail = await this.audit.eraseDetailIn(tx, { actors: [principal], subjects: [principal, `membership:${membership.id}`], dataValues: [email] }, options.at);
      let accountErased = false;
      if (options.eraseAccount) {
        const [row] = await tx.$queryRaw<{ erased: boolean }[]>`SELECT privacy_erase_account(${userId}::uuid) AS erased`;
        accountErased = row?.erased === true;
      }
      // Sessions (and their refresh tokens) go with the membership (ON DELETE CASCADE); the
      // session_revocations trigger records each one.
      await tx.membership.deleteMany({ where: { AND: [accessibleWhere(a, 'delete', 'Membership'), { id: membership.id }] } });
      const result: ErasureResult = {
        membership: 1,
        sessions: sessions.length,
        documents: documents.count,
        ticketsRedacted: ticketsRedacted.count,
        ticketsUnassigned: ticketsUnassigned.count,
        commentsRedacted: commentsRedacted.count,
        invitations: invitations.length,
        exports: exports.count,
        idempotencyKeys: idempotencyKeys.count,
        securityBlocks: securityBlocks.count,
        accessRecords: accessRecords.count,
        auditEventsErased: detail.erased,
        auditEventsLegacy: detail.legacy,
        accountErased,
      };
      await this.audit.recordIn(tx, scope.tenantId, audit(result));
      return { result, sessionIds: sessions.map((s) => s.id) };
    });
  }
}

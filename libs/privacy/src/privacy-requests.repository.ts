import { Injectable } from '@nestjs/common';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { accessibleWhere } from '@benteng/authz';
import { TenantDatabase, type Prisma } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { PrivacyListQuery, PrivacyRequestKind, PrivacyRequestStatus, PrivacyRequestView } from './privacy.types.js';

const SELECT = {
  id: true,
  kind: true,
  subjectUserId: true,
  subjectMemberId: true,
  requestedById: true,
  status: true,
  exportId: true,
  result: true,
  errorCode: true,
  createdAt: true,
  completedAt: true,
} as const satisfies Prisma.PrivacyRequestSelect;

type Row = Prisma.PrivacyRequestGetPayload<{ select: typeof SELECT }>;

const view = (row: Row): PrivacyRequestView => ({
  ...row,
  kind: row.kind as PrivacyRequestKind,
  status: row.status as PrivacyRequestStatus,
  result: (row.result ?? {}) as PrivacyRequestView['result'],
});

/**
 * privacy_requests: every method takes the Scope first and runs in one tenant transaction with the
 * scope's PrivacyRequest rule in its WHERE (docs/style.md, One persistence style); the audit event
 * of a change is written in the same transaction.
 */
@Injectable()
export class PrivacyRequestsRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /**
   * An access request and the `subject_access` export that will carry its answer, with their audit
   * event, in one transaction. The export belongs to the requester (only they can download it,
   * libs/authz/src/rules/exports.rules.ts) and names its subject in its filters.
   */
  createAccess(scope: Scope, input: { subjectUserId: string; subjectMemberId: string; requestedById: string; now: Date }, audit: (request: PrivacyRequestView) => AuditEntry): Promise<PrivacyRequestView> {
    return this.db.run(scope, async (tx) => {
      const exp = await tx.export.create({
        data: { tenantId: scope.tenantId, type: 'subject_access', format: 'json', filters: { subjectUserId: input.subjectUserId }, requestedById: input.requestedById, createdAt: input.now },
        select: { id: true },
      });
      const row = await tx.privacyRequest.create({
        data: { tenantId: scope.tenantId, kind: 'access', subjectUserId: input.subjectUserId, subjectMemberId: input.subjectMemberId, requestedById: input.requestedById, exportId: exp.id, createdAt: input.now },
        select: SELECT,
      });
      const created = view(row);
      await this.audit.recordIn(tx, scope.tenantId, audit(created));
      return created;
    });
  }

  /** An erasure request, recorded before the erasure runs (status `processing`). */
  createErasure(scope: Scope, input: { subjectUserId: string; subjectMemberId: string; requestedById: string; now: Date }): Promise<PrivacyRequestView> {
    return this.db.run(scope, async (tx) => {
      const row = await tx.privacyRequest.create({
        data: { tenantId: scope.tenantId, kind: 'erasure', subjectUserId: input.subjectUserId, subjectMemberId: input.subjectMemberId, requestedById: input.requestedById, createdAt: input.now },
        select: SELECT,
      });
      return view(row);
    });
  }

  findById(scope: Scope, id: string): Promise<PrivacyRequestView | null> {
    return this.db.run(scope, async (tx) => {
      const row = await tx.privacyRequest.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'PrivacyRequest'), { id }] }, select: SELECT });
      return row ? view(row) : null;
    });
  }

  list(scope: Scope, query: PrivacyListQuery, take: number): Promise<PrivacyRequestView[]> {
    return this.db.run(scope, async (tx) => {
      const after = query.after;
      const rows = await tx.privacyRequest.findMany({
        where: {
          AND: [
            accessibleWhere(scope.ability, 'read', 'PrivacyRequest'),
            after ? { OR: [{ createdAt: { lt: after.value } }, { createdAt: after.value, id: { lt: after.id } }] } : {},
          ],
        },
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take,
        select: SELECT,
      });
      return rows.map(view);
    });
  }

  /** Ends a request that is still processing (completed or failed), with its audit event. */
  finish(scope: Scope, id: string, outcome: { status: 'completed' | 'failed'; result?: object; errorCode?: string; at: Date }, audit: AuditEntry | null): Promise<boolean> {
    return this.db.run(scope, async (tx) => {
      const changed = await tx.privacyRequest.updateMany({
        where: { AND: [accessibleWhere(scope.ability, 'update', 'PrivacyRequest'), { id, status: 'processing' }] },
        data: { status: outcome.status, result: (outcome.result ?? {}) as Prisma.InputJsonObject, errorCode: outcome.errorCode ?? null, completedAt: outcome.at },
      });
      if (changed.count === 1 && audit) await this.audit.recordIn(tx, scope.tenantId, audit);
      return changed.count === 1;
    });
  }
}

import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { RevocationStore } from '@benteng/auth';
import { authorize } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { DocumentStorage } from '@benteng/documents';
import { JobQueue } from '@benteng/jobs';
import { Scope } from '@benteng/tenancy';
import { PrivacyError, PrivacyErrorCode } from './privacy.errors.js';
import { PrivacyRequestsRepository } from './privacy-requests.repository.js';
import { PRIVACY_ACCESS_JOB, type NewPrivacyRequest, type PrivacyAccessJobData, type PrivacyListQuery, type PrivacyRequestMeta, type PrivacyRequestView } from './privacy.types.js';
import { SubjectDataRepository } from './subject-data.repository.js';

export const MAX_PRIVACY_PAGE = 100;
/** Attempts of one access export run (BullMQ retries with backoff in between), as for exports. */
export const PRIVACY_ACCESS_ATTEMPTS = 5;

/** The principal that collects and erases a subject's data once the request is authorised. */
export const privacyScope = (tenantId: string): Scope => Scope.for(tenantId, { kind: 'system', name: 'privacy' });

/**
 * Data subject requests (UU PDP; docs/privacy.md, Data subject requests). Anyone may ask about
 * themselves (`me`); owners and admins about any member of their tenant (libs/authz/src/rules/
 * privacy.rules.ts). The subject must be a member of the requester's tenant, else 404, the same
 * answer as for a user who does not exist, so no other tenant's user can be probed.
 *
 * - **access**: a `subject_access` export (one JSON document) built by the worker through the same
 *   tenant-safe path as every export: a signed job in the requester's Scope, chunks in the tenant's
 *   export tables, downloaded by the requester only (`GET /v1/exports/:id/content` or a signed link).
 * - **erasure**: done at once, in one tenant transaction (SubjectDataRepository.erase): this tenant's
 *   copy of the person goes; the shared account (email, name, password) only when the subject asks
 *   themselves and belongs to no other tenant. The tenant's only owner is refused (409).
 */
@Injectable()
export class PrivacyService {
  constructor(
    private readonly requests: PrivacyRequestsRepository,
    private readonly subjects: SubjectDataRepository,
    private readonly storage: DocumentStorage,
    private readonly revocations: RevocationStore,
    private readonly jobs: JobQueue,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(PrivacyService.name);
  }

  async request(scope: Scope, input: NewPrivacyRequest, meta: PrivacyRequestMeta): Promise<PrivacyRequestView> {
    const requestedById = userOf(scope);
    // The subject is named as the API names members (/v1/members/{id}); `me` is the caller. Who the
    // members of one's own tenant are is no secret (GET /v1/members), so looking up first and then
    // refusing a member who names someone else (403) tells nothing; another tenant's member is 404.
    const system = privacyScope(scope.tenantId);
    const membership = await this.subjects.membership(system, input.subject === 'me' ? { userId: requestedById } : { memberId: input.subject.toLowerCase() });
    if (!membership) throw new PrivacyError(PrivacyErrorCode.NotFound);
    const subject = { subjectUserId: membership.userId, subjectMemberId: membership.id };
    authorize(scope, 'create', 'PrivacyRequest', { tenantId: scope.tenantId, subjectUserId: subject.subjectUserId }, () => new PrivacyError(PrivacyErrorCode.Forbidden));
    return input.kind === 'access' ? this.access(scope, subject, requestedById, meta) : this.erase(scope, { ...subject, role: membership.role }, requestedById, meta);
  }

  async get(scope: Scope, id: string): Promise<PrivacyRequestView> {
    const row = await this.requests.findById(scope, id);
    if (!row) throw new PrivacyError(PrivacyErrorCode.NotFound);
    return row;
  }

  list(scope: Scope, query: PrivacyListQuery): Promise<PrivacyRequestView[]> {
    return this.requests.list(scope, query, Math.min(Math.max(query.limit, 1), MAX_PRIVACY_PAGE));
  }

  private async access(scope: Scope, subject: { subjectUserId: string; subjectMemberId: string }, requestedById: string, meta: PrivacyRequestMeta): Promise<PrivacyRequestView> {
    const { subjectUserId } = subject;
    const created = await this.requests.createAccess(scope, { ...subject, requestedById, now: this.clock.now() }, (request) => ({
      ...entry(scope, 'privacy.access_requested', 'success', request.id, meta),
      data: { kind: 'access', subject: `user:${subjectUserId}`, exportId: request.exportId },
    }));
    const exportId = created.exportId!;
    try {
      await this.jobs.enqueueTenantJob<PrivacyAccessJobData>(scope, PRIVACY_ACCESS_JOB, { requestId: created.id, exportId }, { jobId: exportId, attempts: PRIVACY_ACCESS_ATTEMPTS });
    } catch (error) {
      this.logger.error({ err: error, privacyRequestId: created.id }, 'access request could not be queued');
      await this.requests.finish(privacyScope(scope.tenantId), created.id, { status: 'failed', errorCode: 'not_queued', at: this.clock.now() }, null);
      throw error;
    }
    return created;
  }

  private async erase(scope: Scope, subject: { subjectUserId: string; subjectMemberId: string; role: string }, requestedById: string, meta: PrivacyRequestMeta): Promise<PrivacyRequestView> {
    const system = privacyScope(scope.tenantId);
    const { subjectUserId } = subject;
    if (subject.role === 'owner' && (await this.subjects.owners(system)) <= 1) {
      await this.audit.record(scope, { ...entry(scope, 'privacy.erasure_refused', 'denied', `user:${subjectUserId}`, meta), data: { reason: 'last_owner' } });
      throw new PrivacyError(PrivacyErrorCode.LastOwner);
    }
    const request = await this.requests.createErasure(scope, { subjectUserId, subjectMemberId: subject.subjectMemberId, requestedById, now: this.clock.now() });
    // The bytes first: a row without bytes is reported as missing, bytes without a row would be
    // unreachable personal data left behind.
    const documents = await this.subjects.documents(system, subjectUserId);
    for (const doc of documents) await this.storage.delete(system, doc.storageKey);
    const self = subjectUserId === requestedById;
    const at = this.clock.now();
    const { result, sessionIds } = await this.subjects.erase(system, subjectUserId, { eraseAccount: self, at, documentIds: documents.map((d) => d.id) }, (counts) => ({
      // The record of the erasure keeps no address of the person erased (a self-erasure's request
      // comes from the subject's own device).
      ...entry(scope, 'privacy.erasure_completed', 'success', `privacy_request:${request.id}`, self ? { requestId: meta.requestId } : meta),
      data: { subject: `user:${subjectUserId}`, sessions: counts.sessions, documents: counts.documents, auditEventsErased: counts.auditEventsErased, accountErased: counts.accountErased },
    }));
    await this.revocations.publish(sessionIds.map((id) => ({ kind: 'session' as const, id })));
    await this.requests.finish(system, request.id, { status: 'completed', result, at }, null);
    return { ...request, status: 'completed', result, completedAt: at };
  }
}

function userOf(scope: Scope): string {
  if (scope.principal.kind !== 'user') throw new PrivacyError(PrivacyErrorCode.Forbidden);
  return scope.principal.userId;
}

function entry(scope: Scope, type: AuditEntry['type'], outcome: AuditEntry['outcome'], subject: string, meta: PrivacyRequestMeta): AuditEntry {
  return {
    type,
    outcome,
    actor: `user:${userOf(scope)}`,
    subject,
    ...(meta.ip ? { ip: meta.ip } : {}),
    ...(meta.requestId ? { requestId: meta.requestId } : {}),
  };
}

import type { AuditEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { principalId } from '@benteng/authz';
import type { Scope } from '@benteng/tenancy';
import { WebhookError, WebhookErrorCode } from './webhook.errors.js';
import type { PageRequest } from './webhook.types.js';

/** What the management API's calls share: page size, the person acting, and their audit entry. */
export const MAX_PAGE_SIZE = 100;

export const pageSize = (page: PageRequest): number => Math.min(Math.max(page.limit, 1), MAX_PAGE_SIZE);

/** Endpoints are made by people: the user is recorded as creator (and audited as the actor). */
export function userOf(scope: Scope): string {
  if (scope.principal.kind !== 'user') throw new WebhookError(WebhookErrorCode.Forbidden);
  return scope.principal.userId;
}

export function auditEntry(scope: Scope, type: AuditEntry['type'], subjectRef: string, meta: RequestMeta): AuditEntry {
  return { type, outcome: 'success', actor: principalId(scope.principal), subject: subjectRef, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
}

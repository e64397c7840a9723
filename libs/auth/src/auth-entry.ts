import type { AuditEntry } from '@benteng/audit';
import type { Scope } from '@benteng/tenancy';
import { AuthError, AuthErrorCode } from './auth.errors.js';
import type { RequestMeta } from './auth.types.js';

/** An audit entry of the auth services: who did what to which session or user, from where. */
export function authEntry(type: AuditEntry['type'], outcome: AuditEntry['outcome'], actor: string, subject: string, meta: RequestMeta): AuditEntry {
  return { type, outcome, actor, subject, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
}

/** The signed-in user of a Scope; any other principal is unauthenticated for these services. */
export function userIdOf(scope: Scope): string {
  if (scope.principal.kind !== 'user') throw new AuthError(AuthErrorCode.Unauthenticated);
  return scope.principal.userId;
}

/**
 * The logger context of the auth services' log lines (auth.rate_limited, login failed,
 * auth.refresh_reuse): the one they had when these services were one class, so log queries written
 * against it keep finding them.
 */
export const AUTH_LOG_CONTEXT = 'AuthService';

import type { AuditDataValue, AuditEntry } from '@benteng/audit';
import type { RequestMeta } from '@benteng/auth';
import { principalId } from '@benteng/authz';
import type { Scope } from '@benteng/tenancy';

/** A successful change by the scope's principal to `subject` (`partner_client:<id>`, `partner_key:<id>`). */
export function successEntry(scope: Scope, type: AuditEntry['type'], subject: string, meta: RequestMeta): AuditEntry {
  return { type, outcome: 'success', actor: principalId(scope.principal), subject, ip: meta.ip, ...(meta.requestId ? { requestId: meta.requestId } : {}) };
}

export const iso = (value: Date | null): AuditDataValue => value?.toISOString() ?? null;

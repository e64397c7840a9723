import { Injectable } from '@nestjs/common';
import type { AuditEntry } from '@benteng/audit';
import { principalId } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { Scope } from '@benteng/tenancy';
import { ExportsRepository } from './exports.repository.js';

/**
 * Changes to an export that no user makes: failing an export whose job can no longer run for its
 * requester, and expiring a file whose time is up. Done as the `system:cleanup` principal, which may
 * read and update exports and nothing else of the tenant (libs/authz/src/rules/system.rules.ts),
 * each change guarded by the status it expects (ExportsRepository), so two workers doing the same
 * thing change and audit it once.
 */
@Injectable()
export class ExportBookkeeping {
  constructor(
    private readonly exports: ExportsRepository,
    private readonly clock: Clock,
  ) {}

  /** Marks a queued or running export failed, drops any partial file, audits `export.failed`. False when it was neither. */
  markFailed(tenantId: string, exportId: string, errorCode: string, requestId?: string): Promise<boolean> {
    const scope = cleanupScope(tenantId);
    return this.exports.markFailed(scope, exportId, errorCode, this.clock.now(), { ...entry(scope, 'export.failed', 'failure', exportId, requestId), data: { errorCode } });
  }

  /** Deletes the file of a ready export past its expiry and marks it expired (`export.expired`). False when it was not due. */
  expire(tenantId: string, exportId: string, now: Date, requestId?: string): Promise<boolean> {
    const scope = cleanupScope(tenantId);
    return this.exports.expire(scope, exportId, now, (chunks) => ({ ...entry(scope, 'export.expired', 'success', exportId, requestId), data: { chunks } }));
  }
}

const cleanupScope = (tenantId: string): Scope => Scope.for(tenantId, { kind: 'system', name: 'cleanup' });

function entry(scope: Scope, type: AuditEntry['type'], outcome: AuditEntry['outcome'], exportId: string, requestId: string | undefined): AuditEntry {
  return { type, outcome, actor: principalId(scope.principal), subject: `export:${exportId}`, ...(requestId ? { requestId } : {}) };
}

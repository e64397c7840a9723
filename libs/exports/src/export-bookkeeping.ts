import { Injectable } from '@nestjs/common';
import { AuditLog } from '@benteng/audit';
import { accessibleWhere, principalId } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { TenantDatabase } from '@benteng/database';
import { Scope } from '@benteng/tenancy';

/**
 * Changes to an export that no user makes: failing an export whose job can no longer run for its
 * requester, and expiring a file whose time is up. Done as the `system:cleanup` principal, which may
 * read and update exports and nothing else of the tenant (libs/authz/src/rules/system.rules.ts),
 * each change guarded by the status it expects, so two workers doing the same thing change and
 * audit it once.
 */
@Injectable()
export class ExportBookkeeping {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
    private readonly clock: Clock,
  ) {}

  /** Marks a queued or running export failed, drops any partial file, audits `export.failed`. False when it was neither. */
  markFailed(tenantId: string, exportId: string, errorCode: string, requestId?: string): Promise<boolean> {
    const scope = Scope.for(tenantId, { kind: 'system', name: 'cleanup' });
    return this.db.run(scope, async (tx) => {
      const failed = await tx.export.updateMany({
        where: { AND: [accessibleWhere(scope.ability, 'update', 'Export'), { id: exportId, status: { in: ['queued', 'running'] } }] },
        data: { status: 'failed', errorCode, completedAt: this.clock.now(), version: { increment: 1 } },
      });
      if (failed.count !== 1) return false;
      await tx.exportChunk.deleteMany({ where: { exportId } });
      await this.audit.recordIn(tx, scope.tenantId, {
        type: 'export.failed',
        outcome: 'failure',
        actor: principalId(scope.principal),
        subject: `export:${exportId}`,
        ...(requestId ? { requestId } : {}),
        data: { errorCode },
      });
      return true;
    });
  }

  /** Deletes the file of a ready export past its expiry and marks it expired (`export.expired`). False when it was not due. */
  expire(tenantId: string, exportId: string, now: Date, requestId?: string): Promise<boolean> {
    const scope = Scope.for(tenantId, { kind: 'system', name: 'cleanup' });
    return this.db.run(scope, async (tx) => {
      const expired = await tx.export.updateMany({
        where: { AND: [accessibleWhere(scope.ability, 'update', 'Export'), { id: exportId, status: 'ready', expiresAt: { lte: now } }] },
        data: { status: 'expired', version: { increment: 1 } },
      });
      if (expired.count !== 1) return false;
      const deleted = await tx.exportChunk.deleteMany({ where: { exportId } });
      await this.audit.recordIn(tx, scope.tenantId, {
        type: 'export.expired',
        outcome: 'success',
        actor: principalId(scope.principal),
        subject: `export:${exportId}`,
        ...(requestId ? { requestId } : {}),
        data: { chunks: deleted.count },
      });
      return true;
    });
  }
}

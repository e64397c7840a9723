import { Injectable } from '@nestjs/common';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { accessibleWhere, authorize } from '@benteng/authz';
import { keysetWhere, TenantDatabase, type InTransaction, type MembershipRole, type Prisma, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { ExportError, ExportErrorCode } from './export.errors.js';
import { assertReady } from './export-readiness.js';
import type { ExportFilters, ExportListQuery, StoredExportFormat, StoredExportType } from './export.types.js';
import { EXPORT_SELECT, type ExportRow } from './export.view.js';

/** A new export as stored: queued, with its filters already checked. */
export interface NewExportRow {
  type: StoredExportType;
  format: StoredExportFormat;
  filters: ExportFilters;
  requestedById: string;
  createdAt: Date;
}

/** What a finished run stores with the `ready` status. */
export interface CompletedFile {
  rowCount: number;
  byteSize: number;
  sha256: string;
  completedAt: Date;
  expiresAt: Date;
}

export type ExportClaim = { kind: 'not_permitted' | 'finished' | 'superseded' } | { kind: 'claimed'; row: ExportRow; version: number };

/**
 * Export persistence (exports, export_chunks). Every method takes the Scope first and runs in one
 * tenant transaction with the scope's CASL condition for its action in the WHERE clause; a status
 * change is guarded by the status (and, for a run, the version) it expects, so two workers doing the
 * same thing change and audit it once; its audit event is written in the same transaction.
 */
@Injectable()
export class ExportsRepository {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /** Records a queued export and its audit event (built from the new row) in one transaction. */
  create(scope: Scope, row: NewExportRow, audit: (created: ExportRow) => AuditEntry, also?: InTransaction<ExportRow>): Promise<ExportRow> {
    return this.db.run(
      scope,
      async (tx) => {
        const created = await tx.export.create({
          data: { tenantId: scope.tenantId, type: row.type, format: row.format, filters: row.filters as Prisma.InputJsonObject, requestedById: row.requestedById, createdAt: row.createdAt },
          select: EXPORT_SELECT,
        });
        await this.audit.recordIn(tx, scope.tenantId, audit(created));
        return created;
      },
      { also },
    );
  }

  /** Marks a still-queued export (of the caller's) failed and audits it; false when it was no longer queued. */
  failQueued(scope: Scope, id: string, errorCode: string, completedAt: Date, audit: AuditEntry): Promise<boolean> {
    return this.db.run(scope, async (tx) => {
      const failed = await tx.export.updateMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Export'), { id, status: 'queued' }] },
        data: { status: 'failed', errorCode, completedAt, version: { increment: 1 } },
      });
      if (failed.count !== 1) return false;
      await this.audit.recordIn(tx, scope.tenantId, audit);
      return true;
    });
  }

  /**
   * A queued export the sweeper may re-queue (libs/exports/src/exports-sweep.ts): still queued and
   * created at or before `before`, with what re-queueing needs; null otherwise.
   */
  findQueuedBefore(scope: Scope, id: string, before: Date): Promise<{ id: string; type: string; requestedById: string; createdAt: Date; requeues: number } | null> {
    return this.db.run(scope, (tx) =>
      tx.export.findFirst({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Export'), { id, status: 'queued', createdAt: { lte: before } }] },
        select: { id: true, type: true, requestedById: true, createdAt: true, requeues: true },
      }),
    );
  }

  /**
   * Counts one re-queue of a still-queued export and audits it, guarded by the count the caller read:
   * of two sweepers racing for one export, one re-queues it. False when it changed meanwhile.
   */
  markRequeued(scope: Scope, id: string, requeues: number, audit: AuditEntry): Promise<boolean> {
    return this.db.run(scope, async (tx) => {
      const counted = await tx.export.updateMany({
        where: { AND: [accessibleWhere(scope.ability, 'update', 'Export'), { id, status: 'queued', requeues }] },
        data: { requeues: { increment: 1 } },
      });
      if (counted.count !== 1) return false;
      await this.audit.recordIn(tx, scope.tenantId, audit);
      return true;
    });
  }

  /** Newest first (keyset on createdAt, id). */
  list(scope: Scope, query: ExportListQuery, take: number): Promise<ExportRow[]> {
    return this.db.run(scope, (tx) =>
      tx.export.findMany({
        where: {
          AND: [accessibleWhere(scope.ability, 'read', 'Export'), query.after ? (keysetWhere('createdAt', 'desc', query.after) as Prisma.ExportWhereInput) : {}],
        },
        select: EXPORT_SELECT,
        orderBy: [{ createdAt: 'desc' }, { id: 'desc' }],
        take,
      }),
    );
  }

  /** The export if the scope may read it; null when missing or not readable. */
  findById(scope: Scope, id: string): Promise<ExportRow | null> {
    return this.db.run(scope, (tx) => readable(tx, scope, id));
  }

  /**
   * The export's file if the caller may have it now: readable (404), theirs (`download`, 403: owners
   * and admins read every export's status but download only their own), ready and not expired (409,
   * 410: export-readiness.ts). With `audit`, the download is audited in the same transaction.
   */
  openFile(scope: Scope, id: string, now: Date, audit?: (row: ExportRow) => AuditEntry): Promise<{ row: ExportRow; chunkCount: number }> {
    return this.db.run(scope, async (tx) => {
      const row = await readable(tx, scope, id);
      if (!row) throw new ExportError(ExportErrorCode.NotFound);
      authorize(scope, 'download', 'Export', { ...row, tenantId: scope.tenantId }, () => new ExportError(ExportErrorCode.Forbidden));
      assertReady(row, now);
      const chunkCount = await tx.exportChunk.count({ where: { exportId: row.id } });
      if (audit) await this.audit.recordIn(tx, scope.tenantId, audit(row));
      return { row, chunkCount };
    });
  }

  /** Chunk `seq` of the file, if the export is still the caller's to download; null when it is gone. */
  async chunk(scope: Scope, exportId: string, seq: number): Promise<Uint8Array | null> {
    const chunk = await this.db.run(scope, (tx) =>
      tx.exportChunk.findFirst({ where: { exportId, seq, export: accessibleWhere(scope.ability, 'download', 'Export') }, select: { bytes: true } }),
    );
    return chunk?.bytes ?? null;
  }

  /**
   * A user's membership in the scope's tenant as of now, read as the scope's principal (`system:auth`,
   * the one that checks credentials): null when the tenant is not active or the user is no member.
   */
  currentMembership(scope: Scope, userId: string): Promise<{ role: MembershipRole; user: { status: string } } | null> {
    return this.db.run(scope, async (tx) => {
      const tenant = await tx.tenant.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Tenant'), { id: scope.tenantId }] }, select: { status: true } });
      if (tenant?.status !== 'active') return null;
      return tx.membership.findFirst({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Membership'), { userId }] },
        select: { role: true, user: { select: { status: true } } },
      });
    });
  }

  /**
   * A run claims the export (the requester's own: `download`): a ready, failed or expired export is
   * `finished`; a queued or running one becomes running, version + 1, its chunks deleted, unless
   * another run changed it first (`superseded`).
   */
  claim(scope: Scope, id: string, startedAt: Date): Promise<ExportClaim> {
    return this.db.run(scope, async (tx) => {
      const row = await tx.export.findFirst({ where: { AND: [own(scope), { id }] }, select: EXPORT_SELECT });
      if (!row) return { kind: 'not_permitted' as const };
      if (row.status !== 'queued' && row.status !== 'running') return { kind: 'finished' as const };
      const claimed = await tx.export.updateMany({
        where: { AND: [own(scope), { id, version: row.version, status: row.status }] },
        data: { status: 'running', startedAt, rowCount: null, byteSize: null, sha256: null, version: { increment: 1 } },
      });
      if (claimed.count !== 1) return { kind: 'superseded' as const };
      // After the update, which holds the row lock: a chunk write of an older run either finished
      // before (and its chunk goes here) or waits and then finds the version changed.
      await tx.exportChunk.deleteMany({ where: { exportId: id } });
      return { kind: 'claimed' as const, row, version: row.version + 1 };
    });
  }

  /** The run under `version` completes the export (ready) with its audit event; false when another run superseded it. */
  complete(scope: Scope, id: string, version: number, file: CompletedFile, audit: AuditEntry): Promise<boolean> {
    return this.db.run(scope, async (tx) => {
      const done = await tx.export.updateMany({
        where: { AND: [own(scope), { id, status: 'running', version }] },
        data: {
          status: 'ready',
          rowCount: file.rowCount,
          byteSize: BigInt(file.byteSize),
          sha256: file.sha256,
          completedAt: file.completedAt,
          expiresAt: file.expiresAt,
          version: { increment: 1 },
        },
      });
      if (done.count !== 1) return false;
      await this.audit.recordIn(tx, scope.tenantId, audit);
      return true;
    });
  }

  /** Marks a queued or running export failed, drops any partial file, audits; false when it was neither. */
  markFailed(scope: Scope, id: string, errorCode: string, completedAt: Date, audit: AuditEntry): Promise<boolean> {
    return this.db.run(scope, async (tx) => {
      const failed = await tx.export.updateMany({
        where: { AND: [accessibleWhere(scope.ability, 'update', 'Export'), { id, status: { in: ['queued', 'running'] } }] },
        data: { status: 'failed', errorCode, completedAt, version: { increment: 1 } },
      });
      if (failed.count !== 1) return false;
      await tx.exportChunk.deleteMany({ where: { exportId: id } });
      await this.audit.recordIn(tx, scope.tenantId, audit);
      return true;
    });
  }

  /** Deletes the file of a ready export past its expiry and marks it expired, audited with the chunks deleted; false when it was not due. */
  expire(scope: Scope, id: string, now: Date, audit: (chunks: number) => AuditEntry): Promise<boolean> {
    return this.db.run(scope, async (tx) => {
      const expired = await tx.export.updateMany({
        where: { AND: [accessibleWhere(scope.ability, 'update', 'Export'), { id, status: 'ready', expiresAt: { lte: now } }] },
        data: { status: 'expired', version: { increment: 1 } },
      });
      if (expired.count !== 1) return false;
      const deleted = await tx.exportChunk.deleteMany({ where: { exportId: id } });
      await this.audit.recordIn(tx, scope.tenantId, audit(deleted.count));
      return true;
    });
  }
}

function readable(tx: TenantTx, scope: Scope, id: string): Promise<ExportRow | null> {
  return tx.export.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Export'), { id }] }, select: EXPORT_SELECT });
}

/**
 * The exports a run may touch: its requester's own. The job acts for the requester, and the export
 * rules grant `download` on exactly those (owners and admins `read` others' too, but a job must
 * never write someone else's export).
 */
const own = (scope: Scope): Prisma.ExportWhereInput => accessibleWhere(scope.ability, 'download', 'Export');

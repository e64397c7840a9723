import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { AuditLog, type AuditEntry } from '@benteng/audit';
import { authorize, principalId } from '@benteng/authz';
import { Clock } from '@benteng/common';
import type { InTransaction } from '@benteng/database';
import { JobQueue } from '@benteng/jobs';
import { Scope } from '@benteng/tenancy';
import { DownloadLinks, type PresentedLink } from './download-links.js';
import { ExportError, ExportErrorCode } from './export.errors.js';
import { CONTENT_TYPES, fileNameOf } from './export-formats.js';
import { checkedFilters } from './export-rows.js';
import { EXPORT_RUN_JOB, type ExportDownload, type ExportJobData, type ExportListQuery, type ExportView, type NewExport } from './export.types.js';
import { exportView } from './export.view.js';
import { ExportsRepository } from './exports.repository.js';

export const MAX_EXPORT_PAGE = 100;
/** Attempts of one export run before it is marked failed (BullMQ retries with backoff in between). */
export const EXPORT_ATTEMPTS = 5;

/** Facts about the request an export action records in the audit log. */
export interface ExportRequestMeta {
  ip?: string;
  requestId?: string;
}

/** How a download was authorised: the caller's access token, or a signed link. */
export type DownloadVia = 'token' | 'link';

/**
 * Exports on the API side: requesting one (a row, its audit event, and the `exports.run` job),
 * reading their status, and handing out their files. The file is built by the worker
 * (ExportRunHandler) in the requester's Scope; here it is only ever read back, chunk by chunk, by
 * the requester (the `download` rule), through their access token or a short-lived signed link.
 */
@Injectable()
export class ExportsService {
  constructor(
    private readonly exports: ExportsRepository,
    private readonly jobs: JobQueue,
    private readonly audit: AuditLog,
    private readonly links: DownloadLinks,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
  ) {
    this.logger.setContext(ExportsService.name);
  }

  /**
   * Records the export (and `export.requested`) in one transaction, then queues its job with the
   * export's id as job id, so a repeated enqueue of the same export is one job. If the queue
   * refuses, the export is marked failed at once rather than left queued forever.
   */
  /**
   * `also` runs in the create's transaction (an Idempotency-Key's answer: apps/api/src/http/idempotency.ts).
   * When the job cannot be queued the export is failed and the request fails, but a stored answer
   * stays: the export exists, and a retry with the same key replays it (status `failed` on read).
   */
  async request(scope: Scope, input: NewExport, meta: ExportRequestMeta, also?: InTransaction<ExportView>): Promise<ExportView> {
    const requestedById = this.userOf(scope);
    authorize(scope, 'create', 'Export', { tenantId: scope.tenantId, requestedById }, () => new ExportError(ExportErrorCode.Forbidden));
    const filters = checkedFilters(input.type, input.filters);
    const now = this.clock.now();
    const row = await this.exports.create(scope, { type: input.type, format: input.format, filters, requestedById, createdAt: now }, (created) => ({
      ...this.entry(scope, 'export.requested', 'success', created.id, meta),
      data: { type: input.type, format: input.format },
    }), also ? (tx, created) => also(tx, exportView(created)) : undefined);
    try {
      await this.jobs.enqueueTenantJob<ExportJobData>(scope, EXPORT_RUN_JOB, { exportId: row.id }, { jobId: row.id, attempts: EXPORT_ATTEMPTS });
    } catch (error) {
      this.logger.error({ err: error, exportId: row.id }, 'export could not be queued');
      await this.exports.failQueued(scope, row.id, 'not_queued', this.clock.now(), { ...this.entry(scope, 'export.failed', 'failure', row.id, meta), data: { errorCode: 'not_queued' } });
      throw error;
    }
    return exportView(row);
  }

  async list(scope: Scope, query: ExportListQuery): Promise<ExportView[]> {
    const rows = await this.exports.list(scope, query, Math.min(Math.max(query.limit, 1), MAX_EXPORT_PAGE));
    return rows.map(exportView);
  }

  /** Missing and another tenant's (or, for members, another member's) export: not found alike. */
  async get(scope: Scope, id: string): Promise<ExportView> {
    const row = await this.exports.findById(scope, id);
    if (!row) throw new ExportError(ExportErrorCode.NotFound);
    return exportView(row);
  }

  /**
   * Opens the file of an export for download by the caller: it must be theirs (`download`) and
   * ready. Audited as `export.downloaded` in the same transaction that checked it; the bytes
   * follow through `chunks()`.
   */
  async openDownload(scope: Scope, id: string, via: DownloadVia, meta: ExportRequestMeta): Promise<ExportDownload> {
    const { row, chunkCount } = await this.exports.openFile(scope, id, this.clock.now(), (file) => ({
      ...this.entry(scope, 'export.downloaded', 'success', id, meta),
      data: { via, byteSize: Number(file.byteSize ?? 0) },
    }));
    return downloadOf(exportView(row), row.byteSize, chunkCount);
  }

  /**
   * The file's bytes, one stored chunk at a time (about 1 MiB each), so a download holds one chunk
   * in memory however large the file. Each read checks again that the export is the caller's.
   */
  async *chunks(scope: Scope, download: ExportDownload): AsyncGenerator<Buffer> {
    for (let seq = 0; seq < download.chunkCount; seq++) {
      const bytes = await this.exports.chunk(scope, download.export.id, seq);
      // Expired (and deleted) while it was being sent: end the response as broken, not short.
      if (!bytes) throw new ExportError(ExportErrorCode.Expired);
      yield Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }
  }

  /** A signed link to the file, for the requester, valid for EXPORT_URL_TTL_S. */
  async issueLink(scope: Scope, id: string): Promise<{ path: string; expiresAt: Date }> {
    const userId = this.userOf(scope);
    // The link is bound to the caller's session, so only a login session can mint one.
    const sessionId = scope.principal.kind === 'user' ? scope.principal.sessionId : undefined;
    if (!sessionId) throw new ExportError(ExportErrorCode.Forbidden);
    await this.exports.openFile(scope, id, this.clock.now());
    return this.links.issue({ tenantId: scope.tenantId, exportId: id, userId, sessionId }, this.clock.nowSeconds());
  }

  /**
   * Opens a download through a signed link. The signature authenticates tenant, export, user,
   * session and expiry together; only then is the tenant used, to look up the user's *current*
   * membership and whether the minting session is still open, and the export is opened in that
   * user's Scope exactly as with an access token. Every refusal is the
   * same `export.link_invalid` to the caller; once the tenant is authenticated, the refusal is
   * audited there too, with its reason.
   */
  async openLinkDownload(link: PresentedLink, meta: ExportRequestMeta): Promise<{ scope: Scope; download: ExportDownload }> {
    const claims = this.links.verify(link, this.clock.nowSeconds());
    if (!claims) {
      this.logger.info({ event: 'export.link_refused', reason: 'signature_or_expiry' }, 'export download link refused');
      throw new ExportError(ExportErrorCode.LinkInvalid);
    }
    const refuse = async (reason: string): Promise<never> => {
      this.logger.info({ event: 'export.link_refused', reason, tenantId: claims.tenantId }, 'export download link refused');
      await this.audit.recordFor(claims.tenantId, {
        type: 'export.downloaded',
        outcome: 'denied',
        actor: `user:${claims.userId}`,
        subject: `export:${claims.exportId}`,
        ...this.metaOf(meta),
        data: { via: 'link', reason },
      });
      throw new ExportError(ExportErrorCode.LinkInvalid);
    };
    const scope = await this.currentUserScope(claims.tenantId, claims.userId);
    if (!scope) return refuse('user_not_active_member');
    if (!(await this.links.sessionLive(claims))) return refuse('session_ended');
    try {
      return { scope, download: await this.openDownload(scope, claims.exportId, 'link', meta) };
    } catch (error) {
      if (!(error instanceof ExportError)) throw error;
      // A genuine link to a file that has since expired says so; anything else is just refused.
      if (error.code === ExportErrorCode.Expired) throw error;
      return refuse(error.code === ExportErrorCode.NotFound || error.code === ExportErrorCode.Forbidden ? 'not_downloadable' : error.code.replace('export.', ''));
    }
  }

  /**
   * The Scope of a user in a tenant as of now: the tenant active, the user active and still a
   * member, with the membership's current role; null otherwise. Read as the `system:auth`
   * principal, the one that checks credentials (a download link is one).
   */
  private async currentUserScope(tenantId: string, userId: string): Promise<Scope | null> {
    const check = Scope.for(tenantId, { kind: 'system', name: 'auth' });
    const membership = await this.exports.currentMembership(check, userId);
    if (!membership || membership.user.status !== 'active') return null;
    return Scope.for(tenantId, { kind: 'user', userId, role: membership.role });
  }

  private userOf(scope: Scope): string {
    if (scope.principal.kind !== 'user') throw new ExportError(ExportErrorCode.Forbidden);
    return scope.principal.userId;
  }

  private metaOf(meta: ExportRequestMeta): Pick<AuditEntry, 'ip' | 'requestId'> {
    return { ...(meta.ip ? { ip: meta.ip } : {}), ...(meta.requestId ? { requestId: meta.requestId } : {}) };
  }

  private entry(scope: Scope, type: AuditEntry['type'], outcome: AuditEntry['outcome'], exportId: string, meta: ExportRequestMeta): AuditEntry {
    return { type, outcome, actor: principalId(scope.principal), subject: `export:${exportId}`, ...this.metaOf(meta) };
  }
}

/** What a download needs besides the bytes: how to label them and how many chunks there are. */
function downloadOf(view: ExportView, byteSize: bigint | null, chunkCount: number): ExportDownload {
  return { export: view, contentType: CONTENT_TYPES[view.format], fileName: fileNameOf(view.type, view.format, view.id), byteSize: Number(byteSize ?? 0), chunkCount };
}

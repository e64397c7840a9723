import { Injectable } from '@nestjs/common';
import { PinoLogger } from 'nestjs-pino';
import { principalId } from '@benteng/authz';
import { Clock, isUuid } from '@benteng/common';
import { AppConfig } from '@benteng/config';
import { TenantDatabase } from '@benteng/database';
import { JobRejection, TenantJob, type JobRun, type TenantJobHandler } from '@benteng/jobs';
import type { Scope } from '@benteng/tenancy';
import { ExportBookkeeping } from './export-bookkeeping.js';
import { ExportError } from './export.errors.js';
import { ChunkedFile } from './chunked-file.js';
import { CsvFormulaGuard } from './export-formats.js';
import { Writable } from 'node:stream';
import { copyRows, rowSource, checkedFilters, type RowSource } from './export-rows.js';
import { ExportStreams } from './export-streams.js';
import { EXPORT_RUN_JOB, type ExportJobData, type ExportView } from './export.types.js';
import { exportView } from './export.view.js';
import { ExportsRepository } from './exports.repository.js';

/**
 * Rows read per tenant transaction (one read ahead while the previous batch is encoded and
 * written). 2,000 invoice rows are about 0.3 MB of text; 5,000 were no faster and raised the
 * worker's peak RSS by ~25 MiB (docs/benchmarks.md, "Changes and their effect — export").
 */
export const EXPORT_BATCH_ROWS = 2_000;

/**
 * The end of an export's COPY pipeline: records (strings) into the ChunkedFile. A chunk write in
 * flight holds the callback, so the pipeline's backpressure pauses the COPY (copyOut) while
 * a 1 MiB chunk is stored; at most one chunk and a few 64 KiB pieces are in memory.
 */
function chunkSink(file: ChunkedFile): Writable {
  return new Writable({
    objectMode: true,
    highWaterMark: 4,
    write(text: string, _encoding, callback) {
      file.write(text).then(() => callback(), callback);
    },
  });
}

/** Another run of the same export took it over (a stalled job handed to another worker). */
class Superseded extends Error {
  constructor() {
    super('export run superseded');
    this.name = 'Superseded';
  }
}

/**
 * `exports.run`: builds an export's file in its requester's Scope, re-derived by the worker from
 * current state (a locked or removed requester's job is refused before this runs; the listener in
 * export-job-failures.ts then marks the export failed).
 *
 * Idempotent, because BullMQ delivers at least once:
 * - a ready, failed or expired export is left alone;
 * - otherwise (queued, or running when a worker died mid-file) the run *claims* it: status running,
 *   version + 1, existing chunks deleted, all in one transaction;
 * - every chunk is written only while the export is still running under this claim's version
 *   (checked with a share lock on the export row, so a claim by another run waits for the write or
 *   the write sees the new version and stops);
 * - the final update (ready, counts, digest, expiry) is guarded the same way and carries the
 *   `export.completed` audit event in its transaction, so at most one run completes an export.
 *
 * Memory stays flat: invoice rows come from one `COPY … TO STDOUT` in the requester's tenant
 * transaction, streamed with backpressure through the formula guard (copyRows, export-rows.ts);
 * other exports are read a batch at a time by keyset (id order), one batch ahead. The file goes to
 * export_chunks in chunks of exactly CHUNK_BYTES (1 MiB; the last one smaller), hashed on the way.
 * Invoice rows and the chunks go through ExportStreams (export-streams.ts) rather than Prisma: see
 * export-rows.ts and docs/benchmarks.md.
 */
@TenantJob(EXPORT_RUN_JOB)
@Injectable()
export class ExportRunHandler implements TenantJobHandler<ExportJobData> {
  constructor(
    private readonly db: TenantDatabase,
    private readonly exports: ExportsRepository,
    private readonly bookkeeping: ExportBookkeeping,
    private readonly clock: Clock,
    private readonly config: AppConfig,
    private readonly logger: PinoLogger,
    private readonly formulas: CsvFormulaGuard,
    private readonly streams: ExportStreams,
  ) {
    this.logger.setContext(ExportRunHandler.name);
  }

  async handle(scope: Scope, data: ExportJobData, context: JobRun<ExportJobData>): Promise<void> {
    if (scope.principal.kind !== 'user') throw new JobRejection('wrong_actor');
    const exportId = data?.exportId;
    if (typeof exportId !== 'string' || !isUuid(exportId)) throw new JobRejection('malformed');

    const claim = await this.claim(scope, exportId);
    if (claim.kind === 'not_permitted') throw new JobRejection('export_not_permitted');
    if (claim.kind !== 'claimed') {
      this.logger.info({ exportId, outcome: claim.kind }, 'export run skipped');
      return;
    }
    const { export: exp, version } = claim;
    // A subject access export is built by libs/privacy's own job, never by this one.
    if (exp.type === 'subject_access' || exp.format === 'json') throw new JobRejection('malformed');
    const { type, format } = exp;
    let filters;
    try {
      filters = checkedFilters(type, exp.filters);
    } catch (error) {
      if (!(error instanceof ExportError)) throw error;
      await this.bookkeeping.markFailed(scope.tenantId, exportId, 'invalid_filters', context.requestId);
      return;
    }

    try {
      const file = new ChunkedFile((seq, bytes) => this.writeChunk(scope, exportId, version, seq, bytes));
      const source = rowSource({ db: this.db, streams: this.streams }, scope, scope.principal.role, type, format, filters, this.formulas.neutralize);
      await file.write(source.header());
      // Invoices (every role today): one COPY streamed through the formula guard into the chunks.
      let rowCount = await copyRows(this.streams, scope, exp.type, exp.format, filters, this.formulas.neutralize, chunkSink(file));
      if (rowCount === null) rowCount = await this.paged(source, file);
      const { byteSize, sha256, chunks } = await file.end();
      const completed = await this.complete(scope, exportId, version, { rowCount, byteSize, sha256 }, context.requestId);
      this.logger.info({ exportId, rowCount, byteSize, chunks, completed }, completed ? 'export ready' : 'export run superseded at completion');
    } catch (error) {
      if (error instanceof Superseded) {
        this.logger.info({ exportId }, 'export run superseded by another run');
        return;
      }
      throw error;
    }
  }

  /** The paged read (tickets, or an invoice read condition beyond the tenant): batch by batch. */
  private async paged(source: RowSource, file: ChunkedFile): Promise<number> {
    let rowCount = 0;
    // One batch read ahead: the next batch is read (its own tenant transaction) while this one is
    // encoded and its chunks are written, so the database's time and the worker's overlap.
    let next: Promise<{ text: string; count: number }> | undefined = source.next(EXPORT_BATCH_ROWS);
    try {
      while (next) {
        const batch: { text: string; count: number } = await next;
        next = batch.count < EXPORT_BATCH_ROWS ? undefined : source.next(EXPORT_BATCH_ROWS);
        rowCount += batch.count;
        await file.write(batch.text);
      }
    } finally {
      // A read ahead abandoned because a write failed (e.g. superseded) must not end as an unhandled rejection.
      next?.catch(() => undefined);
    }
    return rowCount;
  }

  private async claim(scope: Scope, id: string): Promise<{ kind: 'not_permitted' | 'finished' | 'superseded' } | { kind: 'claimed'; export: ExportView; version: number }> {
    const claim = await this.exports.claim(scope, id, this.clock.now());
    return claim.kind === 'claimed' ? { kind: 'claimed', export: exportView(claim.row), version: claim.version } : claim;
  }

  private async writeChunk(scope: Scope, exportId: string, version: number, seq: number, bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    // Written while the export is still running under this claim's version, checked with a share
    // lock on the export row (FOR SHARE conflicts with a claim's UPDATE, so the check holds until
    // this chunk commits). The export was found through the requester's `download` rule when it was
    // claimed; this only asks whether that claim is still the current one. ExportStreams sends the
    // bytes as a binary parameter in the tenant transaction, without Prisma (docs/benchmarks.md).
    if (!(await this.streams.writeChunk(scope, exportId, version, seq, bytes))) throw new Superseded();
  }

  private complete(scope: Scope, id: string, version: number, file: { rowCount: number; byteSize: number; sha256: string }, requestId: string): Promise<boolean> {
    const now = this.clock.now();
    return this.exports.complete(
      scope,
      id,
      version,
      { ...file, completedAt: now, expiresAt: new Date(now.getTime() + this.config.EXPORT_TTL_S * 1000) },
      { type: 'export.completed', outcome: 'success', actor: principalId(scope.principal), subject: `export:${id}`, requestId, data: { rowCount: file.rowCount, byteSize: file.byteSize } },
    );
  }
}

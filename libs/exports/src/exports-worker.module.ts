import { Module } from '@nestjs/common';
import { ExportBookkeeping } from './export-bookkeeping.js';
import { ExportJobFailures } from './export-job-failures.js';
import { ExportStreams } from './export-streams.js';
import { ExportsRepository } from './exports.repository.js';
import { CsvFormulaGuard } from './export-formats.js';
import { ExportRunHandler } from './export-run.handler.js';
import { ExportsCleanupHandler } from './exports-cleanup.handler.js';
import { ExportsSweep, ExportsSweepHandler } from './exports-sweep.js';

/**
 * The worker side of exports: `exports.run` (ExportRunHandler), `exports.cleanup`
 * (ExportsCleanupHandler, scheduled), `exports.sweep` (ExportsSweepHandler, scheduled: re-queues
 * exports whose job was lost), and the listener that fails an export whose job failed for
 * good. Listed in apps/worker/src/job-handlers.ts (JOB_HANDLER_MODULES); JobsWorkerModule finds the
 * handlers by their metadata.
 */
@Module({
  providers: [ExportsRepository, ExportStreams, ExportBookkeeping, ExportRunHandler, ExportsCleanupHandler, ExportsSweep, ExportsSweepHandler, ExportJobFailures, CsvFormulaGuard],
})
export class ExportsWorkerModule {}

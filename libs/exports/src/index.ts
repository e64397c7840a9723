export { ExportsModule } from './exports.module.js';
export { ExportsWorkerModule } from './exports-worker.module.js';
export { ExportsService, EXPORT_ATTEMPTS, MAX_EXPORT_PAGE, type DownloadVia, type ExportRequestMeta } from './exports.service.js';
export { ExportRunHandler, EXPORT_BATCH_ROWS } from './export-run.handler.js';
export { ExportsCleanupHandler } from './exports-cleanup.handler.js';
export { ExportsSweep, ExportsSweepHandler, EXPORT_MAX_REQUEUES, EXPORT_QUEUED_MAX_AGE_MS, EXPORT_SWEEP_GRACE_MS } from './exports-sweep.js';
export { ExportBookkeeping } from './export-bookkeeping.js';
export { ExportsRepository, type ExportClaim } from './exports.repository.js';
export { exportView } from './export.view.js';
export { ExportStreams, INVOICE_TEXT_COLUMNS, tenantOnly, type InvoiceTextColumn, type InvoiceTextPage, type TextRow } from './export-streams.js';
export { ExportJobFailures } from './export-job-failures.js';
export { DownloadLinks, downloadLinkPath, signDownloadLink, verifyDownloadLink, type DownloadLinkClaims, type PresentedLink } from './download-links.js';
export { ExportError, ExportErrorCode } from './export.errors.js';
export { ChunkedFile, CHUNK_BYTES } from './chunked-file.js';
export { CONTENT_TYPES, csvField, csvRecord, CsvFormulaGuard, fileNameOf, invoiceColumns, jsonlRecord, neutralizeCell, TICKET_COLUMNS, type CellNeutralizer } from './export-formats.js';
export { checkedFilters } from './export-rows.js';
export {
  EXPORT_FORMATS,
  EXPORT_RUN_JOB,
  EXPORT_STATUS_FILTERS,
  EXPORT_TYPES,
  EXPORTS_CLEANUP_JOB,
  EXPORTS_SWEEP_JOB,
  type ExportDownload,
  type ExportFilters,
  type ExportFormat,
  type ExportJobData,
  type ExportListQuery,
  type ExportType,
  type ExportView,
  type StoredExportFormat,
  type StoredExportType,
  type NewExport,
} from './export.types.js';

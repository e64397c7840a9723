import type { Export, InvoiceStatus, TicketStatus } from '@benteng/database';

export const EXPORT_TYPES = ['invoices', 'tickets'] as const;
export type ExportType = (typeof EXPORT_TYPES)[number];

export const EXPORT_FORMATS = ['csv', 'jsonl'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

/**
 * What an export row may hold: the types and formats POST /v1/exports offers, plus the data subject
 * access export (`subject_access`, one JSON document), which only libs/privacy creates.
 */
export type StoredExportType = ExportType | 'subject_access';
export type StoredExportFormat = ExportFormat | 'json';

/** The statuses a filter may name, per type (the DTO accepts their union; the service checks the pair). */
export const EXPORT_STATUS_FILTERS = {
  invoices: ['draft', 'issued', 'paid', 'void'],
  tickets: ['open', 'in_progress', 'resolved', 'closed'],
} as const satisfies Record<ExportType, readonly (InvoiceStatus | TicketStatus)[]>;

/**
 * Which rows an export holds, beyond what the requester may read. Dates are whole UTC days,
 * `YYYY-MM-DD`, both inclusive. Stored as given (jsonb) and applied again by every run.
 */
export interface ExportFilters {
  status?: string;
  createdFrom?: string;
  createdTo?: string;
}

export interface NewExport {
  type: ExportType;
  format: ExportFormat;
  filters?: ExportFilters;
}

export interface ExportListQuery {
  /** createdAt and id of the last export of the previous page (newest first). */
  after?: { value: Date; id: string };
  limit: number;
}

/** An export row as the services hand it out: no tenant id; the file itself is read separately. */
export type ExportView = Omit<Export, 'tenantId' | 'filters' | 'type' | 'format' | 'requeues'> & { type: StoredExportType; format: StoredExportFormat; filters: ExportFilters };

/** What a download needs besides the bytes: how to label them and how many there are. */
export interface ExportDownload {
  export: ExportView;
  contentType: string;
  fileName: string;
  byteSize: number;
  chunkCount: number;
}

/** The payload of the `exports.run` tenant job. */
export interface ExportJobData {
  exportId: string;
}

export const EXPORT_RUN_JOB = 'exports.run';
export const EXPORTS_CLEANUP_JOB = 'exports.cleanup';
export const EXPORTS_SWEEP_JOB = 'exports.sweep';

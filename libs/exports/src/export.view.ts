import type { Prisma } from '@benteng/database';
import type { ExportFilters, ExportView, StoredExportFormat, StoredExportType } from './export.types.js';

/** Every column but the tenant id: what the services read of an export row. */
export const EXPORT_SELECT = {
  id: true,
  type: true,
  format: true,
  filters: true,
  status: true,
  requestedById: true,
  rowCount: true,
  byteSize: true,
  sha256: true,
  errorCode: true,
  createdAt: true,
  startedAt: true,
  completedAt: true,
  expiresAt: true,
  version: true,
} as const satisfies Prisma.ExportSelect;

export type ExportRow = Prisma.ExportGetPayload<{ select: typeof EXPORT_SELECT }>;

/** The row with its text columns narrowed to what the CHECK constraints allow. */
export function exportView(row: ExportRow): ExportView {
  return { ...row, type: row.type as StoredExportType, format: row.format as StoredExportFormat, filters: (row.filters ?? {}) as ExportFilters };
}

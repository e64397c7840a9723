import { ExportError, ExportErrorCode } from './export.errors.js';
import type { ExportRow } from './export.view.js';

/** An export's file can be downloaded once it is ready (409 before, or when the run failed) and until it expires (410). */
export function assertReady(row: Pick<ExportRow, 'status' | 'expiresAt'>, now: Date): void {
  switch (row.status) {
    case 'queued':
    case 'running':
      throw new ExportError(ExportErrorCode.NotReady);
    case 'failed':
      throw new ExportError(ExportErrorCode.Failed);
    case 'expired':
      throw new ExportError(ExportErrorCode.Expired);
    case 'ready':
      break;
  }
  if (!row.expiresAt || row.expiresAt <= now) throw new ExportError(ExportErrorCode.Expired);
}

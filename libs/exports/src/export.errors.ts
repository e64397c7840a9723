import { defineErrors } from '@benteng/common';

export enum ExportErrorCode {
  NotFound = 'export.not_found',
  Forbidden = 'export.forbidden',
  InvalidFilters = 'export.invalid_filters',
  NotReady = 'export.not_ready',
  Failed = 'export.failed',
  Expired = 'export.expired',
  LinkInvalid = 'export.link_invalid',
}

export class ExportError extends defineErrors<ExportErrorCode>({
  [ExportErrorCode.NotFound]: { kind: 'not_found', message: 'Export not found.' },
  [ExportErrorCode.Forbidden]: { kind: 'forbidden', message: 'Only the member who requested an export may download it.' },
  [ExportErrorCode.InvalidFilters]: { kind: 'invalid', message: 'The filters do not fit this type of export.' },
  [ExportErrorCode.NotReady]: { kind: 'conflict', message: 'The export is not ready yet. Check its status and try again later.' },
  [ExportErrorCode.Failed]: { kind: 'conflict', message: 'The export failed; request a new one.' },
  [ExportErrorCode.Expired]: { kind: 'gone', message: 'The export file has expired; request a new one.' },
  // One answer for a forged, altered, expired or no longer usable link: which one it was is
  // logged and audited, never told to the holder of the link.
  [ExportErrorCode.LinkInvalid]: { kind: 'forbidden', message: 'The download link is not valid.' },
}) {}

import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum ExportErrorCode {
  NotFound = 'export.not_found',
  Forbidden = 'export.forbidden',
  InvalidFilters = 'export.invalid_filters',
  NotReady = 'export.not_ready',
  Failed = 'export.failed',
  Expired = 'export.expired',
  LinkInvalid = 'export.link_invalid',
}

function describe(code: ExportErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case ExportErrorCode.NotFound:
      return { kind: 'not_found', message: 'Export not found.' };
    case ExportErrorCode.Forbidden:
      return { kind: 'forbidden', message: 'Only the member who requested an export may download it.' };
    case ExportErrorCode.InvalidFilters:
      return { kind: 'invalid', message: 'The filters do not fit this type of export.' };
    case ExportErrorCode.NotReady:
      return { kind: 'conflict', message: 'The export is not ready yet. Check its status and try again later.' };
    case ExportErrorCode.Failed:
      return { kind: 'conflict', message: 'The export failed; request a new one.' };
    case ExportErrorCode.Expired:
      return { kind: 'gone', message: 'The export file has expired; request a new one.' };
    case ExportErrorCode.LinkInvalid:
      // One answer for a forged, altered, expired or no longer usable link: which one it was is
      // logged and audited, never told to the holder of the link.
      return { kind: 'forbidden', message: 'The download link is not valid.' };
    default:
      return assertUnreachable(code);
  }
}

export class ExportError extends DomainError<ExportErrorCode> {
  readonly kind: DomainErrorKind;

  constructor(code: ExportErrorCode) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
  }
}

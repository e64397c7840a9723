import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum DocumentErrorCode {
  NotFound = 'document.not_found',
  Forbidden = 'document.forbidden',
  Empty = 'document.empty',
  TooLarge = 'document.too_large',
  TypeNotAllowed = 'document.type_not_allowed',
  OneLink = 'document.one_link',
  LinkNotFound = 'document.link_not_found',
}

function describe(code: DocumentErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case DocumentErrorCode.NotFound:
      return { kind: 'not_found', message: 'Document not found.' };
    case DocumentErrorCode.Forbidden:
      return { kind: 'forbidden', message: 'Your role does not allow this action on documents.' };
    case DocumentErrorCode.Empty:
      return { kind: 'invalid', message: 'The file is empty.' };
    case DocumentErrorCode.TooLarge:
      return { kind: 'too_large', message: 'The file is larger than documents may be.' };
    case DocumentErrorCode.TypeNotAllowed:
      return { kind: 'unsupported_media_type', message: 'Only PDF, PNG, JPEG, plain text and CSV files are accepted.' };
    case DocumentErrorCode.OneLink:
      return { kind: 'invalid', message: 'A document is attached to an invoice or a ticket, not both.' };
    case DocumentErrorCode.LinkNotFound:
      // The same answer for a missing invoice or ticket and for one the caller may not see.
      return { kind: 'not_found', message: 'The invoice or ticket to attach the document to was not found.' };
    default:
      return assertUnreachable(code);
  }
}

export class DocumentError extends DomainError<DocumentErrorCode> {
  readonly kind: DomainErrorKind;

  constructor(code: DocumentErrorCode) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
  }
}

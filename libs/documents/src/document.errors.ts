import { defineErrors } from '@benteng/common';

export enum DocumentErrorCode {
  NotFound = 'document.not_found',
  Forbidden = 'document.forbidden',
  Empty = 'document.empty',
  TooLarge = 'document.too_large',
  TypeNotAllowed = 'document.type_not_allowed',
  OneLink = 'document.one_link',
  LinkNotFound = 'document.link_not_found',
}

export class DocumentError extends defineErrors<DocumentErrorCode>({
  [DocumentErrorCode.NotFound]: { kind: 'not_found', message: 'Document not found.' },
  [DocumentErrorCode.Forbidden]: { kind: 'forbidden', message: 'Your role does not allow this action on documents.' },
  [DocumentErrorCode.Empty]: { kind: 'invalid', message: 'The file is empty.' },
  [DocumentErrorCode.TooLarge]: { kind: 'too_large', message: 'The file is larger than documents may be.' },
  [DocumentErrorCode.TypeNotAllowed]: { kind: 'unsupported_media_type', message: 'Only PDF, PNG, JPEG, plain text and CSV files are accepted.' },
  [DocumentErrorCode.OneLink]: { kind: 'invalid', message: 'A document is attached to an invoice or a ticket, not both.' },
  // The same answer for a missing invoice or ticket and for one the caller may not see.
  [DocumentErrorCode.LinkNotFound]: { kind: 'not_found', message: 'The invoice or ticket to attach the document to was not found.' },
}) {}

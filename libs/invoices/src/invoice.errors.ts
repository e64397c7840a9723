import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum InvoiceErrorCode {
  NotFound = 'invoice.not_found',
  Forbidden = 'invoice.forbidden',
  NumberTaken = 'invoice.number_taken',
  NotDraft = 'invoice.not_draft',
  WrongStatus = 'invoice.wrong_status',
  VersionMismatch = 'invoice.version_mismatch',
}

function describe(code: InvoiceErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case InvoiceErrorCode.NotFound:
      return { kind: 'not_found', message: 'Invoice not found.' };
    case InvoiceErrorCode.Forbidden:
      return { kind: 'forbidden', message: 'Your role does not allow this action on invoices.' };
    case InvoiceErrorCode.NumberTaken:
      return { kind: 'conflict', message: 'An invoice with this number already exists.' };
    case InvoiceErrorCode.NotDraft:
      return { kind: 'conflict', message: 'Only draft invoices can be changed.' };
    case InvoiceErrorCode.WrongStatus:
      return { kind: 'conflict', message: "The invoice's status does not allow this action." };
    case InvoiceErrorCode.VersionMismatch:
      return { kind: 'precondition_failed', message: 'The invoice has changed since you read it. Fetch it again and retry.' };
    default:
      return assertUnreachable(code);
  }
}

export class InvoiceError extends DomainError<InvoiceErrorCode> {
  readonly kind: DomainErrorKind;

  constructor(code: InvoiceErrorCode) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
  }
}

import { defineErrors } from '@benteng/common';

export enum InvoiceErrorCode {
  NotFound = 'invoice.not_found',
  Forbidden = 'invoice.forbidden',
  NumberTaken = 'invoice.number_taken',
  NotDraft = 'invoice.not_draft',
  WrongStatus = 'invoice.wrong_status',
  VersionMismatch = 'invoice.version_mismatch',
}

export class InvoiceError extends defineErrors<InvoiceErrorCode>({
  [InvoiceErrorCode.NotFound]: { kind: 'not_found', message: 'Invoice not found.' },
  [InvoiceErrorCode.Forbidden]: { kind: 'forbidden', message: 'Your role does not allow this action on invoices.' },
  [InvoiceErrorCode.NumberTaken]: { kind: 'conflict', message: 'An invoice with this number already exists.' },
  [InvoiceErrorCode.NotDraft]: { kind: 'conflict', message: 'Only draft invoices can be changed.' },
  [InvoiceErrorCode.WrongStatus]: { kind: 'conflict', message: "The invoice's status does not allow this action." },
  [InvoiceErrorCode.VersionMismatch]: { kind: 'precondition_failed', message: 'The invoice has changed since you read it. Fetch it again and retry.' },
}) {}

import type { DomainEventInput } from '@benteng/database';
import type { InvoiceWithLines } from './invoice.types.js';

export type InvoiceEventType = 'invoice.issued' | 'invoice.voided' | 'invoice.paid';

/** What webhook subscribers learn about an invoice: business facts, no customer contact data. */
export function invoiceEvent(type: InvoiceEventType, invoice: InvoiceWithLines): DomainEventInput {
  return {
    type,
    subjectType: 'invoice',
    subjectId: invoice.id,
    payload: {
      id: invoice.id,
      number: invoice.number,
      status: invoice.status,
      currency: invoice.currency,
      totalMinor: invoice.totalMinor.toString(),
      issuedAt: invoice.issuedAt?.toISOString() ?? null,
      dueDate: invoice.dueDate?.toISOString().slice(0, 10) ?? null,
    },
  };
}

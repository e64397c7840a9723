import type { InvoiceWithLines } from '@benteng/invoices';
import type { Scope } from '@benteng/tenancy';
import { invoiceFields, invoiceLines, type InvoiceFields, type InvoiceResponse } from '../public/invoice.response.js';

/**
 * The partner shape of an invoice. Built field by field, and narrower than /v1's: no tenant id, no
 * creator (neither a user id nor another client's id), no customer tax id (the partner rules'
 * field rule, applied by invoiceFields). Whether this client created the invoice is the only
 * creator fact a partner learns.
 */
export interface PartnerInvoiceResponse extends InvoiceFields {
  createdByThisClient: boolean;
  lines: InvoiceResponse['lines'];
}

export function partnerInvoiceResponse(invoice: InvoiceWithLines, scope: Scope): PartnerInvoiceResponse {
  const createdByThisClient = scope.principal.kind === 'partner' && invoice.createdByClientId === scope.principal.clientId;
  return { ...invoiceFields(invoice, scope), createdByThisClient, lines: invoiceLines(invoice) };
}

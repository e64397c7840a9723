import type { InvoiceWithLines } from '@benteng/invoices';

/**
 * The partner shape of an invoice. Built field by field, and narrower than /v1's: no tenant id, no
 * creator (neither a user id nor another client's id), no customer tax id. Whether this client
 * created the invoice is the only creator fact a partner learns.
 */
export interface PartnerInvoiceResponse {
  id: string;
  number: string;
  status: string;
  currency: string;
  customer: { name: string; email: string | null };
  totalMinor: string;
  dueDate: string | null;
  issuedAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
  createdByThisClient: boolean;
  lines: { position: number; description: string; quantity: number; unitPriceMinor: string; amountMinor: string }[];
}

export function partnerInvoiceResponse(invoice: InvoiceWithLines, clientId: string): PartnerInvoiceResponse {
  return {
    id: invoice.id,
    number: invoice.number,
    status: invoice.status,
    currency: invoice.currency,
    customer: { name: invoice.customerName, email: invoice.customerEmail },
    // Minor units as strings: JSON numbers lose precision above 2^53.
    totalMinor: invoice.totalMinor.toString(),
    dueDate: invoice.dueDate ? invoice.dueDate.toISOString().slice(0, 10) : null,
    issuedAt: invoice.issuedAt?.toISOString() ?? null,
    createdAt: invoice.createdAt.toISOString(),
    updatedAt: invoice.updatedAt.toISOString(),
    version: invoice.version,
    createdByThisClient: invoice.createdByClientId === clientId,
    lines: invoice.lines.map((line) => ({
      position: line.position,
      description: line.description,
      quantity: line.quantity,
      unitPriceMinor: line.unitPriceMinor.toString(),
      amountMinor: line.amountMinor.toString(),
    })),
  };
}

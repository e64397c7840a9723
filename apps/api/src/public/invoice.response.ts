import { Injectable } from '@nestjs/common';
import type { MembershipRole } from '@benteng/database';
import type { InvoiceWithLines } from '@benteng/invoices';

/**
 * The public shape of an invoice, per role. Built field by field: nothing from the entity leaves
 * unless it is named here (no tenant id, no creator id, no internal timestamps beyond these).
 * Viewers do not see the customer's email or tax id.
 */
export interface InvoiceResponse {
  id: string;
  number: string;
  status: string;
  currency: string;
  customer: { name: string; email?: string | null; taxId?: string | null };
  totalMinor: string;
  dueDate: string | null;
  issuedAt: string | null;
  createdAt: string;
  updatedAt: string;
  version: number;
  createdByMe: boolean;
  lines: { position: number; description: string; quantity: number; unitPriceMinor: string; amountMinor: string }[];
}

export function invoiceResponse(invoice: InvoiceWithLines, viewer: { role: MembershipRole; userId: string }): InvoiceResponse {
  const customer: InvoiceResponse['customer'] = { name: invoice.customerName };
  if (viewer.role !== 'viewer') {
    customer.email = invoice.customerEmail;
    customer.taxId = invoice.customerTaxId;
  }
  return {
    id: invoice.id,
    number: invoice.number,
    status: invoice.status,
    currency: invoice.currency,
    customer,
    // Minor units as strings: JSON numbers lose precision above 2^53.
    totalMinor: invoice.totalMinor.toString(),
    dueDate: invoice.dueDate ? invoice.dueDate.toISOString().slice(0, 10) : null,
    issuedAt: invoice.issuedAt?.toISOString() ?? null,
    createdAt: invoice.createdAt.toISOString(),
    updatedAt: invoice.updatedAt.toISOString(),
    version: invoice.version,
    createdByMe: invoice.createdById === viewer.userId,
    lines: invoice.lines.map((line) => ({
      position: line.position,
      description: line.description,
      quantity: line.quantity,
      unitPriceMinor: line.unitPriceMinor.toString(),
      amountMinor: line.amountMinor.toString(),
    })),
  };
}

/**
 * The invoice routes' response shape as a provider (InvoicesController maps every answer through
 * it), so a test application can replace the allowlist (test/security/kill-switches/authz.ts).
 */
@Injectable()
export class InvoiceResponses {
  shape(invoice: InvoiceWithLines, viewer: { role: MembershipRole; userId: string }): InvoiceResponse {
    return invoiceResponse(invoice, viewer);
  }
}

import { Injectable } from '@nestjs/common';
import { visibleFields, type HasAbility } from '@benteng/authz';
import type { InvoiceWithLines } from '@benteng/invoices';
import type { Scope } from '@benteng/tenancy';

/**
 * The public shape of an invoice, per role. Built field by field: nothing from the entity leaves
 * unless it is named here (no tenant id, no creator id, no internal timestamps beyond these).
 * Viewers do not see the customer's email or tax id (invoiceFields).
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

/** What /v1 and /partner/v1 show of an invoice alike: every field but who created it, and the lines. */
export type InvoiceFields = Omit<InvoiceResponse, 'createdByMe' | 'lines'>;

/**
 * The invoice fields both surfaces send, field by field. The customer's email and tax id appear
 * only where the viewer's field rules let them read it (libs/authz visibleFields; viewers and
 * partner clients see less, libs/authz/src/rules/invoices.rules.ts and partner.rules.ts).
 */
export function invoiceFields(invoice: InvoiceWithLines, viewer: HasAbility): InvoiceFields {
  const contact = visibleFields(viewer, 'Invoice', invoice, ['customerEmail', 'customerTaxId']);
  const customer: InvoiceResponse['customer'] = { name: invoice.customerName };
  if (contact.includes('customerEmail')) customer.email = invoice.customerEmail;
  if (contact.includes('customerTaxId')) customer.taxId = invoice.customerTaxId;
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
  };
}

export function invoiceLines(invoice: InvoiceWithLines): InvoiceResponse['lines'] {
  return invoice.lines.map((line) => ({
    position: line.position,
    description: line.description,
    quantity: line.quantity,
    unitPriceMinor: line.unitPriceMinor.toString(),
    amountMinor: line.amountMinor.toString(),
  }));
}

export function invoiceResponse(invoice: InvoiceWithLines, scope: Scope): InvoiceResponse {
  return { ...invoiceFields(invoice, scope), createdByMe: scope.principal.kind === 'user' && invoice.createdById === scope.principal.userId, lines: invoiceLines(invoice) };
}

/**
 * The invoice routes' response shape as a provider (InvoicesController maps every answer through
 * it), so a test application can replace the allowlist (test/security/kill-switches/authz.ts).
 */
@Injectable()
export class InvoiceResponses {
  shape(invoice: InvoiceWithLines, scope: Scope): InvoiceResponse {
    return invoiceResponse(invoice, scope);
  }
}

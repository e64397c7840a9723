import type { Invoice, InvoiceLine, InvoiceStatus, Keyset } from '@benteng/database';

export interface NewInvoiceLine {
  description: string;
  quantity: number;
  /** Integer minor units of the invoice currency. */
  unitPriceMinor: bigint;
}

export interface NewInvoice {
  number: string;
  currency?: string;
  customerName: string;
  customerEmail?: string | null;
  customerTaxId?: string | null;
  dueDate?: Date | null;
  lines: NewInvoiceLine[];
}

/** A draft edit: every field optional; `lines` replaces all lines when given. */
export interface InvoicePatch {
  customerName?: string;
  customerEmail?: string | null;
  customerTaxId?: string | null;
  dueDate?: Date | null;
  currency?: string;
  lines?: NewInvoiceLine[];
}

export const INVOICE_SORTS = ['createdAt', '-createdAt', 'number', '-number', 'dueDate', '-dueDate'] as const;
export type InvoiceSort = (typeof INVOICE_SORTS)[number];

export interface InvoiceListQuery {
  status?: InvoiceStatus;
  /** Sort value and id of the last invoice of the previous page. */
  after?: Keyset;
  limit: number;
  sort?: InvoiceSort;
}

export type InvoiceWithLines = Invoice & { lines: InvoiceLine[] };

export type InvoiceTransition = 'issue' | 'void' | 'pay';

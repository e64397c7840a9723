import type { Invoice, InvoiceLine, InvoiceStatus } from '@benteng/database';

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

export interface InvoiceListQuery {
  status?: InvoiceStatus;
  /** Id of the last invoice of the previous page. */
  after?: string;
  limit: number;
}

export type InvoiceWithLines = Invoice & { lines: InvoiceLine[] };

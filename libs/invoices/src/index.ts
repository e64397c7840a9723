export { InvoicesModule } from './invoices.module.js';
export { InvoicesService, MAX_PAGE_SIZE } from './invoices.service.js';
export { InvoicesRepository } from './invoices.repository.js';
export { InvoiceError, InvoiceErrorCode } from './invoice.errors.js';
export type { InvoiceListQuery, InvoiceWithLines, NewInvoice, NewInvoiceLine } from './invoice.types.js';

export { InvoicesModule } from './invoices.module.js';
export { InvoicesService, MAX_PAGE_SIZE } from './invoices.service.js';
export { InvoicesRepository } from './invoices.repository.js';
export { InvoiceError, InvoiceErrorCode } from './invoice.errors.js';
export { INVOICE_SORTS, type InvoiceListQuery, type InvoicePatch, type InvoiceSort, type InvoiceTransition, type InvoiceWithLines, type NewInvoice, type NewInvoiceLine } from './invoice.types.js';
export { invoiceEvent, type InvoiceEventType } from './invoice.events.js';

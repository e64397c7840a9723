import { permits, type Action, type HasAbility } from '@benteng/authz';
import { InvoiceError, InvoiceErrorCode } from './invoice.errors.js';
import type { InvoiceWithLines } from './invoice.types.js';

const STATUSES = ['draft', 'issued', 'paid', 'void'] as const;

/**
 * The refusal for an `action` the scope may not do to an invoice it can see (or it would be "not
 * found"). If the role could do it to the invoice in another status, the status is the problem
 * (409: not a draft, or the wrong status for this transition); otherwise the role is (403).
 * Passed to `authorize` as its refusal: it is only worked out when the check fails.
 */
export function invoiceRefusal(scope: HasAbility, action: Action, invoice: InvoiceWithLines): () => InvoiceError {
  return () => {
    const otherStatuses = STATUSES.filter((status) => status !== invoice.status);
    const statusIsTheProblem = otherStatuses.some((status) => permits(scope, action, 'Invoice', { ...invoice, status }));
    if (!statusIsTheProblem) return new InvoiceError(InvoiceErrorCode.Forbidden);
    return new InvoiceError(action === 'update' || action === 'delete' ? InvoiceErrorCode.NotDraft : InvoiceErrorCode.WrongStatus);
  };
}

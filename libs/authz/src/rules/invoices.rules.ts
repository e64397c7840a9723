import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/** The customer's contact details on an invoice: fields only some readers see. */
const CUSTOMER_CONTACT = ['customerEmail', 'customerTaxId'];

/**
 * Invoices: every role reads; members create drafts and edit, issue or delete the drafts they
 * created; owners and admins edit and issue any draft, void drafts and issued invoices, and mark
 * issued invoices paid. Nobody edits an invoice (or its lines) once it is issued.
 *
 * Viewers read every invoice but not the customer's contact details (email, tax id): a field rule,
 * applied to the API's invoice responses and to export columns alike (visibleFields).
 */
export function invoiceRules({ can, cannot }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  can('read', 'Invoice', { tenantId });
  can('read', 'InvoiceLine', { tenantId });

  switch (principal.role) {
    case 'owner':
    case 'admin':
      can('create', 'Invoice', { tenantId });
      can(['update', 'issue', 'delete'], 'Invoice', { tenantId, status: 'draft' });
      can('void', 'Invoice', { tenantId, status: { in: ['draft', 'issued'] } });
      can('pay', 'Invoice', { tenantId, status: 'issued' });
      can(['create', 'update', 'delete'], 'InvoiceLine', { tenantId, invoice: { is: { status: 'draft' } } });
      return;
    case 'member': {
      const ownDraft = { tenantId, createdById: principal.userId, status: 'draft' as const };
      can('create', 'Invoice', ownDraft);
      can(['update', 'issue', 'delete'], 'Invoice', ownDraft);
      can(['create', 'update', 'delete'], 'InvoiceLine', { tenantId, invoice: { is: ownDraft } });
      return;
    }
    case 'viewer':
      cannot('read', 'Invoice', CUSTOMER_CONTACT);
      return;
  }
}

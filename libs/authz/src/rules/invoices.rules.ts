import type { AppAbilityBuilder, UserRuleContext } from '../ability.js';

/**
 * Invoices: every role reads; members create and edit the drafts they created; owners and admins
 * do everything. Lines follow their invoice.
 */
export function invoiceRules({ can }: AppAbilityBuilder, { tenantId, principal }: UserRuleContext): void {
  can('read', 'Invoice', { tenantId });
  can('read', 'InvoiceLine', { tenantId });

  switch (principal.role) {
    case 'owner':
    case 'admin':
      can(['create', 'update', 'delete'], 'Invoice', { tenantId });
      can(['create', 'update', 'delete'], 'InvoiceLine', { tenantId });
      return;
    case 'member': {
      const ownDraft = { tenantId, createdById: principal.userId, status: 'draft' as const };
      can('create', 'Invoice', ownDraft);
      can(['update', 'delete'], 'Invoice', ownDraft);
      can(['create', 'update', 'delete'], 'InvoiceLine', { tenantId, invoice: { is: ownDraft } });
      return;
    }
    case 'viewer':
      return;
  }
}

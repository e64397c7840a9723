import type { AppAbilityBuilder, TenantPrincipal, TenantUserPrincipal } from '../ability.js';
import type { PartnerPrincipal, PartnerScope } from '../principal.js';

/**
 * What each partner scope grants, as (action, subject) pairs: the function-level view of the
 * rules below, used to document routes (OpenAPI security requirements, the route catalog).
 * rules/rules-scopes.spec.ts proves the two agree.
 */
export const PARTNER_SCOPE_GRANTS: Readonly<Record<PartnerScope, readonly (readonly [string, string])[]>> = {
  'invoices:read': [
    ['read', 'Invoice'],
    ['read', 'InvoiceLine'],
  ],
  'invoices:write': [
    ['create', 'Invoice'],
    ['create', 'InvoiceLine'],
  ],
  'tickets:read': [['read', 'Ticket']],
  'tickets:write': [['create', 'Ticket']],
  'documents:read': [['read', 'Document']],
};

/** The tickets a partner client may see: only those it opened itself. */
const ownTickets = (clientId: string) => ({ openedByClientId: clientId });

/**
 * Partner clients (/partner/v1): rules from scopes alone, each bound to the client's tenant.
 * - invoices:read: every invoice of the tenant and its lines, except the customer's tax id (a
 *   field rule, applied by visibleFields);
 * - invoices:write: create draft invoices recorded as created by this client;
 * - tickets:write / tickets:read: open tickets, and read the tickets this client opened (never
 *   those of users or other clients);
 * - documents:read: documents not attached to a ticket, and attachments of the client's own tickets
 *   (an attachment is exactly as visible as its ticket, as for members).
 * No partner scope reaches members, sessions, audit, other clients or keys.
 */
export function partnerRules({ can, cannot }: AppAbilityBuilder, { tenantId, principal }: TenantPrincipal & { principal: PartnerPrincipal }): void {
  const has = (scope: PartnerScope) => principal.scopes.includes(scope);
  if (has('invoices:read')) {
    can('read', 'Invoice', { tenantId });
    can('read', 'InvoiceLine', { tenantId });
    cannot('read', 'Invoice', ['customerTaxId']);
  }
  if (has('invoices:write')) {
    can('create', 'Invoice', { tenantId, createdByClientId: principal.clientId, status: 'draft' });
    can('create', 'InvoiceLine', { tenantId });
  }
  if (has('tickets:write')) can('create', 'Ticket', { tenantId, ...ownTickets(principal.clientId) });
  if (has('tickets:read')) can('read', 'Ticket', { tenantId, ...ownTickets(principal.clientId) });
  if (has('documents:read')) {
    can('read', 'Document', { tenantId, ticketId: null });
    can('read', 'Document', { tenantId, ticket: { is: ownTickets(principal.clientId) } });
  }
}

/**
 * Tenant users managing partner clients and their keys (/v1/partner-clients): owners and admins
 * only. Credentials are never updated in place except to revoke, rotate or touch metadata.
 */
export function partnerClientRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  if (principal.role !== 'owner' && principal.role !== 'admin') return;
  can(['create', 'read', 'update'], 'PartnerClient', { tenantId });
  can(['create', 'read', 'update'], 'PartnerApiKey', { tenantId });
  can(['create', 'read', 'update'], 'PartnerSigningKey', { tenantId });
}

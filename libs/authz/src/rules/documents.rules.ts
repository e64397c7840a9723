import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';
import { ownTickets } from './tickets.rules.js';

/**
 * Documents: every role reads; members, admins and owners upload; members delete the documents
 * they uploaded, owners and admins delete any; viewers change nothing. Documents are immutable
 * (no update).
 *
 * A document attached to a ticket is exactly as visible as the ticket: members and viewers see
 * only the tickets they opened or are assigned to (ownTickets in tickets.rules.ts), and an
 * attachment must not reveal a ticket they cannot see.
 */
export function documentRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  switch (principal.role) {
    case 'owner':
    case 'admin':
      can(['read', 'create', 'delete'], 'Document', { tenantId });
      return;
    case 'member':
    case 'viewer': {
      const visibleTicket = ownTickets(principal.userId);
      can('read', 'Document', { tenantId, ticketId: null });
      can('read', 'Document', { tenantId, ticket: { is: visibleTicket } });
      if (principal.role === 'viewer') return;
      const ownUpload = { tenantId, uploadedById: principal.userId };
      can('create', 'Document', ownUpload);
      can('delete', 'Document', ownUpload);
      return;
    }
  }
}

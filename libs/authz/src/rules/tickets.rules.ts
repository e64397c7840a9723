import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/**
 * Tickets: owners and admins see, update, assign and comment on every ticket of the tenant.
 * Members open tickets, and see, update and comment on those they opened or are assigned to —
 * an object-level rule beyond the tenant. Viewers see the same tickets a member would and change
 * nothing.
 */
/** The tickets a member or viewer may see: opened by them or assigned to them. Used by documents too. */
export function ownTickets(userId: string) {
  return { OR: [{ openedById: userId }, { assigneeId: userId }] };
}

export function ticketRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  const mine = { tenantId, ...ownTickets(principal.userId) };
  switch (principal.role) {
    case 'owner':
    case 'admin':
      can(['read', 'update', 'assign', 'comment'], 'Ticket', { tenantId });
      can('create', 'Ticket', { tenantId });
      can('read', 'TicketComment', { tenantId });
      return;
    case 'member':
      can('create', 'Ticket', { tenantId, openedById: principal.userId });
      can(['read', 'update', 'comment'], 'Ticket', mine);
      can('read', 'TicketComment', { tenantId, ticket: { is: mine } });
      return;
    case 'viewer':
      can('read', 'Ticket', mine);
      can('read', 'TicketComment', { tenantId, ticket: { is: mine } });
      return;
  }
}

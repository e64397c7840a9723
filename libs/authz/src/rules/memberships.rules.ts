import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/**
 * Members see who else belongs to their tenant (for assignment and display); owners and admins
 * manage memberships. Changing roles beyond that is the identity feature's work.
 */
export function membershipRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  can('read', 'Membership', { tenantId });
  can('read', 'User', { memberships: { some: { tenantId } } });
  // Everyone manages their own account (password change).
  can('update', 'User', { id: principal.userId });
  if (principal.role === 'owner' || principal.role === 'admin') {
    can(['create', 'update', 'delete'], 'Membership', { tenantId });
    // Invitations are how a membership starts: the invitee's consent attaches them (issue 14).
    can(['create', 'read', 'update'], 'Invitation', { tenantId });
  }
}

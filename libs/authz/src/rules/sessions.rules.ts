import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/**
 * Everyone sees and ends their own sessions; owners and admins may end any session of their
 * tenant (incident response). Owners and admins read the tenant's audit trail.
 */
export function sessionRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  can(['read', 'delete'], 'Session', { tenantId, userId: principal.userId });
  if (principal.role === 'owner' || principal.role === 'admin') {
    can(['read', 'delete'], 'Session', { tenantId });
    can('read', 'AuditEvent', { tenantId });
  }
}

import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/** Security blocks placed by the abuse detector: owners and admins see their tenant's. */
export function securityRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  if (principal.role === 'owner' || principal.role === 'admin') can('read', 'SecurityBlock', { tenantId });
}

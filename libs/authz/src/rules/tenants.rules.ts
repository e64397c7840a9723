import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/** Every member sees the tenant they act in, and nothing of any other. */
export function tenantRules({ can }: AppAbilityBuilder, { tenantId }: TenantUserPrincipal): void {
  can('read', 'Tenant', { id: tenantId });
}

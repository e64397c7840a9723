import type { AppAbilityBuilder, UserRuleContext } from '../ability.js';

/** Security blocks placed by the abuse detector: owners and admins see their tenant's. */
export function securityRules({ can }: AppAbilityBuilder, { tenantId, principal }: UserRuleContext): void {
  if (principal.role === 'owner' || principal.role === 'admin') can('read', 'SecurityBlock', { tenantId });
}

import type { AppAbilityBuilder, UserRuleContext } from '../ability.js';

/** Every member sees the tenant they act in, and nothing of any other. */
export function tenantRules({ can }: AppAbilityBuilder, { tenantId }: UserRuleContext): void {
  can('read', 'Tenant', { id: tenantId });
}

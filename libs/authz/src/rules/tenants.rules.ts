import type { AppAbilityBuilder, RuleContext } from '../ability.js';

/** Every member sees the tenant they act in, and nothing of any other. */
export function tenantRules({ can }: AppAbilityBuilder, { tenantId }: RuleContext): void {
  can('read', 'Tenant', { id: tenantId });
}

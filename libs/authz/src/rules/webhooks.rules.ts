import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/** Webhook endpoints and their delivery log: owners and admins only. */
export function webhookRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  if (principal.role !== 'owner' && principal.role !== 'admin') return;
  can(['create', 'read', 'update', 'delete'], 'WebhookEndpoint', { tenantId });
  can(['read', 'create'], 'WebhookDelivery', { tenantId });
}

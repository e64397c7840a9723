import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/**
 * Data subject requests (UU PDP; libs/privacy): everyone, viewers too, may ask for access to or
 * erasure of their own data in this tenant and follow their own requests; owners and admins may do
 * both for any member of the tenant and see every request. Nobody else's: a member cannot erase
 * another member (function level: the condition is on the subject, checked before anything runs).
 */
export function privacyRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  can(['create', 'read'], 'PrivacyRequest', { tenantId, subjectUserId: principal.userId });
  if (principal.role === 'owner' || principal.role === 'admin') can(['create', 'read'], 'PrivacyRequest', { tenantId });
}

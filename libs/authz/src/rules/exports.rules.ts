import type { AppAbilityBuilder, UserRuleContext } from '../ability.js';

/**
 * Exports: owners, admins and members request them (viewers cannot). A requester sees and
 * downloads their own exports only: an export holds the rows *they* could read when it ran, so
 * handing it to anyone else would bypass that person's own rules. Owners and admins also see every
 * export's status (not its file).
 */
export function exportRules({ can }: AppAbilityBuilder, { tenantId, principal }: UserRuleContext): void {
  if (principal.role === 'viewer') return;
  const own = { tenantId, requestedById: principal.userId };
  can('create', 'Export', own);
  can(['read', 'download'], 'Export', own);
  if (principal.role === 'owner' || principal.role === 'admin') can('read', 'Export', { tenantId });
}

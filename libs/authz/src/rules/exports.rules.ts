import type { AppAbilityBuilder, TenantUserPrincipal } from '../ability.js';

/** What anyone who reads an export sees of it; the rest (filters, counts, checksum, error) is the requester's. */
const EXPORT_STATUS_FIELDS = ['id', 'type', 'format', 'status', 'requestedById', 'createdAt', 'startedAt', 'completedAt', 'expiresAt', 'version'];

/**
 * Exports: owners, admins and members request them (viewers cannot). A requester sees and
 * downloads their own exports only: an export holds the rows *they* could read when it ran, so
 * handing it to anyone else would bypass that person's own rules. Owners and admins also see every
 * export's status (not its file): a field rule, so what someone else filtered for and how many rows
 * they could read stay the requester's (applied by visibleFields).
 */
export function exportRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantUserPrincipal): void {
  // Anyone, viewers too, may read and download the access export of their own data subject request
  // (libs/privacy): it is theirs to receive whatever their role.
  can(['read', 'download'], 'Export', { tenantId, requestedById: principal.userId, type: 'subject_access' });
  if (principal.role === 'viewer') return;
  const own = { tenantId, requestedById: principal.userId };
  can('create', 'Export', own);
  can(['read', 'download'], 'Export', own);
  if (principal.role === 'owner' || principal.role === 'admin') can('read', 'Export', EXPORT_STATUS_FIELDS, { tenantId });
}

import type { AppAbilityBuilder } from '../ability.js';
import type { OperatorPrincipal } from '../principal.js';

/**
 * Operators on the internal listener. Platform rules, not tenant rules: nothing here carries a
 * tenant condition, because these subjects are read through named cross-tenant functions
 * (internal_list_tenants) that return only what the route needs.
 *
 * - support: reads tenants (to find one and help its users);
 * - security: reads tenants and the platform audit log (which also lets them scope a personal data
 *   breach, POST /internal/v1/incidents/breach-scope: the audit trail and the access records read
 *   together, docs/privacy.md); suspends tenants, locks users, revokes
 *   sessions and partner credentials, lists and lifts abuse blocks (incidentResponse);
 * - platform-admin: manages tenants and operators, reads the platform audit log, responds to
 *   incidents as security does, manages the job queues (Bull Board) and the Prometheus scrape
 *   credentials.
 *
 * Every operator reads their own operator record (whoami), scrapes the metrics, and may record an
 * operator action in the platform audit log (each state-changing call carries a reason).
 *
 * This is the only place operator permissions are written: internal routes name an action and a
 * subject (`@InternalAccess`), never a role.
 */
export function operatorRules({ can }: AppAbilityBuilder, principal: OperatorPrincipal): void {
  if (principal.roles.length === 0) return;
  can('read', 'Operator', { id: principal.operatorId });
  can('create', 'PlatformAuditEvent');
  for (const role of principal.roles) {
    switch (role) {
      case 'support':
        can('read', 'Tenant');
        can('read', 'PlatformMetrics');
        break;
      case 'security':
        can('read', 'Tenant');
        can('read', 'PlatformMetrics');
        can('read', 'PlatformAuditEvent');
        incidentResponse(can);
        break;
      case 'platform-admin':
        can('manage', 'Tenant');
        can('manage', 'Operator');
        can('read', 'PlatformMetrics');
        can('read', 'PlatformAuditEvent');
        can('manage', 'JobQueue');
        // Prometheus scrape credentials (docs/metrics.md): create, list, revoke.
        can('manage', 'MetricsScrapeCredential');
        incidentResponse(can);
        break;
    }
  }
}

/**
 * Security and platform-admin: cut access off (and restore it) during an incident. Field rules,
 * so the ability names exactly what changes: a tenant's or a user's status (suspend, lock), and a
 * session's or partner credential's revocation time. No read of the records themselves follows
 * from these, abuse blocks aside (listed so they can be lifted); the internal admin routes change
 * them through named SECURITY DEFINER functions (prisma/migrations/20261129070000_admin) and audit
 * each change.
 */
function incidentResponse(can: AppAbilityBuilder['can']): void {
  can('update', 'Tenant', ['status']);
  can('update', 'User', ['status']);
  can('update', 'Session', ['revokedAt']);
  can('update', 'PartnerClient', ['revokedAt']);
  can('update', 'PartnerApiKey', ['revokedAt']);
  // List abuse blocks across tenants and end one early (GET /internal/v1/blocks, POST
  // /internal/v1/blocks/lift, libs/platform/src/incident-tools.ts).
  can('read', 'SecurityBlock');
  can('update', 'SecurityBlock', ['liftedAt', 'liftedBy']);
}

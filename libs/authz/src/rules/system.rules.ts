import type { AppAbilityBuilder, TenantPrincipal } from '../ability.js';
import type { SystemPrincipal } from '../principal.js';

/**
 * System principals act for the application inside one tenant and get only what their job needs:
 * `auth` runs logins, refreshes and revocations; `audit` appends to the audit log; `partner-auth`
 * verifies partner credentials; `security` records abuse blocks; `jobs` checks who a job acts for;
 * `invitations` turns an accepted invitation into a membership; `privacy` collects or erases one
 * data subject's data once their request has been authorised (libs/privacy).
 */
export function systemRules({ can }: AppAbilityBuilder, { tenantId, principal }: TenantPrincipal & { principal: SystemPrincipal }): void {
  switch (principal.name) {
    case 'auth':
      can('read', 'Tenant', { id: tenantId });
      can('read', 'Membership', { tenantId });
      can('read', 'User', { memberships: { some: { tenantId } } });
      can(['create', 'read', 'update'], 'Session', { tenantId });
      can(['create', 'read', 'update'], 'RefreshToken', { tenantId });
      can('create', 'AuditEvent', { tenantId });
      return;
    case 'audit':
      can(['create', 'read'], 'AuditEvent', { tenantId });
      return;
    case 'partner-auth':
      // Records when a key was last used and audits refused partner credentials; reads whether a
      // client requires request signatures and the public keys its signatures are checked against.
      can('update', 'PartnerApiKey', { tenantId });
      can('read', 'PartnerClient', { tenantId });
      can(['read', 'update'], 'PartnerSigningKey', { tenantId });
      can('create', 'AuditEvent', { tenantId });
      return;
    case 'webhooks':
      // The outbox relay and the delivery worker: publish events, record deliveries and attempts,
      // disable failing endpoints and announce it (webhook_endpoint.disabled).
      can(['read', 'update'], 'WebhookEndpoint', { tenantId });
      can(['create', 'read', 'update'], 'WebhookDelivery', { tenantId });
      can('create', 'AuditEvent', { tenantId });
      return;
    case 'payments':
      // Inbound payment events: mark an issued invoice paid, once per provider message.
      can('read', 'Invoice', { tenantId });
      can('read', 'InvoiceLine', { tenantId });
      can('pay', 'Invoice', { tenantId, status: 'issued' });
      can(['create', 'read'], 'PaymentEvent', { tenantId });
      can('create', 'AuditEvent', { tenantId });
      return;
    case 'cleanup':
      // The platform cleanup job: expire export files.
      can(['read', 'update'], 'Export', { tenantId });
      can('create', 'AuditEvent', { tenantId });
      return;
    case 'jobs':
      // The job worker re-derives a job's actor from current state before running it (invariant 7):
      // is the tenant active, is the user still an active member (and with which role), is the
      // login session the job was requested in still open, are the partner client and the key it
      // used still valid. Read-only, and only the rows that answer those questions.
      can('read', 'Tenant', { id: tenantId });
      can('read', 'Membership', { tenantId });
      can('read', 'User', { memberships: { some: { tenantId } } });
      can('read', 'Session', { tenantId });
      can('read', 'PartnerClient', { tenantId });
      can('read', 'PartnerApiKey', { tenantId });
      return;
    case 'invitations':
      // Acceptance: the invitee is not a member yet, so no user rule applies. The invitation's own
      // tenant, one pending invitation, the membership it becomes, and the record of it.
      can(['read', 'update'], 'Invitation', { tenantId });
      can(['create', 'read'], 'Membership', { tenantId });
      can('create', 'AuditEvent', { tenantId });
      return;
    case 'privacy':
      // Data subject requests (libs/privacy): after the service has checked the request against the
      // requester's own PrivacyRequest rules, collect or erase one person's data in this tenant, as
      // prisma/personal-data.ts lists it. Nothing here crosses the tenant (RLS as everywhere).
      can('read', 'User', { memberships: { some: { tenantId } } });
      can(['read', 'delete'], 'Membership', { tenantId });
      can(['read', 'delete'], 'Session', { tenantId });
      can(['read', 'update'], 'Ticket', { tenantId });
      can(['read', 'update'], 'TicketComment', { tenantId });
      can(['read', 'delete'], 'Document', { tenantId });
      can(['read', 'update'], 'Invitation', { tenantId });
      can('read', 'Invoice', { tenantId });
      can(['read', 'delete'], 'Export', { tenantId });
      can(['read', 'update'], 'SecurityBlock', { tenantId });
      can(['read', 'update'], 'AuditEvent', { tenantId });
      can(['create', 'read', 'update'], 'PrivacyRequest', { tenantId });
      can('create', 'AuditEvent', { tenantId });
      return;
    case 'security':
      // The abuse detector records the blocks it places, audits them and notifies tenant admins.
      can(['create', 'read', 'update'], 'SecurityBlock', { tenantId });
      can('read', 'Membership', { tenantId });
      can('create', 'AuditEvent', { tenantId });
      return;
  }
}

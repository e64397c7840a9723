import { subject as as } from '@casl/ability';
import { describe, expect, it } from 'vitest';
import type { MembershipRole } from '@benteng/database';
import { defineAbilityFor, definePlatformAbility, SUBJECT_NAMES, type Action, type AppAbility, type SubjectName } from '../ability.js';
import { PARTNER_SCOPES, type PartnerScope, type SystemPrincipal } from '../principal.js';
import { tag } from '../../../../test/security/support/controls.js';

/**
 * The whole permission table, principal by principal, written out as the rules' documentation
 * states it: every (action, subject) pair not listed is refused (deny by default), and every listed
 * grant holds for a matching row of the ability's tenant but for none of the listed foreign rows
 * (another tenant's, another user's, another client's, a row in the wrong state). Written to fail
 * on any widening or narrowing of a rule (npm run test:mutation, docs/mutation.md).
 */

const T = '0193b7a0-0000-7000-8000-00000000000a';
const OTHER = '0193b7a0-0000-7000-8000-00000000000b';
const ME = '0193b7a0-0000-7000-8000-0000000000a1';
const SOMEONE = '0193b7a0-0000-7000-8000-0000000000a2';
const CLIENT = '0193b7a0-0000-7000-8000-0000000000c1';
const OTHER_CLIENT = '0193b7a0-0000-7000-8000-0000000000c2';

const ACTIONS: readonly Action[] = ['manage', 'create', 'read', 'update', 'delete', 'issue', 'void', 'pay', 'assign', 'comment', 'download'];

type Fields = Record<string, unknown>;
/** A grant: actions on a subject, a row it holds for, and rows (overrides of that row) it must not hold for. */
type Grant = readonly [actions: readonly Action[], subject: SubjectName, row: Fields, foreign?: readonly Fields[]];

const inTenant = { tenantId: T };
const otherTenant = { tenantId: OTHER };
const tenantGrant = (actions: readonly Action[], subject: SubjectName): Grant => [actions, subject, inTenant, [otherTenant]];
const memberOf = (tenantId: string) => ({ memberships: [{ tenantId }] });

/** Where an ability disagrees with the table: the class-level matrix (every action on every subject) and every grant's rows. */
function mismatches(ability: AppAbility, grants: readonly Grant[]): string[] {
  const wrong: string[] = [];
  const check = (expected: boolean, actual: boolean, what: string) => {
    if (actual !== expected) wrong.push(`${expected ? 'refused' : 'allowed'}: ${what}`);
  };
  const granted = new Set(grants.flatMap(([actions, subject]) => actions.map((action) => `${action} ${subject}`)));
  for (const subject of SUBJECT_NAMES) {
    for (const action of ACTIONS) {
      const expected = granted.has(`${action} ${subject}`) || (action !== 'manage' && granted.has(`manage ${subject}`));
      check(expected, ability.can(action, subject), `${action} ${subject}`);
    }
  }
  for (const [actions, subject, row, foreign = []] of grants) {
    for (const action of actions) {
      check(true, ability.can(action, as(subject, { ...row } as never)), `${action} ${subject} ${JSON.stringify(row)}`);
      for (const change of foreign) {
        const changed = { ...row, ...change };
        check(false, ability.can(action, as(subject, changed as never)), `${action} ${subject} ${JSON.stringify(changed)}`);
      }
    }
  }
  return wrong;
}

const user = (role: MembershipRole) => defineAbilityFor(T, { kind: 'user', userId: ME, role });

/** What every user has, whatever the role. */
const everyUser: Grant[] = [
  [['read'], 'Tenant', { id: T }, [{ id: OTHER }]],
  tenantGrant(['read'], 'Membership'),
  [['read'], 'User', memberOf(T), [memberOf(OTHER)]],
  [['update'], 'User', { id: ME }, [{ id: SOMEONE }]],
  [['read', 'delete'], 'Session', { ...inTenant, userId: ME }, [otherTenant, { userId: SOMEONE }]],
  tenantGrant(['read'], 'Invoice'),
  tenantGrant(['read'], 'InvoiceLine'),
  [['read'], 'Document', { ...inTenant, ticketId: null }, [otherTenant]],
  // Data subject requests about oneself, and the access export they produce.
  [['create', 'read'], 'PrivacyRequest', { ...inTenant, subjectUserId: ME }, [otherTenant]],
  [['read', 'download'], 'Export', { ...inTenant, requestedById: ME, type: 'subject_access' }, [otherTenant]],
  [['download'], 'Export', { ...inTenant, requestedById: ME, type: 'subject_access' }, [{ requestedById: SOMEONE }]],
];

/** What a member or viewer may not do about someone else's data (owners and admins may). */
const ownPrivacyOnly: Grant[] = [[['create', 'read'], 'PrivacyRequest', { ...inTenant, subjectUserId: ME }, [{ subjectUserId: SOMEONE }]]];

const ownTicket = { ...inTenant, openedById: ME, assigneeId: null };
const assignedTicket = { ...inTenant, openedById: SOMEONE, assigneeId: ME };
const othersTicket = { openedById: SOMEONE, assigneeId: SOMEONE };
const visibleTicketGrants = (actions: readonly Action[]): Grant[] => [
  [actions, 'Ticket', ownTicket, [otherTenant, othersTicket]],
  [actions, 'Ticket', assignedTicket, [otherTenant, othersTicket]],
];
const visibleTicketChildren: Grant[] = [
  [['read'], 'TicketComment', { ...inTenant, ticket: ownTicket }, [otherTenant, { ticket: { ...ownTicket, ...othersTicket } }]],
  [['read'], 'TicketComment', { ...inTenant, ticket: assignedTicket }, [otherTenant, { ticket: { ...assignedTicket, ...othersTicket } }]],
  [['read'], 'Document', { ...inTenant, ticketId: SOMEONE, ticket: assignedTicket }, [otherTenant, { ticket: { ...assignedTicket, ...othersTicket } }]],
  [['read'], 'Document', { ...inTenant, ticketId: SOMEONE, ticket: ownTicket }, [otherTenant, { ticket: { ...ownTicket, ...othersTicket } }]],
];

const manager: Grant[] = [
  // Any session of the tenant, so another user's is no foreign row for them.
  ...everyUser.filter(([, subject]) => subject !== 'Session'),
  [['read', 'delete'], 'Session', { ...inTenant, userId: ME }, [otherTenant]],
  [['read', 'delete'], 'Session', { ...inTenant, userId: SOMEONE }, [otherTenant]],
  tenantGrant(['read'], 'AuditEvent'),
  tenantGrant(['create', 'read'], 'PrivacyRequest'),
  tenantGrant(['create', 'update', 'delete'], 'Membership'),
  tenantGrant(['create', 'read', 'update'], 'Invitation'),
  tenantGrant(['create'], 'Invoice'),
  [['update', 'issue', 'delete'], 'Invoice', { ...inTenant, status: 'draft', createdById: SOMEONE }, [otherTenant, { status: 'issued' }]],
  [['void'], 'Invoice', { ...inTenant, status: 'draft' }, [otherTenant, { status: 'paid' }]],
  [['void', 'pay'], 'Invoice', { ...inTenant, status: 'issued' }, [otherTenant]],
  [['pay'], 'Invoice', { ...inTenant, status: 'issued' }, [{ status: 'draft' }]],
  [['create', 'update', 'delete'], 'InvoiceLine', { ...inTenant, invoice: { status: 'draft' } }, [otherTenant, { invoice: { status: 'issued' } }]],
  [['read', 'update', 'assign', 'comment'], 'Ticket', { ...inTenant, ...othersTicket }, [otherTenant]],
  tenantGrant(['create'], 'Ticket'),
  [['read'], 'TicketComment', { ...inTenant, ticket: { ...inTenant, ...othersTicket } }, [otherTenant]],
  [['read', 'create', 'delete'], 'Document', { ...inTenant, uploadedById: SOMEONE, ticketId: SOMEONE, ticket: othersTicket }, [otherTenant]],
  tenantGrant(['create', 'read', 'update'], 'PartnerClient'),
  tenantGrant(['create', 'read', 'update'], 'PartnerApiKey'),
  tenantGrant(['create', 'read', 'update'], 'PartnerSigningKey'),
  tenantGrant(['read'], 'SecurityBlock'),
  [['create', 'read', 'download'], 'Export', { ...inTenant, requestedById: ME }, [otherTenant]],
  [['create', 'download'], 'Export', { ...inTenant, requestedById: ME }, [{ requestedById: SOMEONE }]],
  [['read'], 'Export', { ...inTenant, requestedById: SOMEONE }, [otherTenant]],
  tenantGrant(['create', 'read', 'update', 'delete'], 'WebhookEndpoint'),
  tenantGrant(['read', 'create'], 'WebhookDelivery'),
];

const viewer: Grant[] = [...everyUser, ...ownPrivacyOnly, ...visibleTicketGrants(['read']), ...visibleTicketChildren];

const ownDraft = { ...inTenant, createdById: ME, status: 'draft' };
const member: Grant[] = [
  ...viewer,
  ...visibleTicketGrants(['update', 'comment']),
  [['create'], 'Ticket', { ...inTenant, openedById: ME }, [otherTenant, { openedById: SOMEONE }]],
  [['create', 'update', 'issue', 'delete'], 'Invoice', ownDraft, [otherTenant, { createdById: SOMEONE }, { status: 'issued' }]],
  [['create', 'update', 'delete'], 'InvoiceLine', { ...inTenant, invoice: ownDraft }, [otherTenant, { invoice: { ...ownDraft, createdById: SOMEONE } }, { invoice: { ...ownDraft, status: 'issued' } }, { invoice: { ...ownDraft, tenantId: OTHER } }]],
  [['create', 'delete'], 'Document', { ...inTenant, uploadedById: ME }, [otherTenant, { uploadedById: SOMEONE }]],
  [['create', 'read', 'download'], 'Export', { ...inTenant, requestedById: ME }, [otherTenant, { requestedById: SOMEONE }]],
];

describe(tag('AUTHZ-FUNCTION', 'the permission table of tenant users'), () => {
  it.each(['owner', 'admin'] as const)('%s: manages the tenant, its members, invoices, tickets, documents, integrations and exports', (role) => {
    expect(mismatches(user(role), manager)).toEqual([]);
  });

  it('member: opens and edits its own drafts and tickets, uploads, exports for itself; reads the rest of the tenant', () => {
    expect(mismatches(user('member'), member)).toEqual([]);
  });

  it('viewer: reads the tenant and the tickets it can see, changes nothing but its own account and sessions', () => {
    expect(mismatches(user('viewer'), viewer)).toEqual([]);
  });

  it('SUBJECT_NAMES lists every subject the rules know', () => {
    expect([...SUBJECT_NAMES].sort()).toEqual(
      ['AuditEvent', 'Document', 'Export', 'Invitation', 'Invoice', 'InvoiceLine', 'Membership', 'Operator', 'PartnerApiKey', 'PartnerClient', 'PartnerSigningKey', 'PaymentEvent', 'PlatformAuditEvent', 'PrivacyRequest', 'PlatformMetrics', 'JobQueue', 'MetricsScrapeCredential', 'RefreshToken', 'SecurityBlock', 'Session', 'Tenant', 'Ticket', 'TicketComment', 'User', 'WebhookDelivery', 'WebhookEndpoint'].sort(),
    );
  });
});

const system = (name: SystemPrincipal['name']) => defineAbilityFor(T, { kind: 'system', name });

describe(tag('AUTHZ-FUNCTION', 'the permission table of system principals'), () => {
  const audit = tenantGrant(['create'], 'AuditEvent');
  const tables: Record<SystemPrincipal['name'], Grant[]> = {
    auth: [
      [['read'], 'Tenant', { id: T }, [{ id: OTHER }]],
      tenantGrant(['read'], 'Membership'),
      [['read'], 'User', memberOf(T), [memberOf(OTHER)]],
      tenantGrant(['create', 'read', 'update'], 'Session'),
      tenantGrant(['create', 'read', 'update'], 'RefreshToken'),
      audit,
    ],
    audit: [tenantGrant(['create', 'read'], 'AuditEvent')],
    'partner-auth': [tenantGrant(['update'], 'PartnerApiKey'), tenantGrant(['read'], 'PartnerClient'), tenantGrant(['read', 'update'], 'PartnerSigningKey'), audit],
    webhooks: [tenantGrant(['read', 'update'], 'WebhookEndpoint'), tenantGrant(['create', 'read', 'update'], 'WebhookDelivery'), audit],
    payments: [
      tenantGrant(['read'], 'Invoice'),
      tenantGrant(['read'], 'InvoiceLine'),
      [['pay'], 'Invoice', { ...inTenant, status: 'issued' }, [otherTenant, { status: 'draft' }]],
      tenantGrant(['create', 'read'], 'PaymentEvent'),
      audit,
    ],
    cleanup: [tenantGrant(['read', 'update'], 'Export'), audit],
    jobs: [
      [['read'], 'Tenant', { id: T }, [{ id: OTHER }]],
      tenantGrant(['read'], 'Membership'),
      [['read'], 'User', memberOf(T), [memberOf(OTHER)]],
      tenantGrant(['read'], 'Session'),
      tenantGrant(['read'], 'PartnerClient'),
      tenantGrant(['read'], 'PartnerApiKey'),
    ],
    invitations: [tenantGrant(['read', 'update'], 'Invitation'), tenantGrant(['create', 'read'], 'Membership'), audit],
    security: [tenantGrant(['create', 'read', 'update'], 'SecurityBlock'), tenantGrant(['read'], 'Membership'), audit],
    privacy: [
      [['read'], 'User', memberOf(T), [memberOf(OTHER)]],
      tenantGrant(['read', 'delete'], 'Membership'),
      tenantGrant(['read', 'delete'], 'Session'),
      tenantGrant(['read', 'update'], 'Ticket'),
      tenantGrant(['read', 'update'], 'TicketComment'),
      tenantGrant(['read', 'delete'], 'Document'),
      tenantGrant(['read', 'update'], 'Invitation'),
      tenantGrant(['read'], 'Invoice'),
      tenantGrant(['read', 'delete'], 'Export'),
      tenantGrant(['read', 'update'], 'SecurityBlock'),
      tenantGrant(['create', 'read', 'update'], 'AuditEvent'),
      tenantGrant(['create', 'read', 'update'], 'PrivacyRequest'),
    ],
  };

  it.each(Object.keys(tables) as SystemPrincipal['name'][])('system:%s gets only what its job needs, in its tenant', (name) => {
    expect(mismatches(system(name), tables[name])).toEqual([]);
  });
});

const partner = (scopes: PartnerScope[]) => defineAbilityFor(T, { kind: 'partner', clientId: CLIENT, scopes, tier: 'standard' });

describe(tag('AUTHZ-PARTNER-SCOPES', 'the permission table of partner scopes'), () => {
  const ownClientTicket = { ...inTenant, openedByClientId: CLIENT };
  const grants: Record<PartnerScope, Grant[]> = {
    'invoices:read': [tenantGrant(['read'], 'Invoice'), tenantGrant(['read'], 'InvoiceLine')],
    'invoices:write': [
      [['create'], 'Invoice', { ...inTenant, createdByClientId: CLIENT, status: 'draft' }, [otherTenant, { createdByClientId: OTHER_CLIENT }, { status: 'issued' }]],
      tenantGrant(['create'], 'InvoiceLine'),
    ],
    'tickets:read': [[['read'], 'Ticket', ownClientTicket, [otherTenant, { openedByClientId: OTHER_CLIENT }]]],
    'tickets:write': [[['create'], 'Ticket', ownClientTicket, [otherTenant, { openedByClientId: OTHER_CLIENT }]]],
    'documents:read': [
      [['read'], 'Document', { ...inTenant, ticketId: null }, [otherTenant]],
      [['read'], 'Document', { ...inTenant, ticketId: SOMEONE, ticket: { openedByClientId: CLIENT } }, [otherTenant, { ticket: { openedByClientId: OTHER_CLIENT } }]],
    ],
  };

  it.each(PARTNER_SCOPES)('%s alone grants exactly its own rows', (scope) => {
    expect(mismatches(partner([scope]), grants[scope])).toEqual([]);
  });

  it('every scope together grants the union, and no scope at all grants nothing', () => {
    expect(mismatches(partner([...PARTNER_SCOPES]), PARTNER_SCOPES.flatMap((scope) => grants[scope]))).toEqual([]);
    expect(mismatches(partner([]), [])).toEqual([]);
  });
});

describe(tag('AUTHZ-OPERATOR', 'operator records and incident fields'), () => {
  const operator = definePlatformAbility({ kind: 'operator', operatorId: ME, roles: ['support'], service: 'ops-cli' });

  it('an operator reads its own operator record only', () => {
    expect(operator.can('read', as('Operator', { id: ME } as never))).toBe(true);
    expect(operator.can('read', as('Operator', { id: SOMEONE } as never))).toBe(false);
  });

  it('incident response may lift a block (liftedAt, liftedBy) and change nothing else of it', () => {
    for (const role of ['security', 'platform-admin'] as const) {
      const sut = definePlatformAbility({ kind: 'operator', operatorId: ME, roles: [role], service: 'ops-cli' });
      expect(sut.can('update', 'SecurityBlock', 'liftedAt')).toBe(true);
      expect(sut.can('update', 'SecurityBlock', 'liftedBy')).toBe(true);
      expect(sut.can('update', 'SecurityBlock', 'expiresAt')).toBe(false);
    }
    expect(operator.can('update', 'SecurityBlock', 'liftedAt')).toBe(false);
  });
});

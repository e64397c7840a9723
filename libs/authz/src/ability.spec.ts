import { subject } from '@casl/ability';
import { describe, expect, it, vi } from 'vitest';
import type { MembershipRole } from '@benteng/database';
import { defineAbilityFor } from './ability.js';

const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const OTHER = '0193b7a0-0000-7000-8000-00000000000b';
const ME = '0193b7a0-0000-7000-8000-0000000000a1';
const SOMEONE = '0193b7a0-0000-7000-8000-0000000000a2';

const sut = (role: MembershipRole) => defineAbilityFor(TENANT, { kind: 'user', userId: ME, role });
const invoice = (fields: Record<string, unknown>) => subject('Invoice', { tenantId: TENANT, createdById: SOMEONE, status: 'draft', ...fields } as never);

describe('abilities', () => {
  it.each(['owner', 'admin', 'member', 'viewer'] as const)('%s reads invoices of its own tenant only', (role) => {
    expect(sut(role).can('read', invoice({}))).toBe(true);
    expect(sut(role).can('read', invoice({ tenantId: OTHER }))).toBe(false);
    expect(sut(role).can('read', subject('Tenant', { id: OTHER } as never))).toBe(false);
    expect(sut(role).can('read', subject('Tenant', { id: TENANT } as never))).toBe(true);
  });

  it('owners and admins manage invoices of their tenant, never of another', () => {
    for (const role of ['owner', 'admin'] as const) {
      for (const action of ['create', 'update', 'issue', 'delete'] as const) {
        expect(sut(role).can(action, invoice({}))).toBe(true);
        expect(sut(role).can(action, invoice({ tenantId: OTHER }))).toBe(false);
      }
      expect(sut(role).can('void', invoice({ status: 'issued' }))).toBe(true);
      expect(sut(role).can('pay', invoice({ status: 'issued' }))).toBe(true);
      expect(sut(role).can('void', invoice({ status: 'issued', tenantId: OTHER }))).toBe(false);
    }
  });

  it('nobody edits, issues or deletes an invoice once it is issued, and only issued invoices are paid', () => {
    for (const role of ['owner', 'admin', 'member'] as const) {
      for (const action of ['update', 'issue', 'delete', 'pay'] as const) {
        expect(sut(role).can(action, invoice({ status: action === 'pay' ? 'draft' : 'issued', createdById: ME }))).toBe(false);
      }
    }
    expect(sut('member').can('void', invoice({ createdById: ME }))).toBe(false);
  });

  it('members create and edit only the drafts they created', () => {
    const member = sut('member');
    expect(member.can('create', invoice({ createdById: ME }))).toBe(true);
    expect(member.can('update', invoice({ createdById: ME }))).toBe(true);
    expect(member.can('update', invoice({ createdById: SOMEONE }))).toBe(false);
    expect(member.can('update', invoice({ createdById: ME, status: 'issued' }))).toBe(false);
    expect(member.can('delete', invoice({ createdById: ME, tenantId: OTHER }))).toBe(false);
  });

  it('viewers change nothing', () => {
    const viewer = sut('viewer');
    for (const action of ['create', 'update', 'delete'] as const) {
      expect(viewer.can(action, invoice({ createdById: ME }))).toBe(false);
      expect(viewer.can(action, subject('Membership', { tenantId: TENANT } as never))).toBe(false);
    }
  });

  it('only owners and admins manage memberships', () => {
    expect(sut('admin').can('update', subject('Membership', { tenantId: TENANT } as never))).toBe(true);
    expect(sut('member').can('update', subject('Membership', { tenantId: TENANT } as never))).toBe(false);
    expect(sut('owner').can('update', subject('Membership', { tenantId: OTHER } as never))).toBe(false);
  });

  it('denies by default: no rule, no access', () => {
    expect(sut('owner').can('manage', 'all')).toBe(false);
  });
});

describe('SUBJECT_NAMES', () => {
  // Evaluated inside the test (a fresh module instance), not only when the spec file loads, so the
  // list is checked as the module builds it.
  it('names every subject of the ability, each once', async () => {
    vi.resetModules();
    const { SUBJECT_NAMES } = await import('./ability.js');
    expect(new Set(SUBJECT_NAMES).size).toBe(SUBJECT_NAMES.length);
    expect([...SUBJECT_NAMES].sort()).toEqual(
      ['AuditEvent', 'Document', 'Export', 'Invitation', 'Invoice', 'InvoiceLine', 'JobQueue', 'Membership', 'MetricsScrapeCredential', 'Operator', 'PartnerApiKey', 'PartnerClient', 'PartnerSigningKey', 'PaymentEvent', 'PlatformAuditEvent', 'PlatformMetrics', 'PrivacyRequest', 'RefreshToken', 'SecurityBlock', 'Session', 'Tenant', 'Ticket', 'TicketComment', 'User', 'WebhookDelivery', 'WebhookEndpoint'].sort(),
    );
  });
});

import { subject } from '@casl/ability';
import { describe, expect, it } from 'vitest';
import type { MembershipRole } from '@benteng/database';
import { defineAbilityFor } from '../ability.js';

const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const OTHER = '0193b7a0-0000-7000-8000-00000000000b';
const ME = '0193b7a0-0000-7000-8000-0000000000a1';
const SOMEONE = '0193b7a0-0000-7000-8000-0000000000a2';

const sut = (role: MembershipRole) => defineAbilityFor(TENANT, { kind: 'user', userId: ME, role });
const document = (fields: Record<string, unknown>) => subject('Document', { tenantId: TENANT, uploadedById: SOMEONE, ticketId: null, ...fields } as never);

describe('document rules', () => {
  it.each(['owner', 'admin', 'member', 'viewer'] as const)('%s reads documents of its own tenant only', (role) => {
    expect(sut(role).can('read', 'Document')).toBe(true);
    expect(sut(role).can('read', document({}))).toBe(true);
    expect(sut(role).can('read', document({ tenantId: OTHER }))).toBe(false);
  });

  it('members and viewers read a ticket attachment only when they can see the ticket', () => {
    for (const role of ['member', 'viewer'] as const) {
      expect(sut(role).can('read', document({ ticketId: SOMEONE, ticket: { openedById: SOMEONE, assigneeId: null } }))).toBe(false);
      expect(sut(role).can('read', document({ ticketId: SOMEONE, ticket: { openedById: SOMEONE, assigneeId: ME } }))).toBe(true);
    }
    expect(sut('admin').can('read', document({ ticketId: SOMEONE, ticket: { openedById: SOMEONE, assigneeId: null } }))).toBe(true);
  });

  it('owners and admins upload and delete any document of their tenant, never of another', () => {
    for (const role of ['owner', 'admin'] as const) {
      expect(sut(role).can('create', document({ uploadedById: ME }))).toBe(true);
      expect(sut(role).can('delete', document({}))).toBe(true);
      expect(sut(role).can('delete', document({ tenantId: OTHER }))).toBe(false);
    }
  });

  it('members upload as themselves and delete only their own uploads', () => {
    const member = sut('member');
    expect(member.can('create', document({ uploadedById: ME }))).toBe(true);
    expect(member.can('create', document({ uploadedById: SOMEONE }))).toBe(false);
    expect(member.can('delete', document({ uploadedById: ME }))).toBe(true);
    expect(member.can('delete', document({}))).toBe(false);
  });

  it('viewers change nothing, and nobody updates a document', () => {
    for (const action of ['create', 'delete'] as const) expect(sut('viewer').can(action, document({ uploadedById: ME }))).toBe(false);
    for (const role of ['owner', 'admin', 'member', 'viewer'] as const) expect(sut(role).can('update', 'Document')).toBe(false);
  });
});

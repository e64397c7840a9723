import { describe, expect, it } from 'vitest';
import type { MembershipRole } from '@benteng/database';
import { defineAbilityFor } from './ability.js';
import { accessibleWhere } from './accessible.js';
import { PARTNER_SCOPES } from './principal.js';
import { visibleFields } from './visible-fields.js';

const T = '0193b7a0-0000-7000-8000-00000000000a';
const ME = '0193b7a0-0000-7000-8000-0000000000a1';
const SOMEONE = '0193b7a0-0000-7000-8000-0000000000a2';
const CLIENT = '0193b7a0-0000-7000-8000-0000000000c1';

const user = (role: MembershipRole) => ({ ability: defineAbilityFor(T, { kind: 'user', userId: ME, role }) });
const partner = { ability: defineAbilityFor(T, { kind: 'partner', clientId: CLIENT, scopes: [...PARTNER_SCOPES], tier: 'standard' }) };
const CONTACT = ['customerName', 'customerEmail', 'customerTaxId'] as const;
const EXPORT_DETAILS = ['filters', 'rowCount', 'byteSize', 'sha256', 'errorCode'] as const;
const invoice = { tenantId: T, createdById: SOMEONE, status: 'issued' as const };

describe('visibleFields (field rules of libs/authz/src/rules)', () => {
  it('hides the customer email and tax id of an invoice from viewers only', () => {
    for (const role of ['owner', 'admin', 'member'] as const) {
      expect(visibleFields(user(role), 'Invoice', { ...invoice }, CONTACT), `${role}`).toEqual([...CONTACT]);
      expect(visibleFields(user(role), 'Invoice', null, CONTACT), `${role}, any row`).toEqual([...CONTACT]);
    }
    expect(visibleFields(user('viewer'), 'Invoice', { ...invoice }, CONTACT)).toEqual(['customerName']);
    expect(visibleFields(user('viewer'), 'Invoice', null, CONTACT)).toEqual(['customerName']);
  });

  it('hides the customer tax id from partner clients, never the email', () => {
    expect(visibleFields(partner, 'Invoice', { ...invoice }, CONTACT)).toEqual(['customerName', 'customerEmail']);
  });

  it('shows nothing of a subject the ability cannot read', () => {
    const noInvoices = { ability: defineAbilityFor(T, { kind: 'partner', clientId: CLIENT, scopes: ['tickets:read'], tier: 'standard' }) };
    expect(visibleFields(noInvoices, 'Invoice', { ...invoice }, CONTACT)).toEqual([]);
  });

  it("gives the requester of an export its details, and owners and admins only the status of others' exports", () => {
    const own = { tenantId: T, requestedById: ME };
    const others = { tenantId: T, requestedById: SOMEONE };
    for (const role of ['owner', 'admin', 'member'] as const) expect(visibleFields(user(role), 'Export', { ...own }, EXPORT_DETAILS), `${role}`).toEqual([...EXPORT_DETAILS]);
    for (const role of ['owner', 'admin'] as const) {
      expect(visibleFields(user(role), 'Export', { ...others }, EXPORT_DETAILS), `${role}`).toEqual([]);
      expect(visibleFields(user(role), 'Export', { ...others }, ['status', 'createdAt']), `${role}`).toEqual(['status', 'createdAt']);
    }
  });

  it('keeps the order the fields are asked in', () => {
    expect(visibleFields(user('owner'), 'Invoice', { ...invoice }, ['customerTaxId', 'number', 'customerEmail'])).toEqual(['customerTaxId', 'number', 'customerEmail']);
  });

  it('does not change which rows are readable: the read conditions are those of rules without fields', () => {
    expect(accessibleWhere(user('viewer').ability, 'read', 'Invoice')).toEqual(accessibleWhere(user('owner').ability, 'read', 'Invoice'));
    expect(accessibleWhere(partner.ability, 'read', 'Invoice')).toEqual(accessibleWhere(user('owner').ability, 'read', 'Invoice'));
    expect(accessibleWhere(user('owner').ability, 'read', 'Export')).toEqual({ OR: [{ tenantId: T }, { tenantId: T, requestedById: ME }, { tenantId: T, requestedById: ME, type: 'subject_access' }] });
    expect(user('viewer').ability.can('read', 'Invoice')).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { defineAbilityFor, type Action } from '@benteng/authz';
import type { MembershipRole } from '@benteng/database';
import { InvoiceErrorCode } from './invoice.errors.js';
import { invoiceRefusal } from './invoice-refusal.js';
import type { InvoiceWithLines } from './invoice.types.js';

const TENANT = '0193b7a0-0000-7000-8000-0000000000a1';
const ME = '0193b7a0-0000-7000-8000-0000000000b1';
const SOMEONE = '0193b7a0-0000-7000-8000-0000000000b2';

const scopeOf = (role: MembershipRole) => ({ ability: defineAbilityFor(TENANT, { kind: 'user', userId: ME, role }) });
const invoice = (fields: Partial<InvoiceWithLines>) => ({ tenantId: TENANT, createdById: ME, status: 'draft', lines: [], ...fields }) as InvoiceWithLines;
const refusal = (role: MembershipRole, action: Action, fields: Partial<InvoiceWithLines>) => invoiceRefusal(scopeOf(role), action, invoice(fields))().code;

// The caller can see the invoice; the refusal says whether its status or their role is the problem.
describe('invoiceRefusal', () => {
  it('blames the status (409) when the role could do it to the invoice in another status', () => {
    expect(refusal('owner', 'update', { status: 'issued' })).toBe(InvoiceErrorCode.NotDraft);
    expect(refusal('member', 'delete', { status: 'issued' })).toBe(InvoiceErrorCode.NotDraft);
    expect(refusal('owner', 'pay', { status: 'draft' })).toBe(InvoiceErrorCode.WrongStatus);
    expect(refusal('admin', 'void', { status: 'paid' })).toBe(InvoiceErrorCode.WrongStatus);
  });

  it('blames the role (403) when no status would allow it', () => {
    expect(refusal('viewer', 'update', { status: 'draft' })).toBe(InvoiceErrorCode.Forbidden);
    expect(refusal('member', 'update', { createdById: SOMEONE })).toBe(InvoiceErrorCode.Forbidden);
    expect(refusal('member', 'pay', { status: 'issued' })).toBe(InvoiceErrorCode.Forbidden);
  });
});

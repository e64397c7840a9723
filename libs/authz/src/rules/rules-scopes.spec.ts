import { subject as as } from '@casl/ability';
import { describe, expect, it, vi } from 'vitest';
import type { MembershipRole } from '@benteng/database';
// Static edges to the modules read below, so `vitest related` (which Stryker uses to pick the specs
// of a mutated file) finds this spec; the tests themselves read fresh instances (see `fresh`).
import '../ability.js';
import './partner.rules.js';
import type { Action, AppAbility } from '../ability.js';
import type { PartnerScope } from '../principal.js';
import { visibleFields } from '../visible-fields.js';

/**
 * The scope table and the field lists of the rules, as the modules build them. They are module-level
 * constants (PARTNER_SCOPE_GRANTS, the export status fields, the invoice contact fields, the user
 * rule sets), evaluated once when a module loads; every test here loads the authz modules afresh
 * inside `it`, so that the values checked are the ones built under the test (a rule table built while
 * the spec file loads is never seen by mutation testing: docs/mutation.md, `ignoreStatic`).
 */

const T = '0193b7a0-0000-7000-8000-00000000000a';
const ME = '0193b7a0-0000-7000-8000-0000000000a1';
const SOMEONE = '0193b7a0-0000-7000-8000-0000000000a2';
const CLIENT = '0193b7a0-0000-7000-8000-0000000000c1';

const ACTIONS: readonly Action[] = ['manage', 'create', 'read', 'update', 'delete', 'issue', 'void', 'pay', 'assign', 'comment', 'download'];

/** Every column of an export row (prisma/schema.prisma, model Export). */
const EXPORT_COLUMNS = ['tenantId', 'id', 'type', 'format', 'filters', 'status', 'requestedById', 'rowCount', 'byteSize', 'sha256', 'errorCode', 'createdAt', 'startedAt', 'completedAt', 'expiresAt', 'version', 'requeues'] as const;
/** What owners and admins see of someone else's export: its status, never what was filtered, counted or stored. */
const EXPORT_STATUS = ['id', 'type', 'format', 'status', 'requestedById', 'createdAt', 'startedAt', 'completedAt', 'expiresAt', 'version'];

const INVOICE_FIELDS = ['id', 'number', 'status', 'customerName', 'customerEmail', 'customerTaxId', 'totalMinor', 'currency'] as const;

/** The authz modules loaded again, inside the calling test. */
async function fresh() {
  vi.resetModules();
  const [ability, partnerRules, principal] = await Promise.all([import('../ability.js'), import('./partner.rules.js'), import('../principal.js')]);
  return {
    SUBJECT_NAMES: ability.SUBJECT_NAMES,
    PARTNER_SCOPES: principal.PARTNER_SCOPES,
    PARTNER_SCOPE_GRANTS: partnerRules.PARTNER_SCOPE_GRANTS,
    user: (role: MembershipRole) => ({ ability: ability.defineAbilityFor(T, { kind: 'user', userId: ME, role }) }),
    partner: (scopes: PartnerScope[]) => ({ ability: ability.defineAbilityFor(T, { kind: 'partner', clientId: CLIENT, scopes, tier: 'standard' }) }),
  };
}

/** Every (action, subject) pair the ability grants on some row, as "action subject". */
function grantedPairs(ability: AppAbility, subjects: readonly string[]): string[] {
  return subjects.flatMap((subject) => ACTIONS.filter((action) => ability.can(action, subject as never)).map((action) => `${action} ${subject}`));
}

describe('partner scopes: PARTNER_SCOPE_GRANTS, the function-level view the OpenAPI document and route catalog read', () => {
  it('names exactly these (action, subject) pairs per scope', async () => {
    const { PARTNER_SCOPE_GRANTS } = await fresh();
    expect(PARTNER_SCOPE_GRANTS).toEqual({
      'invoices:read': [
        ['read', 'Invoice'],
        ['read', 'InvoiceLine'],
      ],
      'invoices:write': [
        ['create', 'Invoice'],
        ['create', 'InvoiceLine'],
      ],
      'tickets:read': [['read', 'Ticket']],
      'tickets:write': [['create', 'Ticket']],
      'documents:read': [['read', 'Document']],
    });
  });

  it('agrees with the rules: each scope alone grants exactly its listed pairs, no more, no fewer', async () => {
    const { PARTNER_SCOPES, PARTNER_SCOPE_GRANTS, SUBJECT_NAMES, partner } = await fresh();
    expect(Object.keys(PARTNER_SCOPE_GRANTS).sort()).toEqual([...PARTNER_SCOPES].sort());
    for (const scope of PARTNER_SCOPES) {
      const listed = PARTNER_SCOPE_GRANTS[scope].map(([action, subject]) => `${action} ${subject}`);
      expect(grantedPairs(partner([scope]).ability, SUBJECT_NAMES).sort(), `${scope}`).toEqual([...listed].sort());
    }
  });

  it('invoices:read hides the customer tax id of every invoice and shows the rest, the email included', async () => {
    const { partner } = await fresh();
    const reader = partner(['invoices:read']);
    const row = { tenantId: T, createdById: SOMEONE, status: 'issued' as const };
    expect(visibleFields(reader, 'Invoice', row, INVOICE_FIELDS)).toEqual(INVOICE_FIELDS.filter((field) => field !== 'customerTaxId'));
    expect(visibleFields(reader, 'Invoice', null, INVOICE_FIELDS)).toEqual(INVOICE_FIELDS.filter((field) => field !== 'customerTaxId'));
    expect(reader.ability.can('read', as('Invoice', { ...row } as never), 'customerTaxId')).toBe(false);
    expect(reader.ability.can('read', as('Invoice', { ...row } as never), 'customerEmail')).toBe(true);
  });
});

describe('field lists of the user rules', () => {
  it("owners and admins see exactly the status fields of someone else's export; the requester sees every column", async () => {
    const { user } = await fresh();
    const others = { tenantId: T, requestedById: SOMEONE, type: 'invoices' };
    const own = { tenantId: T, requestedById: ME, type: 'invoices' };
    for (const role of ['owner', 'admin'] as const) {
      expect(visibleFields(user(role), 'Export', { ...others }, EXPORT_COLUMNS), `${role}`).toEqual(EXPORT_STATUS);
      expect(visibleFields(user(role), 'Export', { ...own }, EXPORT_COLUMNS), `${role}`).toEqual([...EXPORT_COLUMNS]);
    }
    expect(visibleFields(user('member'), 'Export', { ...others }, EXPORT_COLUMNS)).toEqual([]);
    expect(visibleFields(user('member'), 'Export', { ...own }, EXPORT_COLUMNS)).toEqual([...EXPORT_COLUMNS]);
  });

  it("viewers see every invoice field but the customer's email and tax id; every other role sees them all", async () => {
    const { user } = await fresh();
    const row = { tenantId: T, createdById: SOMEONE, status: 'issued' as const };
    expect(visibleFields(user('viewer'), 'Invoice', row, INVOICE_FIELDS)).toEqual(['id', 'number', 'status', 'customerName', 'totalMinor', 'currency']);
    expect(visibleFields(user('viewer'), 'Invoice', null, INVOICE_FIELDS)).toEqual(['id', 'number', 'status', 'customerName', 'totalMinor', 'currency']);
    for (const role of ['owner', 'admin', 'member'] as const) expect(visibleFields(user(role), 'Invoice', row, INVOICE_FIELDS), `${role}`).toEqual([...INVOICE_FIELDS]);
  });
});

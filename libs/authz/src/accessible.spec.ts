import { describe, expect, it, vi } from 'vitest';
// Static imports (vi.mock is hoisted above them), so that tools reading the import graph (`vitest
// related`, which Stryker uses to pick the specs for a mutant of accessible.ts) see this spec.
import { defineAbilityFor } from './ability.js';
import { AccessConditionError, accessibleEqualities, accessibleWhere } from './accessible.js';

// What CASL's accessibleBy(...).ofType(...) hands back, per test: the fail-closed check must refuse
// every value that is not a condition object, since Prisma reads `undefined` as "no filter".
const produced = vi.hoisted(() => ({ value: undefined as unknown }));
vi.mock('@casl/prisma/runtime', async (importOriginal) => ({
  ...(await importOriginal<object>()),
  accessibleBy: () => ({ ofType: () => produced.value }),
}));

const ability = defineAbilityFor('0193b7a0-0000-7000-8000-00000000000a', { kind: 'user', userId: '0193b7a0-0000-7000-8000-0000000000a1', role: 'owner' });

describe('accessibleWhere fails closed', () => {
  it.each([
    ['undefined', undefined],
    ['null', null],
    ['a string', 'tenantId'],
    ['a number', 0],
    ['a boolean', true],
  ])('throws AccessConditionError when CASL yields %s instead of a condition object', (_, value) => {
    produced.value = value;
    let thrown: unknown;
    try {
      accessibleWhere(ability, 'read', 'Invoice');
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(AccessConditionError);
    expect((thrown as Error).name).toBe('AccessConditionError');
    expect((thrown as Error).message).toBe('CASL produced no condition object for read on Invoice');
  });

  it('returns a condition object as it is', () => {
    const where = { AND: [{ tenantId: 'x' }] };
    produced.value = where;
    expect(accessibleWhere(ability, 'read', 'Invoice')).toBe(where);
  });
});

// accessibleEqualities reads what accessibleWhere returns: every shape it cannot translate exactly
// must be `other` (the caller then filters with accessibleWhere), never `equal` with fewer values.
describe('accessibleEqualities: only exact equalities, everything else is `other`', () => {
  const COLUMNS = ['tenantId', 'createdByClientId', 'status'] as const;
  const read = (where: unknown) => {
    produced.value = where;
    return accessibleEqualities(ability, 'read', 'Invoice', COLUMNS);
  };

  it('no rule: none; one rule of equalities on the columns: equal, with exactly those values', () => {
    expect(read({ OR: [] })).toEqual({ kind: 'none' });
    expect(read({ OR: [{ tenantId: 't' }] })).toEqual({ kind: 'equal', values: { tenantId: 't' } });
    expect(read({ OR: [{ tenantId: 't', createdByClientId: 'c', status: 'draft' }] })).toEqual({ kind: 'equal', values: { tenantId: 't', createdByClientId: 'c', status: 'draft' } });
    expect(read({ OR: [{}] })).toEqual({ kind: 'equal', values: {} });
  });

  it.each([
    ['two rules', { OR: [{ tenantId: 't' }, { tenantId: 't', status: 'draft' }] }],
    ['a cannot with conditions beside the rule', { OR: [{ tenantId: 't' }], AND: [{ NOT: { status: 'void' } }] }],
    ['no OR at all', { tenantId: 't' }],
    ['an empty object', {}],
    ['an OR that is no list', { OR: { tenantId: 't' } }],
    ['a rule that is no object', { OR: ['t'] }],
    ['a rule that is null', { OR: [null] }],
    ['a rule that is a list', { OR: [['t']] }],
    ['a column not in the list', { OR: [{ tenantId: 't', createdById: 'u' }] }],
    ['an operator', { OR: [{ tenantId: 't', status: { in: ['draft', 'issued'] } }] }],
    ['a null (IS NULL, not "no condition")', { OR: [{ tenantId: 't', createdByClientId: null }] }],
    ['a relation', { OR: [{ tenantId: 't', status: { is: { x: 1 } } }] }],
  ])('other for %s', (_, where) => {
    expect(read(where)).toEqual({ kind: 'other' });
  });

  it('fails closed like accessibleWhere when CASL yields no condition object', () => {
    expect(() => read(undefined)).toThrow(AccessConditionError);
  });
});

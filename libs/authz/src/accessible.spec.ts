import { describe, expect, it, vi } from 'vitest';
// Static imports (vi.mock is hoisted above them), so that tools reading the import graph (`vitest
// related`, which Stryker uses to pick the specs for a mutant of accessible.ts) see this spec.
import { defineAbilityFor } from './ability.js';
import { AccessConditionError, accessibleWhere } from './accessible.js';

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

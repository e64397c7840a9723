import { describe, expect, it } from 'vitest';
import { defineAbilityFor, type Principal, type TenantAbilities } from '@benteng/authz';
import { Scope } from './scope.js';

const TENANT = '0193b7a0-0000-7000-8000-00000000000a';
const OWNER: Principal = { kind: 'user', userId: '0193b7a0-0000-7000-8000-0000000000a1', role: 'owner' };

describe('Scope.for', () => {
  it('binds tenant, principal and an ability built for that same tenant, and is frozen', () => {
    const sut = Scope.for(TENANT, OWNER);
    expect(sut.tenantId).toBe(TENANT);
    expect(sut.principal).toBe(OWNER);
    expect(sut.ability.rules).toEqual(defineAbilityFor(TENANT, OWNER).rules);
    expect(Object.isFrozen(sut)).toBe(true);
  });

  it('lower-cases the tenant id, for the Scope and for the rules alike', () => {
    const asked: string[] = [];
    const abilities: TenantAbilities = { forTenant: (tenantId, principal) => (asked.push(tenantId), defineAbilityFor(tenantId, principal)) };
    const sut = Scope.for(TENANT.toUpperCase(), OWNER, abilities);
    expect(sut.tenantId).toBe(TENANT);
    expect(asked).toEqual([TENANT]);
  });

  it('refuses anything but a whole UUID as the tenant id', () => {
    for (const bad of ['', 'not-a-uuid', `x${TENANT}`, `${TENANT}x`, TENANT.slice(1), TENANT.replace(/-/g, ''), `${TENANT}\n`]) {
      expect(() => Scope.for(bad, OWNER)).toThrow(new TypeError('Scope.for: tenantId must be a UUID'));
    }
  });
});

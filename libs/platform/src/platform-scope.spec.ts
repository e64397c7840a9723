import { describe, expect, it } from 'vitest';
import { definePlatformAbility, type OperatorPrincipal } from '@benteng/authz';
import { PlatformScope, type PlatformAbilities } from './platform-scope.js';

const OPERATOR: OperatorPrincipal = { kind: 'operator', operatorId: '0193b7a0-0000-7000-8000-0000000000c1', roles: ['security'], service: 'ops-cli' };
const REQUEST = { ip: '203.0.113.7', requestId: 'req-1', reason: 'incident 42' };

describe('PlatformScope.for', () => {
  it('binds the operator, the platform ability built from that operator, and the request; frozen', () => {
    const sut = PlatformScope.for(OPERATOR, REQUEST);
    expect(sut.principal).toBe(OPERATOR);
    expect(sut.ability.rules).toEqual(definePlatformAbility(OPERATOR).rules);
    expect(sut.request).toEqual(REQUEST);
    expect(sut.actor).toBe(`operator:${OPERATOR.operatorId}`);
    expect(sut.operatorId).toBe(OPERATOR.operatorId);
    expect(Object.isFrozen(sut)).toBe(true);
    expect(Object.isFrozen(sut.request)).toBe(true);
  });

  it('asks the given rule source, with this very operator', () => {
    const asked: OperatorPrincipal[] = [];
    const abilities: PlatformAbilities = { forPlatform: (principal) => (asked.push(principal), definePlatformAbility(principal)) };
    PlatformScope.for(OPERATOR, REQUEST, abilities);
    expect(asked).toEqual([OPERATOR]);
  });
});

import { describe, expect, it } from 'vitest';
import { principalId } from './principal.js';

const ID = '0193b7a0-0000-7000-8000-0000000000a1';

// Log lines and audit entries name the actor by this id; two kinds must never share one.
describe('principalId', () => {
  it('prefixes the id with the kind of principal, for every kind', () => {
    expect(principalId({ kind: 'user', userId: ID, role: 'member' })).toBe(`user:${ID}`);
    expect(principalId({ kind: 'partner', clientId: ID, scopes: [], tier: 'free' })).toBe(`partner:${ID}`);
    expect(principalId({ kind: 'system', name: 'jobs' })).toBe('system:jobs');
    expect(principalId({ kind: 'operator', operatorId: ID, roles: ['support'], service: 'ops-cli' })).toBe(`operator:${ID}`);
  });
});

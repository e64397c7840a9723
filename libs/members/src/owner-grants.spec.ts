import { describe, expect, it } from 'vitest';
import type { MembershipRole } from '@benteng/database';
import { Scope } from '@benteng/tenancy';
import { MemberErrorCode } from './member.errors.js';
import { assertMayGrant } from './owner-grants.js';

const TENANT = '0193b7a0-0000-7000-8000-000000000001';
const USER = '0193b7a0-0000-7000-8000-0000000000a1';
const as = (role: MembershipRole) => Scope.for(TENANT, { kind: 'user', userId: USER, role });
const codeOf = (grant: () => void): string | undefined => {
  try {
    grant();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
};

describe('assertMayGrant', () => {
  it('lets an owner grant every role, and an admin every role but owner', () => {
    for (const role of ['owner', 'admin', 'member', 'viewer'] as const) expect(codeOf(() => assertMayGrant(as('owner'), role))).toBeUndefined();
    for (const role of ['admin', 'member', 'viewer'] as const) expect(codeOf(() => assertMayGrant(as('admin'), role))).toBeUndefined();
    expect(codeOf(() => assertMayGrant(as('admin'), 'owner'))).toBe(MemberErrorCode.OwnerRequired);
  });

  it('refuses roles that may not manage members, and principals that are not users', () => {
    expect(codeOf(() => assertMayGrant(as('member'), 'viewer'))).toBe(MemberErrorCode.Forbidden);
    expect(codeOf(() => assertMayGrant(as('viewer'), 'viewer'))).toBe(MemberErrorCode.Forbidden);
    expect(codeOf(() => assertMayGrant(Scope.for(TENANT, { kind: 'system', name: 'invitations' }), 'member'))).toBe(MemberErrorCode.Forbidden);
  });
});

import { permits } from '@benteng/authz';
import type { MembershipRole } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { MemberError, MemberErrorCode } from './member.errors.js';

/**
 * Beyond the CASL rules: only a user who may manage members grants a role, and only an owner
 * grants, changes or removes the owner role. MembersRepository asks it inside the transaction that
 * read the member's current role.
 */
export function assertMayGrant(scope: Scope, role: MembershipRole): void {
  if (scope.principal.kind !== 'user') throw new MemberError(MemberErrorCode.Forbidden);
  if (!permits(scope, 'create', 'Membership', { tenantId: scope.tenantId })) throw new MemberError(MemberErrorCode.Forbidden);
  if (role === 'owner' && scope.principal.role !== 'owner') throw new MemberError(MemberErrorCode.OwnerRequired);
}

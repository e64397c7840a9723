import { Injectable } from '@nestjs/common';
import { RevocationStore, type RequestMeta } from '@benteng/auth';
import type { Keyset, MembershipRole } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { MemberView } from './member.types.js';
import { MembersRepository } from './members.repository.js';

/**
 * Tenant administration on /v1: who belongs to the tenant and with which role. Beyond the CASL
 * rules (only owners and admins manage members): an admin cannot grant, change or remove the
 * owner role; the last owner stays (both checked in MembersRepository, in the transaction that
 * reads the member's role: owner-grants.ts); a role change or removal ends the member's sessions
 * at once, here published to every instance once the change has committed.
 * Nobody is added here: a membership starts when an invitee accepts (InvitationsService, issue 14).
 */
@Injectable()
export class MembersService {
  constructor(
    private readonly members: MembersRepository,
    private readonly revocations: RevocationStore,
  ) {}

  /** One page of the tenant's members, oldest first (keyset on createdAt, id: stable under inserts). */
  list(scope: Scope, page: { limit: number; after?: Keyset }): Promise<MemberView[]> {
    return this.members.list(scope, page);
  }

  async changeRole(scope: Scope, membershipId: string, role: MembershipRole, meta: RequestMeta): Promise<MemberView> {
    const { member, sessions } = await this.members.changeRole(scope, membershipId, role, meta);
    await this.revocations.publish(sessions.map((id) => ({ kind: 'session' as const, id })));
    return member;
  }

  async remove(scope: Scope, membershipId: string, meta: RequestMeta): Promise<void> {
    const sessions = await this.members.remove(scope, membershipId, meta);
    await this.revocations.publish(sessions.map((id) => ({ kind: 'session' as const, id })));
  }
}

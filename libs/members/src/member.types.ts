import type { MembershipRole } from '@benteng/database';

/** A member as GET /v1/members lists it: the tenant-local membership id, never the global user id. */
export interface MemberView {
  id: string;
  email: string;
  displayName: string;
  role: MembershipRole;
  createdAt: Date;
}

import type { MembershipRole } from '@benteng/database';

export type InvitationStatus = 'pending' | 'accepted' | 'revoked' | 'expired';

export interface InvitationView {
  id: string;
  email: string;
  role: MembershipRole;
  displayName: string | null;
  status: InvitationStatus;
  createdAt: Date;
  expiresAt: Date;
  acceptedAt: Date | null;
  revokedAt: Date | null;
}

/** What accepting or registering answers: where the caller now belongs (no tenant id leaves). */
export interface AcceptedInvitation {
  tenant: { slug: string; name: string };
  role: MembershipRole;
  /** The new membership, by its tenant-local id (as GET /v1/members lists it). */
  memberId: string;
}

/** Pending (unexpired) invitations a tenant may hold at once: invitations are not a mailing list. */
export const MAX_PENDING_INVITATIONS = 100;
export const MAX_INVITATION_PAGE = 100;

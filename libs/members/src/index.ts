export { MembersModule } from './members.module.js';
export { MembersService } from './members.service.js';
export type { MemberView } from './member.types.js';
export { MemberError, MemberErrorCode } from './member.errors.js';
export { InvitationsService } from './invitations.service.js';
export { MAX_INVITATION_PAGE, MAX_PENDING_INVITATIONS, type AcceptedInvitation, type InvitationStatus, type InvitationView } from './invitation.types.js';
export { InvitationError, InvitationErrorCode } from './invitation.errors.js';
export { InvitationMailer, InvitationTokens, invitationTokenHash, NoInvitationMailer, type InvitationMessage } from './invitation-tokens.js';

export { MembersModule } from './members.module.js';
export { MembersService, type MemberView } from './members.service.js';
export { MemberError, MemberErrorCode } from './member.errors.js';
export { InvitationsService, MAX_INVITATION_PAGE, MAX_PENDING_INVITATIONS, type AcceptedInvitation, type InvitationStatus, type InvitationView } from './invitations.service.js';
export { InvitationError, InvitationErrorCode } from './invitation.errors.js';
export { InvitationMailer, InvitationTokens, invitationTokenHash, NoInvitationMailer, type InvitationMessage } from './invitation-tokens.js';

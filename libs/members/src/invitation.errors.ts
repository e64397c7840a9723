import { defineErrors } from '@benteng/common';

export enum InvitationErrorCode {
  NotFound = 'invitation.not_found',
  /**
   * Every refusal of a presented token that the presenter is not owed an explanation for: unknown,
   * malformed, spent, revoked, expired, another account's, a suspended tenant's. One answer, so the
   * token cannot be used to learn anything about the invitation or the tenant (no oracle).
   */
  Invalid = 'invitation.invalid',
  Forbidden = 'invitation.forbidden',
  OwnerRequired = 'invitation.owner_required',
  AlreadyMember = 'invitation.already_member',
  /** Registration refused: the invited email has an account, which accepts from its own session. */
  SignInRequired = 'invitation.sign_in_required',
  NotPending = 'invitation.not_pending',
  TooManyPending = 'invitation.too_many_pending',
}

export class InvitationError extends defineErrors<InvitationErrorCode>({
  [InvitationErrorCode.NotFound]: { kind: 'not_found', message: 'Invitation not found.' },
  [InvitationErrorCode.Invalid]: { kind: 'not_found', message: 'This invitation is not valid.' },
  [InvitationErrorCode.Forbidden]: { kind: 'forbidden', message: 'Your role does not allow managing invitations.' },
  [InvitationErrorCode.OwnerRequired]: { kind: 'forbidden', message: 'Only an owner can invite an owner.' },
  [InvitationErrorCode.AlreadyMember]: { kind: 'conflict', message: 'This person is already a member.' },
  [InvitationErrorCode.SignInRequired]: { kind: 'conflict', message: 'Sign in to your account and accept the invitation from there.' },
  [InvitationErrorCode.NotPending]: { kind: 'conflict', message: 'This invitation was already accepted.' },
  [InvitationErrorCode.TooManyPending]: { kind: 'conflict', message: 'Too many pending invitations: revoke some or wait for them to expire.' },
}) {}

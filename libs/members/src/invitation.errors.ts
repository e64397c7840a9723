import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

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

function describe(code: InvitationErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case InvitationErrorCode.NotFound:
      return { kind: 'not_found', message: 'Invitation not found.' };
    case InvitationErrorCode.Invalid:
      return { kind: 'not_found', message: 'This invitation is not valid.' };
    case InvitationErrorCode.Forbidden:
      return { kind: 'forbidden', message: 'Your role does not allow managing invitations.' };
    case InvitationErrorCode.OwnerRequired:
      return { kind: 'forbidden', message: 'Only an owner can invite an owner.' };
    case InvitationErrorCode.AlreadyMember:
      return { kind: 'conflict', message: 'This person is already a member.' };
    case InvitationErrorCode.SignInRequired:
      return { kind: 'conflict', message: 'Sign in to your account and accept the invitation from there.' };
    case InvitationErrorCode.NotPending:
      return { kind: 'conflict', message: 'This invitation was already accepted.' };
    case InvitationErrorCode.TooManyPending:
      return { kind: 'conflict', message: 'Too many pending invitations: revoke some or wait for them to expire.' };
    default:
      return assertUnreachable(code);
  }
}

export class InvitationError extends DomainError<InvitationErrorCode> {
  readonly kind: DomainErrorKind;

  constructor(code: InvitationErrorCode) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
  }
}

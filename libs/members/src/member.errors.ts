import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum MemberErrorCode {
  NotFound = 'member.not_found',
  Forbidden = 'member.forbidden',
  OwnerRequired = 'member.owner_required',
  LastOwner = 'member.last_owner',
}

function describe(code: MemberErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case MemberErrorCode.NotFound:
      return { kind: 'not_found', message: 'Member not found.' };
    case MemberErrorCode.Forbidden:
      return { kind: 'forbidden', message: 'Your role does not allow managing members.' };
    case MemberErrorCode.OwnerRequired:
      return { kind: 'forbidden', message: 'Only an owner can grant, change or remove the owner role.' };
    case MemberErrorCode.LastOwner:
      return { kind: 'conflict', message: 'A tenant keeps at least one owner.' };
    default:
      return assertUnreachable(code);
  }
}

export class MemberError extends DomainError<MemberErrorCode> {
  readonly kind: DomainErrorKind;

  constructor(code: MemberErrorCode) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
  }
}

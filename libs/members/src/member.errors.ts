import { defineErrors } from '@benteng/common';

export enum MemberErrorCode {
  NotFound = 'member.not_found',
  Forbidden = 'member.forbidden',
  OwnerRequired = 'member.owner_required',
  LastOwner = 'member.last_owner',
}

export class MemberError extends defineErrors<MemberErrorCode>({
  [MemberErrorCode.NotFound]: { kind: 'not_found', message: 'Member not found.' },
  [MemberErrorCode.Forbidden]: { kind: 'forbidden', message: 'Your role does not allow managing members.' },
  [MemberErrorCode.OwnerRequired]: { kind: 'forbidden', message: 'Only an owner can grant, change or remove the owner role.' },
  [MemberErrorCode.LastOwner]: { kind: 'conflict', message: 'A tenant keeps at least one owner.' },
}) {}

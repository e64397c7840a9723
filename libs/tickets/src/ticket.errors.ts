import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum TicketErrorCode {
  NotFound = 'ticket.not_found',
  Forbidden = 'ticket.forbidden',
  AssigneeNotMember = 'ticket.assignee_not_member',
  VersionMismatch = 'ticket.version_mismatch',
}

function describe(code: TicketErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case TicketErrorCode.NotFound:
      return { kind: 'not_found', message: 'Ticket not found.' };
    case TicketErrorCode.Forbidden:
      return { kind: 'forbidden', message: 'Your role does not allow this action on tickets.' };
    case TicketErrorCode.AssigneeNotMember:
      return { kind: 'invalid', message: 'The assignee must be a member of this tenant.' };
    case TicketErrorCode.VersionMismatch:
      return { kind: 'precondition_failed', message: 'The ticket has changed since you read it. Fetch it again and retry.' };
    default:
      return assertUnreachable(code);
  }
}

export class TicketError extends DomainError<TicketErrorCode> {
  readonly kind: DomainErrorKind;

  constructor(code: TicketErrorCode) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
  }
}

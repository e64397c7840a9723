import { defineErrors } from '@benteng/common';

export enum TicketErrorCode {
  NotFound = 'ticket.not_found',
  Forbidden = 'ticket.forbidden',
  AssigneeNotMember = 'ticket.assignee_not_member',
  VersionMismatch = 'ticket.version_mismatch',
}

export class TicketError extends defineErrors<TicketErrorCode>({
  [TicketErrorCode.NotFound]: { kind: 'not_found', message: 'Ticket not found.' },
  [TicketErrorCode.Forbidden]: { kind: 'forbidden', message: 'Your role does not allow this action on tickets.' },
  [TicketErrorCode.AssigneeNotMember]: { kind: 'invalid', message: 'The assignee must be a member of this tenant.' },
  [TicketErrorCode.VersionMismatch]: { kind: 'precondition_failed', message: 'The ticket has changed since you read it. Fetch it again and retry.' },
}) {}

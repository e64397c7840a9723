import type { DomainEventInput } from '@benteng/database';
import type { TicketView } from './ticket.types.js';

export type TicketEventType = 'ticket.created' | 'ticket.updated';

/** What webhook subscribers learn: ids, status and priority; never the ticket's text. */
export function ticketEvent(type: TicketEventType, ticket: TicketView, changed: string[] = []): DomainEventInput {
  return {
    type,
    subjectType: 'ticket',
    subjectId: ticket.id,
    payload: { id: ticket.id, status: ticket.status, priority: ticket.priority, assigned: ticket.assigneeId !== null, changed },
  };
}

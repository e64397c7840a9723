import type { TicketView } from '@benteng/tickets';

/**
 * The partner shape of a ticket: what the client asked and where it stands. No opener or assignee
 * (people are the tenant's business, not the partner's), no comments (internal discussion).
 */
export interface PartnerTicketResponse {
  id: string;
  subject: string;
  body: string;
  status: string;
  priority: string;
  openedByThisClient: boolean;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export function partnerTicketResponse(ticket: TicketView, clientId: string): PartnerTicketResponse {
  return {
    id: ticket.id,
    subject: ticket.subject,
    body: ticket.body,
    status: ticket.status,
    priority: ticket.priority,
    openedByThisClient: ticket.openedByClientId === clientId,
    createdAt: ticket.createdAt.toISOString(),
    updatedAt: ticket.updatedAt.toISOString(),
    version: ticket.version,
  };
}

import type { TicketView } from '@benteng/tickets';
import { ticketContent, type TicketContent } from '../public/ticket.response.js';

/**
 * The partner shape of a ticket: what the client asked and where it stands. No opener or assignee
 * (people are the tenant's business, not the partner's), no comments (internal discussion).
 */
export interface PartnerTicketResponse extends TicketContent {
  openedByThisClient: boolean;
  createdAt: string;
  updatedAt: string;
  version: number;
}

export function partnerTicketResponse(ticket: TicketView, clientId: string): PartnerTicketResponse {
  return {
    ...ticketContent(ticket),
    openedByThisClient: ticket.openedByClientId === clientId,
    createdAt: ticket.createdAt.toISOString(),
    updatedAt: ticket.updatedAt.toISOString(),
    version: ticket.version,
  };
}

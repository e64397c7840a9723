import type { Keyset, Ticket, TicketPriority, TicketStatus } from '@benteng/database';

export const TICKET_SORTS = ['createdAt', '-createdAt', 'updatedAt', '-updatedAt'] as const;
export type TicketSort = (typeof TICKET_SORTS)[number];

export interface TicketListQuery {
  status?: TicketStatus;
  priority?: TicketPriority;
  /** Only tickets assigned to the caller. */
  assignedToMe?: boolean;
  after?: Keyset;
  limit: number;
  sort?: TicketSort;
}

export interface TicketView extends Ticket {
  assignee: { id: string; displayName: string | null; user: { displayName: string } } | null;
}

export interface CommentView {
  id: string;
  body: string;
  authorId: string;
  authorName: string;
  createdAt: Date;
}

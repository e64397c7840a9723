import type { CommentView, TicketView } from '@benteng/tickets';

/** The public shape of a ticket: named fields only; people appear by tenant-local member id. */
export interface TicketResponse extends TicketContent {
  openedByMe: boolean;
  assignee: { memberId: string; displayName: string } | null;
  assignedToMe: boolean;
  createdAt: string;
  updatedAt: string;
  version: number;
}

/** What a ticket shows on every surface (public and partner), in this order. */
export interface TicketContent {
  id: string;
  subject: string;
  body: string;
  status: string;
  priority: string;
}

export function ticketContent(ticket: TicketView): TicketContent {
  return { id: ticket.id, subject: ticket.subject, body: ticket.body, status: ticket.status, priority: ticket.priority };
}

export function ticketResponse(ticket: TicketView, viewerUserId: string): TicketResponse {
  return {
    ...ticketContent(ticket),
    openedByMe: ticket.openedById === viewerUserId,
    assignee: ticket.assignee ? { memberId: ticket.assignee.id, displayName: ticket.assignee.displayName ?? ticket.assignee.user.displayName } : null,
    assignedToMe: ticket.assigneeId === viewerUserId,
    createdAt: ticket.createdAt.toISOString(),
    updatedAt: ticket.updatedAt.toISOString(),
    version: ticket.version,
  };
}

export interface CommentResponse {
  id: string;
  body: string;
  author: { displayName: string };
  byMe: boolean;
  createdAt: string;
}

export function commentResponse(comment: CommentView, viewerUserId: string): CommentResponse {
  return { id: comment.id, body: comment.body, author: { displayName: comment.authorName }, byMe: comment.authorId === viewerUserId, createdAt: comment.createdAt.toISOString() };
}

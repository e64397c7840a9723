export { TicketsModule } from './tickets.module.js';
export { MAX_SEARCH_RESULTS, MAX_TICKET_PAGE, TicketsService } from './tickets.service.js';
export { TicketsRepository } from './tickets.repository.js';
export { TicketError, TicketErrorCode } from './ticket.errors.js';
export { ticketEvent, type TicketEventType } from './ticket.events.js';
export { TICKET_SORTS, type CommentView, type TicketListQuery, type TicketSort, type TicketView } from './ticket.types.js';

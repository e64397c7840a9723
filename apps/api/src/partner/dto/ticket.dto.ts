import type { TicketSort } from '@benteng/tickets';
import { PageQuery } from '../../http/dto/page.dto.js';
import { TICKET_PRIORITIES, TICKET_STATUSES, TicketBody, TicketPriority, TicketSortOrder, TicketStatus, TicketSubject } from '../../http/dto/ticket.dto.js';

/** POST /partner/v1/tickets: the fields of /v1's OpenTicketDto, under the partner document's own schema name. */
export class PartnerOpenTicketDto {
  @TicketSubject()
  subject!: string;

  @TicketBody()
  body!: string;

  @TicketPriority()
  priority?: (typeof TICKET_PRIORITIES)[number];
}

/** No `assignedToMe`: a partner client is never an assignee. */
export class PartnerListTicketsQuery extends PageQuery {
  @TicketStatus()
  status?: (typeof TICKET_STATUSES)[number];

  @TicketPriority()
  priority?: (typeof TICKET_PRIORITIES)[number];

  @TicketSortOrder()
  sort?: TicketSort;
}

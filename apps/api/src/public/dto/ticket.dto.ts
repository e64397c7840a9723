import { Transform } from 'class-transformer';
import { IsBoolean, IsOptional, IsString, IsUUID, MaxLength, MinLength, ValidateIf } from 'class-validator';
import type { TicketSort } from '@benteng/tickets';
import { PageQuery } from '../../http/dto/page.dto.js';
import { OptionalTicketSubject, TICKET_PRIORITIES, TICKET_STATUSES, TicketBody, TicketPriority, TicketSortOrder, TicketStatus, TicketSubject } from '../../http/dto/ticket.dto.js';

type TicketStatusValue = (typeof TICKET_STATUSES)[number];
type TicketPriorityValue = (typeof TICKET_PRIORITIES)[number];

export class OpenTicketDto {
  @TicketSubject()
  subject!: string;

  @TicketBody()
  body!: string;

  @TicketPriority()
  priority?: TicketPriorityValue;
}

export class UpdateTicketDto {
  @TicketStatus()
  status?: TicketStatusValue;

  @TicketPriority()
  priority?: TicketPriorityValue;

  @OptionalTicketSubject()
  subject?: string;
}

export class AssignTicketDto {
  /** A membership id from GET /v1/members, or null to unassign. */
  @ValidateIf((_, value) => value !== null)
  @IsUUID()
  memberId!: string | null;
}

export class CommentDto {
  @IsString()
  @MinLength(1)
  @MaxLength(5_000)
  body!: string;
}

export class ListTicketsQuery extends PageQuery {
  @TicketStatus()
  status?: TicketStatusValue;

  @TicketPriority()
  priority?: TicketPriorityValue;

  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  assignedToMe?: boolean;

  @TicketSortOrder()
  sort?: TicketSort;
}

export class SearchTicketsQuery {
  @IsString()
  @MinLength(2)
  @MaxLength(100)
  q!: string;
}

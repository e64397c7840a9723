import { IsIn, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { TICKET_SORTS, type TicketSort } from '@benteng/tickets';
import { PageQuery } from '../../public/dto/page.dto.js';

const STATUSES = ['open', 'in_progress', 'resolved', 'closed'] as const;
const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;

export class PartnerOpenTicketDto {
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  subject!: string;

  @IsString()
  @MinLength(1)
  @MaxLength(10_000)
  body!: string;

  @IsOptional()
  @IsIn(PRIORITIES)
  priority?: (typeof PRIORITIES)[number];
}

/** No `assignedToMe`: a partner client is never an assignee. */
export class PartnerListTicketsQuery extends PageQuery {
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];

  @IsOptional()
  @IsIn(PRIORITIES)
  priority?: (typeof PRIORITIES)[number];

  @IsOptional()
  @IsIn(TICKET_SORTS)
  sort?: TicketSort;
}

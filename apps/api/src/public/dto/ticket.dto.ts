import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsOptional, IsString, IsUUID, MaxLength, MinLength, ValidateIf } from 'class-validator';
import { TICKET_SORTS, type TicketSort } from '@benteng/tickets';
import { PageQuery } from './page.dto.js';

const STATUSES = ['open', 'in_progress', 'resolved', 'closed'] as const;
const PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;

export class OpenTicketDto {
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

export class UpdateTicketDto {
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];

  @IsOptional()
  @IsIn(PRIORITIES)
  priority?: (typeof PRIORITIES)[number];

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
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
  @IsOptional()
  @IsIn(STATUSES)
  status?: (typeof STATUSES)[number];

  @IsOptional()
  @IsIn(PRIORITIES)
  priority?: (typeof PRIORITIES)[number];

  @IsOptional()
  @Transform(({ value }) => (value === 'true' ? true : value === 'false' ? false : value))
  @IsBoolean()
  assignedToMe?: boolean;

  @IsOptional()
  @IsIn(TICKET_SORTS)
  sort?: TicketSort;
}

export class SearchTicketsQuery {
  @IsString()
  @MinLength(2)
  @MaxLength(100)
  q!: string;
}

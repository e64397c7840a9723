import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, IsUUID, Matches, Max, MaxLength, Min, MinLength, ValidateIf } from 'class-validator';
import { TICKET_SORTS, type TicketSort } from '@benteng/tickets';

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

export class ListTicketsQuery {
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100)
  limit?: number;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_-]{1,256}$/)
  cursor?: string;

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

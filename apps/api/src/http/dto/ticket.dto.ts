import { IsIn, IsOptional, IsString, MaxLength, MinLength } from 'class-validator';
import { TICKET_SORTS } from '@benteng/tickets';
import { Rules } from './field-rules.js';

/**
 * The ticket fields as every surface accepts them (/v1: apps/api/src/public/dto/ticket.dto.ts,
 * /partner/v1: apps/api/src/partner/dto/ticket.dto.ts).
 */

export const TICKET_STATUSES = ['open', 'in_progress', 'resolved', 'closed'] as const;
export const TICKET_PRIORITIES = ['low', 'normal', 'high', 'urgent'] as const;

const subject = () => [IsString(), MinLength(1), MaxLength(200)];
export const TicketSubject = () => Rules(...subject());
export const OptionalTicketSubject = () => Rules(IsOptional(), ...subject());
export const TicketBody = () => Rules(IsString(), MinLength(1), MaxLength(10_000));
export const TicketStatus = () => Rules(IsOptional(), IsIn(TICKET_STATUSES));
export const TicketPriority = () => Rules(IsOptional(), IsIn(TICKET_PRIORITIES));
export const TicketSortOrder = () => Rules(IsOptional(), IsIn(TICKET_SORTS));

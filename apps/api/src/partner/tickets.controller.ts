import { Body, Controller, Get, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedPartner } from '@benteng/auth';
import { TicketsService } from '@benteng/tickets';
import type { Scope } from '@benteng/tenancy';
import { PartnerAuthorize } from '../http/access.decorator.js';
import { Idempotent } from '../http/idempotency.js';
import { decodeCursor, etag, nextCursor, parseSort } from '../http/pagination.js';
import { CurrentPartner, CurrentScope } from '../http/request-auth.js';
import { PartnerListTicketsQuery, PartnerOpenTicketDto } from './dto/ticket.dto.js';
import { partnerTicketResponse, type PartnerTicketResponse } from './ticket.response.js';

const DEFAULT_PAGE = 20;

/**
 * Tickets for partner clients: tickets:write opens them, tickets:read reads them. A client sees
 * only the tickets it opened itself (partner rules), so another client's ticket is a 404.
 */
@Controller('partner/v1/tickets')
export class PartnerTicketsController {
  constructor(private readonly tickets: TicketsService) {}

  @Get()
  @PartnerAuthorize('read', 'Ticket')
  async list(
    @CurrentScope() scope: Scope,
    @CurrentPartner() partner: AuthenticatedPartner,
    @Query() query: PartnerListTicketsQuery,
  ): Promise<{ items: PartnerTicketResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const { field } = parseSort(query.sort ?? '-createdAt');
    const items = await this.tickets.list(scope, {
      limit,
      ...(query.status ? { status: query.status } : {}),
      ...(query.priority ? { priority: query.priority } : {}),
      ...(query.sort ? { sort: query.sort } : {}),
      ...(query.cursor ? { after: decodeCursor(query.cursor, field) } : {}),
    });
    return { items: items.map((t) => partnerTicketResponse(t, partner.clientId)), nextCursor: nextCursor(items, limit, field) };
  }

  @Post()
  @PartnerAuthorize('create', 'Ticket')
  @Idempotent()
  async open(
    @CurrentScope() scope: Scope,
    @CurrentPartner() partner: AuthenticatedPartner,
    @Body() body: PartnerOpenTicketDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerTicketResponse> {
    const ticket = await this.tickets.open(scope, body);
    reply.header('etag', etag(ticket.version)).header('location', `/partner/v1/tickets/${ticket.id}`);
    return partnerTicketResponse(ticket, partner.clientId);
  }

  @Get(':id')
  @PartnerAuthorize('read', 'Ticket')
  async get(
    @CurrentScope() scope: Scope,
    @CurrentPartner() partner: AuthenticatedPartner,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<PartnerTicketResponse> {
    const ticket = await this.tickets.get(scope, id);
    reply.header('etag', etag(ticket.version));
    return partnerTicketResponse(ticket, partner.clientId);
  }
}

import { Body, Controller, Get, Param, ParseUUIDPipe, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { VerifiedPartnerCredential } from '@benteng/auth';
import { TicketsService, type TicketView } from '@benteng/tickets';
import type { Scope } from '@benteng/tenancy';
import { PartnerAuthorize } from '../http/access.decorator.js';
import { answerInTransaction, Idempotent } from '../http/idempotency.js';
import { paginate, sortField, type Page } from '../http/pagination.js';
import { CurrentPartner, CurrentScope } from '../http/request-auth.js';
import { created, withEtag } from '../http/resource-headers.js';
import { PartnerListTicketsQuery, PartnerOpenTicketDto } from './dto/ticket.dto.js';
import { partnerTicketResponse, type PartnerTicketResponse } from './ticket.response.js';

/**
 * Tickets for partner clients: tickets:write opens them, tickets:read reads them. A client sees
 * only the tickets it opened itself (partner rules), so another client's ticket is a 404.
 */
@Controller('partner/v1/tickets')
export class PartnerTicketsController {
  constructor(private readonly tickets: TicketsService) {}

  @Get()
  @PartnerAuthorize('read', 'Ticket')
  list(@CurrentScope() scope: Scope, @CurrentPartner() partner: VerifiedPartnerCredential, @Query() query: PartnerListTicketsQuery): Promise<Page<PartnerTicketResponse>> {
    const filters = { ...(query.status ? { status: query.status } : {}), ...(query.priority ? { priority: query.priority } : {}), ...(query.sort ? { sort: query.sort } : {}) };
    return paginate(query, sortField(query.sort), (page) => this.tickets.list(scope, { ...page, ...filters }), (t) => partnerTicketResponse(t, partner.clientId));
  }

  @Post()
  @PartnerAuthorize('create', 'Ticket')
  @Idempotent()
  async open(@CurrentScope() scope: Scope, @CurrentPartner() partner: VerifiedPartnerCredential, @Body() body: PartnerOpenTicketDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<PartnerTicketResponse> {
    const render = (t: TicketView) => partnerTicketResponse(created(reply, '/partner/v1/tickets', withEtag(reply, t)), partner.clientId);
    return render(await this.tickets.open(scope, body, answerInTransaction(reply, render)));
  }

  @Get(':id')
  @PartnerAuthorize('read', 'Ticket')
  async get(@CurrentScope() scope: Scope, @CurrentPartner() partner: VerifiedPartnerCredential, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<PartnerTicketResponse> {
    return partnerTicketResponse(withEtag(reply, await this.tickets.get(scope, id)), partner.clientId);
  }
}

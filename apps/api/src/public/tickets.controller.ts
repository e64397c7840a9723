import { Body, Controller, Get, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { VerifiedUserToken } from '@benteng/auth';
import { TicketError, TicketErrorCode, TicketsService, type CommentView, type TicketView } from '@benteng/tickets';
import type { Scope } from '@benteng/tenancy';
import { Authorize, RateLimit } from '../http/access.decorator.js';
import { ValidationProblem } from '../http/problem.js';
import { answerInTransaction, Idempotent } from '../http/idempotency.js';
import { paginate, sortField, type Page } from '../http/pagination.js';
import { CurrentScope, CurrentUser } from '../http/request-auth.js';
import { created, IfMatch, parseIfMatch, withEtag } from '../http/resource-headers.js';
import { AssignTicketDto, CommentDto, ListTicketsQuery, OpenTicketDto, SearchTicketsQuery, UpdateTicketDto } from './dto/ticket.dto.js';
import { commentResponse, ticketResponse, type CommentResponse, type TicketResponse } from './ticket.response.js';

const expectedVersion = (ifMatch: string | undefined) => parseIfMatch(ifMatch, () => new TicketError(TicketErrorCode.VersionMismatch));

@Controller('v1/tickets')
export class TicketsController {
  constructor(private readonly tickets: TicketsService) {}

  @Get()
  @Authorize('read', 'Ticket')
  list(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Query() query: ListTicketsQuery): Promise<Page<TicketResponse>> {
    const filters = {
      ...(query.status ? { status: query.status } : {}),
      ...(query.priority ? { priority: query.priority } : {}),
      ...(query.assignedToMe ? { assignedToMe: true } : {}),
      ...(query.sort ? { sort: query.sort } : {}),
    };
    return paginate(query, sortField(query.sort), (page) => this.tickets.list(scope, { ...page, ...filters }), (t) => ticketResponse(t, user.userId));
  }

  /** Separate from list and writes: its own, cheaper rate-limit class (search). */
  @Get('search')
  @Authorize('read', 'Ticket')
  @RateLimit('search')
  async search(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Query() query: SearchTicketsQuery): Promise<{ items: TicketResponse[] }> {
    return { items: (await this.tickets.search(scope, query.q)).map((t) => ticketResponse(t, user.userId)) };
  }

  @Post()
  @Authorize('create', 'Ticket')
  @Idempotent()
  async open(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Body() body: OpenTicketDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<TicketResponse> {
    const render = (t: TicketView) => ticketResponse(withEtag(reply, created(reply, '/v1/tickets', t)), user.userId);
    return render(await this.tickets.open(scope, body, answerInTransaction(reply, render)));
  }

  @Get(':id')
  @Authorize('read', 'Ticket')
  async get(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<TicketResponse> {
    return ticketResponse(withEtag(reply, await this.tickets.get(scope, id)), user.userId);
  }

  @Patch(':id')
  @Authorize('update', 'Ticket')
  async update(
    @CurrentScope() scope: Scope,
    @CurrentUser() user: VerifiedUserToken,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdateTicketDto,
    @IfMatch() ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TicketResponse> {
    const patch = { ...(body.status ? { status: body.status } : {}), ...(body.priority ? { priority: body.priority } : {}), ...(body.subject ? { subject: body.subject } : {}) };
    // An empty change would still bump the version and announce an update: refuse it.
    if (Object.keys(patch).length === 0) throw new ValidationProblem([{ pointer: '', rules: ['minProperties'] }]);
    return ticketResponse(withEtag(reply, await this.tickets.update(scope, id, patch, expectedVersion(ifMatch))), user.userId);
  }

  @Post(':id/assign')
  @HttpCode(200)
  @Authorize('assign', 'Ticket')
  async assign(
    @CurrentScope() scope: Scope,
    @CurrentUser() user: VerifiedUserToken,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: AssignTicketDto,
    @IfMatch() ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TicketResponse> {
    return ticketResponse(withEtag(reply, await this.tickets.assign(scope, id, body.memberId, expectedVersion(ifMatch))), user.userId);
  }

  @Get(':id/comments')
  @Authorize('read', 'TicketComment')
  async comments(@CurrentScope() scope: Scope, @CurrentUser() user: VerifiedUserToken, @Param('id', new ParseUUIDPipe()) id: string): Promise<{ items: CommentResponse[] }> {
    return { items: (await this.tickets.comments(scope, id)).map((c) => commentResponse(c, user.userId)) };
  }

  @Post(':id/comments')
  @Authorize('comment', 'Ticket')
  @Idempotent()
  async comment(
    @CurrentScope() scope: Scope,
    @CurrentUser() user: VerifiedUserToken,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: CommentDto,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<CommentResponse> {
    const render = (c: CommentView) => commentResponse(c, user.userId);
    return render(await this.tickets.comment(scope, id, body.body, answerInTransaction(reply, render)));
  }
}

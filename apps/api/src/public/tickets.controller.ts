import { Body, Controller, Get, Headers, HttpCode, Param, ParseUUIDPipe, Patch, Post, Query, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import type { AuthenticatedUser } from '@benteng/auth';
import { TicketError, TicketErrorCode, TicketsService, type TicketView } from '@benteng/tickets';
import type { Scope } from '@benteng/tenancy';
import { Authorize, RateLimit } from '../http/access.decorator.js';
import { ValidationProblem } from '../http/problem.js';
import { Idempotent } from '../http/idempotency.js';
import { decodeCursor, etag, nextCursor, parseIfMatch, parseSort } from '../http/pagination.js';
import { CurrentScope, CurrentUser } from '../http/request-auth.js';
import { AssignTicketDto, CommentDto, ListTicketsQuery, OpenTicketDto, SearchTicketsQuery, UpdateTicketDto } from './dto/ticket.dto.js';
import { commentResponse, ticketResponse, type CommentResponse, type TicketResponse } from './ticket.response.js';

const DEFAULT_PAGE = 20;
const mismatch = () => new TicketError(TicketErrorCode.VersionMismatch);

@Controller('v1/tickets')
export class TicketsController {
  constructor(private readonly tickets: TicketsService) {}

  @Get()
  @Authorize('read', 'Ticket')
  async list(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Query() query: ListTicketsQuery): Promise<{ items: TicketResponse[]; nextCursor: string | null }> {
    const limit = query.limit ?? DEFAULT_PAGE;
    const { field } = parseSort(query.sort ?? '-createdAt');
    const items = await this.tickets.list(scope, {
      limit,
      ...(query.status ? { status: query.status } : {}),
      ...(query.priority ? { priority: query.priority } : {}),
      ...(query.assignedToMe ? { assignedToMe: true } : {}),
      ...(query.sort ? { sort: query.sort } : {}),
      ...(query.cursor ? { after: decodeCursor(query.cursor, field) } : {}),
    });
    return { items: items.map((t) => ticketResponse(t, user.userId)), nextCursor: nextCursor(items, limit, field) };
  }

  /** Separate from list and writes: its own, cheaper rate-limit class (search). */
  @Get('search')
  @Authorize('read', 'Ticket')
  @RateLimit('search')
  async search(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Query() query: SearchTicketsQuery): Promise<{ items: TicketResponse[] }> {
    return { items: (await this.tickets.search(scope, query.q)).map((t) => ticketResponse(t, user.userId)) };
  }

  @Post()
  @Authorize('create', 'Ticket')
  @Idempotent()
  async open(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Body() body: OpenTicketDto, @Res({ passthrough: true }) reply: FastifyReply): Promise<TicketResponse> {
    const ticket = await this.tickets.open(scope, body);
    return this.respond(ticket, user, reply.header('location', `/v1/tickets/${ticket.id}`));
  }

  @Get(':id')
  @Authorize('read', 'Ticket')
  async get(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string, @Res({ passthrough: true }) reply: FastifyReply): Promise<TicketResponse> {
    return this.respond(await this.tickets.get(scope, id), user, reply);
  }

  @Patch(':id')
  @Authorize('update', 'Ticket')
  async update(
    @CurrentScope() scope: Scope,
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: UpdateTicketDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TicketResponse> {
    const patch = { ...(body.status ? { status: body.status } : {}), ...(body.priority ? { priority: body.priority } : {}), ...(body.subject ? { subject: body.subject } : {}) };
    // An empty change would still bump the version and announce an update: refuse it.
    if (Object.keys(patch).length === 0) throw new ValidationProblem([{ pointer: '', rules: ['minProperties'] }]);
    return this.respond(await this.tickets.update(scope, id, patch, parseIfMatch(ifMatch, mismatch)), user, reply);
  }

  @Post(':id/assign')
  @HttpCode(200)
  @Authorize('assign', 'Ticket')
  async assign(
    @CurrentScope() scope: Scope,
    @CurrentUser() user: AuthenticatedUser,
    @Param('id', new ParseUUIDPipe()) id: string,
    @Body() body: AssignTicketDto,
    @Headers('if-match') ifMatch: string | undefined,
    @Res({ passthrough: true }) reply: FastifyReply,
  ): Promise<TicketResponse> {
    return this.respond(await this.tickets.assign(scope, id, body.memberId, parseIfMatch(ifMatch, mismatch)), user, reply);
  }

  @Get(':id/comments')
  @Authorize('read', 'TicketComment')
  async comments(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string): Promise<{ items: CommentResponse[] }> {
    return { items: (await this.tickets.comments(scope, id)).map((c) => commentResponse(c, user.userId)) };
  }

  @Post(':id/comments')
  @Authorize('comment', 'Ticket')
  @Idempotent()
  async comment(@CurrentScope() scope: Scope, @CurrentUser() user: AuthenticatedUser, @Param('id', new ParseUUIDPipe()) id: string, @Body() body: CommentDto): Promise<CommentResponse> {
    return commentResponse(await this.tickets.comment(scope, id, body.body), user.userId);
  }

  private respond(ticket: TicketView, user: AuthenticatedUser, reply: FastifyReply): TicketResponse {
    reply.header('etag', etag(ticket.version));
    return ticketResponse(ticket, user.userId);
  }
}

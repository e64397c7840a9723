import { Injectable } from '@nestjs/common';
import { authorize, recordedBy } from '@benteng/authz';
import { Clock } from '@benteng/common';
import type { InTransaction, TicketPriority, TicketStatus } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { TicketError, TicketErrorCode } from './ticket.errors.js';
import type { CommentView, TicketListQuery, TicketView } from './ticket.types.js';
import { TicketsRepository } from './tickets.repository.js';

export const MAX_TICKET_PAGE = 100;
export const MAX_SEARCH_RESULTS = 20;

const forbidden = () => new TicketError(TicketErrorCode.Forbidden);

/**
 * Tickets and comments: page sizes, who a ticket is opened by, who may comment, and "not found"
 * for a ticket the scope cannot read. The queries and the object-level checks of writes are in
 * TicketsRepository.
 */
@Injectable()
export class TicketsService {
  constructor(
    private readonly tickets: TicketsRepository,
    private readonly clock: Clock,
  ) {}

  list(scope: Scope, query: TicketListQuery): Promise<TicketView[]> {
    return this.tickets.list(scope, { ...query, limit: Math.min(Math.max(query.limit, 1), MAX_TICKET_PAGE) });
  }

  /** Subject search: a separate, cheaper route (its own rate-limit class), a short result list. */
  search(scope: Scope, text: string): Promise<TicketView[]> {
    return this.tickets.search(scope, text, MAX_SEARCH_RESULTS);
  }

  async get(scope: Scope, id: string): Promise<TicketView> {
    const ticket = await this.tickets.findById(scope, id);
    if (!ticket) throw new TicketError(TicketErrorCode.NotFound);
    return ticket;
  }

  /** Opened by a user or a partner client (never both); system and operator principals open none. */
  /** `also` runs in the create's transaction (an Idempotency-Key's answer: apps/api/src/http/idempotency.ts). */
  async open(scope: Scope, input: { subject: string; body: string; priority?: TicketPriority }, also?: InTransaction<TicketView>): Promise<TicketView> {
    const opener = recordedBy(scope.principal, { user: 'openedById', client: 'openedByClientId' });
    if (!opener) throw forbidden();
    authorize(scope, 'create', 'Ticket', { tenantId: scope.tenantId, ...opener }, forbidden);
    return this.tickets.create(scope, { subject: input.subject, body: input.body, priority: input.priority ?? 'normal', ...opener }, this.clock.now(), also);
  }

  update(scope: Scope, id: string, patch: { status?: TicketStatus; priority?: TicketPriority; subject?: string }, expectedVersion?: number): Promise<TicketView> {
    return this.tickets.update(scope, id, patch, expectedVersion, this.clock.now());
  }

  /** Assigns to a member of this tenant, named by membership id; null unassigns. */
  assign(scope: Scope, id: string, membershipId: string | null, expectedVersion?: number): Promise<TicketView> {
    return this.tickets.assign(scope, id, membershipId, expectedVersion, this.clock.now());
  }

  async comments(scope: Scope, ticketId: string): Promise<CommentView[]> {
    const comments = await this.tickets.comments(scope, ticketId);
    if (!comments) throw new TicketError(TicketErrorCode.NotFound);
    return comments;
  }

  async comment(scope: Scope, ticketId: string, body: string, also?: InTransaction<CommentView>): Promise<CommentView> {
    // Only users comment (a comment's author is a member); partner clients have no comment rule.
    if (scope.principal.kind !== 'user') throw forbidden();
    return this.tickets.comment(scope, ticketId, scope.principal.userId, body, this.clock.now(), also);
  }
}

import { Injectable } from '@nestjs/common';
import { subject } from '@casl/ability';
import { accessibleWhere, type Action } from '@benteng/authz';
import { Clock } from '@benteng/common';
import { appendDomainEvent, keysetWhere, Prisma, TenantDatabase, type TenantTx, type TicketPriority, type TicketStatus } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { TicketError, TicketErrorCode } from './ticket.errors.js';
import { ticketEvent } from './ticket.events.js';
import type { CommentView, TicketListQuery, TicketSort, TicketView } from './ticket.types.js';

export const MAX_TICKET_PAGE = 100;
export const MAX_SEARCH_RESULTS = 20;
const WITH_ASSIGNEE = { assignee: { select: { id: true, displayName: true, user: { select: { displayName: true } } } } } as const;

function sortOf(sort: TicketSort = '-createdAt') {
  const direction: 'asc' | 'desc' = sort.startsWith('-') ? 'desc' : 'asc';
  const field = sort.replace(/^-/, '') as 'createdAt' | 'updatedAt';
  return { field, direction, orderBy: [{ [field]: direction }, { id: direction }] as Prisma.TicketOrderByWithRelationInput[] };
}

/**
 * A comment's author by the name this tenant knows them by (RLS limits the memberships read to the
 * current tenant), falling back to their own name once they have left.
 */
const AUTHOR = { select: { displayName: true, memberships: { select: { displayName: true }, take: 1 } } } as const;
function commentView(c: { id: string; body: string; authorId: string; createdAt: Date; author: { displayName: string; memberships: { displayName: string | null }[] } }): CommentView {
  return { id: c.id, body: c.body, authorId: c.authorId, authorName: c.author.memberships[0]?.displayName ?? c.author.displayName, createdAt: c.createdAt };
}

/** LIKE pattern for a literal substring: % _ and \ in the query match themselves. */
const likeLiteral = (text: string) => text.replace(/[\\%_]/g, (c) => `\\${c}`);

/**
 * Tickets and comments. Every query combines the CASL condition (which, for members, already
 * narrows to tickets they opened or are assigned to) with the business filter; RLS adds the
 * tenant underneath. Reads and writes of one operation share one tenant transaction.
 */
@Injectable()
export class TicketsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly clock: Clock,
  ) {}

  list(scope: Scope, query: TicketListQuery): Promise<TicketView[]> {
    const { field, direction, orderBy } = sortOf(query.sort);
    const assignedToMe = query.assignedToMe ? { assigneeId: scope.principal.kind === 'user' ? scope.principal.userId : null } : {};
    return this.db.run(scope, (tx) =>
      tx.ticket.findMany({
        where: {
          AND: [
            accessibleWhere(scope.ability, 'read', 'Ticket'),
            query.status ? { status: query.status } : {},
            query.priority ? { priority: query.priority } : {},
            assignedToMe,
            query.after ? (keysetWhere(field, direction, query.after) as Prisma.TicketWhereInput) : {},
          ],
        },
        include: WITH_ASSIGNEE,
        orderBy,
        take: Math.min(Math.max(query.limit, 1), MAX_TICKET_PAGE),
      }),
    );
  }

  /** Subject search: a separate, cheaper route (its own rate-limit class), a short result list. */
  search(scope: Scope, text: string): Promise<TicketView[]> {
    return this.db.run(scope, (tx) =>
      tx.ticket.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Ticket'), { subject: { contains: likeLiteral(text), mode: 'insensitive' } }] },
        include: WITH_ASSIGNEE,
        orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
        take: MAX_SEARCH_RESULTS,
      }),
    );
  }

  async get(scope: Scope, id: string): Promise<TicketView> {
    const ticket = await this.db.run(scope, (tx) => this.readable(tx, scope, id));
    if (!ticket) throw new TicketError(TicketErrorCode.NotFound);
    return ticket;
  }

  async open(scope: Scope, input: { subject: string; body: string; priority?: TicketPriority }): Promise<TicketView> {
    const opener = this.openerOf(scope);
    if (!scope.ability.can('create', subject('Ticket', { tenantId: scope.tenantId, ...opener } as never))) throw new TicketError(TicketErrorCode.Forbidden);
    const now = this.clock.now();
    return this.db.run(scope, async (tx) => {
      const ticket = await tx.ticket.create({
        data: { tenantId: scope.tenantId, subject: input.subject, body: input.body, priority: input.priority ?? 'normal', ...opener, createdAt: now, updatedAt: now },
        include: WITH_ASSIGNEE,
      });
      await appendDomainEvent(tx, scope.tenantId, ticketEvent('ticket.created', ticket), now);
      return ticket;
    });
  }

  update(scope: Scope, id: string, patch: { status?: TicketStatus; priority?: TicketPriority; subject?: string }, expectedVersion?: number): Promise<TicketView> {
    return this.change(scope, id, 'update', expectedVersion, async () => ({ data: patch, changed: Object.keys(patch) }));
  }

  /** Assigns to a member of this tenant, named by membership id; null unassigns. */
  assign(scope: Scope, id: string, membershipId: string | null, expectedVersion?: number): Promise<TicketView> {
    return this.change(scope, id, 'assign', expectedVersion, async (tx) => {
      if (membershipId === null) return { data: { assigneeId: null }, changed: ['assignee'] };
      // RLS limits the lookup to this tenant: another tenant's membership id is "not a member".
      const member = await tx.membership.findFirst({ where: { id: membershipId }, select: { userId: true } });
      if (!member) throw new TicketError(TicketErrorCode.AssigneeNotMember);
      return { data: { assigneeId: member.userId }, changed: ['assignee'] };
    });
  }

  async comments(scope: Scope, ticketId: string): Promise<CommentView[]> {
    return this.db.run(scope, async (tx) => {
      if (!(await this.readable(tx, scope, ticketId))) throw new TicketError(TicketErrorCode.NotFound);
      const rows = await tx.ticketComment.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'TicketComment'), { ticketId }] },
        include: { author: AUTHOR },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: 500,
      });
      return rows.map(commentView);
    });
  }

  async comment(scope: Scope, ticketId: string, body: string): Promise<CommentView> {
    // Only users comment (a comment's author is a member); partner clients have no comment rule.
    if (scope.principal.kind !== 'user') throw new TicketError(TicketErrorCode.Forbidden);
    const userId = scope.principal.userId;
    const now = this.clock.now();
    return this.db.run(scope, async (tx) => {
      const ticket = await this.readable(tx, scope, ticketId);
      if (!ticket) throw new TicketError(TicketErrorCode.NotFound);
      this.authorize(scope, 'comment', ticket);
      const created = await tx.ticketComment.create({ data: { tenantId: scope.tenantId, ticketId, authorId: userId, body, createdAt: now }, include: { author: AUTHOR } });
      // A new comment changes the ticket's representation: new version, new ETag.
      await tx.ticket.updateMany({ where: { id: ticketId }, data: { updatedAt: now, version: { increment: 1 } } });
      return commentView(created);
    });
  }

  private async change(
    scope: Scope,
    id: string,
    action: Action,
    expectedVersion: number | undefined,
    decide: (tx: TenantTx, current: TicketView) => Promise<{ data: Prisma.TicketUncheckedUpdateManyInput; changed: string[] }>,
  ): Promise<TicketView> {
    const now = this.clock.now();
    return this.db.run(scope, async (tx) => {
      const current = await this.readable(tx, scope, id);
      if (!current) throw new TicketError(TicketErrorCode.NotFound);
      this.authorize(scope, action, current);
      if (expectedVersion !== undefined && expectedVersion !== current.version) throw new TicketError(TicketErrorCode.VersionMismatch);
      const { data, changed } = await decide(tx, current);
      const written = await tx.ticket.updateMany({ where: { id, version: current.version }, data: { ...data, version: { increment: 1 }, updatedAt: now } });
      if (written.count === 0) throw new TicketError(TicketErrorCode.VersionMismatch);
      const updated = (await this.readable(tx, scope, id))!;
      await appendDomainEvent(tx, scope.tenantId, ticketEvent('ticket.updated', updated, changed), now);
      return updated;
    });
  }

  private readable(tx: TenantTx, scope: Scope, id: string): Promise<TicketView | null> {
    return tx.ticket.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Ticket'), { id }] }, include: WITH_ASSIGNEE });
  }

  /** Visible (or it would be "not found") but not allowed for this role: 403. */
  private authorize(scope: Scope, action: Action, ticket: TicketView): void {
    if (!scope.ability.can(action, subject('Ticket', ticket as never))) throw new TicketError(TicketErrorCode.Forbidden);
  }

  /** Who a ticket is recorded as opened by: a user, or a partner client (never both). */
  private openerOf(scope: Scope): { openedById: string } | { openedByClientId: string } {
    switch (scope.principal.kind) {
      case 'user':
        return { openedById: scope.principal.userId };
      case 'partner':
        return { openedByClientId: scope.principal.clientId };
      case 'system':
      case 'operator':
        throw new TicketError(TicketErrorCode.Forbidden);
    }
  }
}

import { Injectable } from '@nestjs/common';
import { accessibleWhere, authorize, type Action } from '@benteng/authz';
import { appendDomainEvent, keysetWhere, Prisma, TenantDatabase, type InTransaction, type TenantTx, type TicketPriority, type TicketStatus } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { TicketError, TicketErrorCode } from './ticket.errors.js';
import { ticketEvent } from './ticket.events.js';
import type { CommentView, TicketListQuery, TicketSort, TicketView } from './ticket.types.js';

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

/** Visible (or it would be "not found") but not allowed for this role: 403. */
const forbidden = () => new TicketError(TicketErrorCode.Forbidden);

/** A ticket's fields a change writes, and the names its `ticket.updated` event lists. */
interface TicketChange {
  data: Prisma.TicketUncheckedUpdateManyInput;
  changed: string[];
}

/**
 * Ticket and comment persistence. Every method takes the Scope first and runs in one tenant
 * transaction; every query combines the CASL condition (which, for members, already narrows to
 * tickets they opened or are assigned to) with the business filter, and PostgreSQL RLS adds the
 * tenant underneath. A write reads the ticket, checks it with `authorize`, checks the version,
 * writes and appends its domain event in that one transaction.
 */
@Injectable()
export class TicketsRepository {
  constructor(private readonly db: TenantDatabase) {}

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
        take: query.limit,
      }),
    );
  }

  /** Tickets whose subject contains `text` (case-insensitive), most recently updated first. */
  search(scope: Scope, text: string, limit: number): Promise<TicketView[]> {
    return this.db.run(scope, (tx) =>
      tx.ticket.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Ticket'), { subject: { contains: likeLiteral(text), mode: 'insensitive' } }] },
        include: WITH_ASSIGNEE,
        orderBy: [{ updatedAt: 'desc' }, { id: 'desc' }],
        take: limit,
      }),
    );
  }

  /** Null when the ticket is missing, another tenant's, or not readable by the scope. */
  findById(scope: Scope, id: string): Promise<TicketView | null> {
    return this.db.run(scope, (tx) => this.readable(tx, scope, id));
  }

  /** Inserts a ticket the service has authorized, with its `ticket.created` event. */
  create(
    scope: Scope,
    row: Omit<Prisma.TicketUncheckedCreateInput, 'tenantId' | 'createdAt' | 'updatedAt'>,
    now: Date,
    also?: InTransaction<TicketView>,
  ): Promise<TicketView> {
    return this.db.run(
      scope,
      async (tx) => {
        const ticket = await tx.ticket.create({ data: { ...row, tenantId: scope.tenantId, createdAt: now, updatedAt: now }, include: WITH_ASSIGNEE });
        await appendDomainEvent(tx, scope.tenantId, ticketEvent('ticket.created', ticket), now);
        return ticket;
      },
      { also },
    );
  }

  update(
    scope: Scope,
    id: string,
    patch: { status?: TicketStatus; priority?: TicketPriority; subject?: string },
    expectedVersion: number | undefined,
    now: Date,
  ): Promise<TicketView> {
    return this.change(scope, id, 'update', expectedVersion, now, async () => ({ data: patch, changed: Object.keys(patch) }));
  }

  /** Assigns to a member of this tenant, named by membership id; null unassigns. */
  assign(scope: Scope, id: string, membershipId: string | null, expectedVersion: number | undefined, now: Date): Promise<TicketView> {
    return this.change(scope, id, 'assign', expectedVersion, now, async (tx) => {
      if (membershipId === null) return { data: { assigneeId: null }, changed: ['assignee'] };
      // RLS limits the lookup to this tenant: another tenant's membership id is "not a member".
      const member = await tx.membership.findFirst({ where: { id: membershipId }, select: { userId: true } });
      if (!member) throw new TicketError(TicketErrorCode.AssigneeNotMember);
      return { data: { assigneeId: member.userId }, changed: ['assignee'] };
    });
  }

  /** The ticket's comments, oldest first; null when the ticket is not readable. */
  comments(scope: Scope, ticketId: string): Promise<CommentView[] | null> {
    return this.db.run(scope, async (tx) => {
      if (!(await this.readable(tx, scope, ticketId))) return null;
      const rows = await tx.ticketComment.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'TicketComment'), { ticketId }] },
        include: { author: AUTHOR },
        orderBy: [{ createdAt: 'asc' }, { id: 'asc' }],
        take: 500,
      });
      return rows.map(commentView);
    });
  }

  /** Adds a comment by `authorId` to a ticket the scope may comment on; the ticket gets a new version. */
  comment(scope: Scope, ticketId: string, authorId: string, body: string, now: Date, also?: InTransaction<CommentView>): Promise<CommentView> {
    return this.db.run(scope, async (tx) => {
      const ticket = await this.readable(tx, scope, ticketId);
      if (!ticket) throw new TicketError(TicketErrorCode.NotFound);
      authorize(scope, 'comment', 'Ticket', ticket, forbidden);
      const created = await tx.ticketComment.create({ data: { tenantId: scope.tenantId, ticketId, authorId, body, createdAt: now }, include: { author: AUTHOR } });
      // A new comment changes the ticket's representation: new version, new ETag.
      await tx.ticket.updateMany({ where: { id: ticketId }, data: { updatedAt: now, version: { increment: 1 } } });
      return commentView(created);
    }, { also });
  }

  /**
   * Reads the ticket, checks `action` on it and the expected version, computes the change (in
   * the same transaction: an assignee is looked up there) and writes it only if the version is
   * still the one read, with its `ticket.updated` event.
   */
  private change(
    scope: Scope,
    id: string,
    action: Action,
    expectedVersion: number | undefined,
    now: Date,
    changeOf: (tx: TenantTx) => Promise<TicketChange>,
  ): Promise<TicketView> {
    return this.db.run(scope, async (tx) => {
      const current = await this.readable(tx, scope, id);
      if (!current) throw new TicketError(TicketErrorCode.NotFound);
      authorize(scope, action, 'Ticket', current, forbidden);
      if (expectedVersion !== undefined && expectedVersion !== current.version) throw new TicketError(TicketErrorCode.VersionMismatch);
      const { data, changed } = await changeOf(tx);
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
}

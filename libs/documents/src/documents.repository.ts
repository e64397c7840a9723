import { Injectable } from '@nestjs/common';
import { accessibleWhere } from '@benteng/authz';
import { appendDomainEvent, keysetWhere, Prisma, TenantDatabase, type Document, type DomainEventInput, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { DocumentLink, DocumentListQuery } from './document.types.js';

/** Newest first; id breaks ties, so a position (createdAt, id) is a total order. */
const NEWEST_FIRST: Prisma.DocumentOrderByWithRelationInput[] = [{ createdAt: 'desc' }, { id: 'desc' }];

export type NewDocumentRow = Omit<Prisma.DocumentUncheckedCreateInput, 'tenantId' | 'id' | 'createdAt'>;

/**
 * Document metadata. Every method takes the Scope first and runs in a tenant transaction; every
 * query combines the CASL condition for the action with the business filter, and PostgreSQL RLS
 * checks the tenant once more underneath. The bytes are not here: see DocumentStorage.
 */
@Injectable()
export class DocumentsRepository {
  constructor(private readonly db: TenantDatabase) {}

  list(scope: Scope, query: DocumentListQuery): Promise<Document[]> {
    const filters: Prisma.DocumentWhereInput[] = [];
    if (query.invoiceId) filters.push({ invoiceId: query.invoiceId });
    if (query.ticketId) filters.push({ ticketId: query.ticketId });
    // Keyset pagination: the rows after the previous page's last one, which need not exist any more.
    if (query.after) filters.push(keysetWhere('createdAt', 'desc', query.after) as Prisma.DocumentWhereInput);
    return this.db.run(scope, (tx) =>
      tx.document.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Document'), ...filters] },
        orderBy: NEWEST_FIRST,
        take: query.limit,
      }),
    );
  }

  findById(scope: Scope, id: string): Promise<Document | null> {
    return this.db.run(scope, (tx) => tx.document.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Document'), { id }] } }));
  }

  /** Can the scope see the invoice or ticket a new document is to be attached to? */
  linkVisible(scope: Scope, link: DocumentLink): Promise<boolean> {
    return this.db.run(scope, (tx) => this.visible(tx, scope, link));
  }

  private async visible(tx: TenantTx, scope: Scope, link: DocumentLink): Promise<boolean> {
    if ('invoiceId' in link) {
      return (await tx.invoice.count({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Invoice'), { id: link.invoiceId }] } })) === 1;
    }
    return (await tx.ticket.count({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Ticket'), { id: link.ticketId }] } })) === 1;
  }

  /**
   * Inserts the metadata and its domain event in one transaction, after checking again, inside
   * it, that the linked invoice or ticket is still visible. Null when it is not (the composite
   * foreign key would refuse another tenant's id anyway; this also refuses one of this tenant's
   * the caller may not see).
   */
  create(scope: Scope, row: NewDocumentRow, link: DocumentLink | undefined, event: (created: Document) => DomainEventInput, now: Date): Promise<Document | null> {
    return this.db.run(scope, async (tx) => {
      if (link && !(await this.visible(tx, scope, link))) return null;
      const created = await tx.document.create({ data: { ...row, tenantId: scope.tenantId, createdAt: now } });
      await appendDomainEvent(tx, scope.tenantId, event(created), now);
      return created;
    });
  }

  /** Deletes a document the scope may delete; returns its storage key, or null when nothing was deleted. */
  delete(scope: Scope, id: string): Promise<string | null> {
    return this.db.run(scope, async (tx) => {
      const where = { AND: [accessibleWhere(scope.ability, 'delete', 'Document'), { id }] };
      const found = await tx.document.findFirst({ where, select: { storageKey: true } });
      if (!found) return null;
      const deleted = await tx.document.deleteMany({ where });
      return deleted.count === 1 ? found.storageKey : null;
    });
  }
}

import { Injectable } from '@nestjs/common';
import { accessibleWhere, authorize } from '@benteng/authz';
import { appendDomainEvent, keysetWhere, Prisma, TenantDatabase, type Document, type InTransaction, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { DocumentError, DocumentErrorCode } from './document.errors.js';
import { documentEvent } from './document.events.js';
import type { DocumentLink, DocumentListQuery } from './document.types.js';

/** Newest first; id breaks ties, so a position (createdAt, id) is a total order. */
const NEWEST_FIRST: Prisma.DocumentOrderByWithRelationInput[] = [{ createdAt: 'desc' }, { id: 'desc' }];

export type NewDocumentRow = Omit<Prisma.DocumentUncheckedCreateInput, 'tenantId' | 'id' | 'createdAt'>;

/** A foreign key refused the row (Prisma P2003): here, the linked invoice or ticket is gone. */
const isForeignKeyViolation = (error: unknown) => error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2003';

/**
 * Document metadata. Every method takes the Scope first and runs in a tenant transaction; every
 * query combines the CASL condition for the action with the business filter, and PostgreSQL RLS
 * checks the tenant once more underneath. A delete reads the document, checks it with `authorize`
 * and deletes it in that one transaction. The bytes are not here: see DocumentStorage.
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

  /** Null when the document is missing, another tenant's, or not readable by the scope. */
  findById(scope: Scope, id: string): Promise<Document | null> {
    return this.db.run(scope, (tx) => this.readable(tx, scope, id));
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
   * Inserts the metadata and its `document.uploaded` event in one transaction, after checking
   * again, inside it, that the linked invoice or ticket is still visible. Refused as "link not
   * found" when it is not (the composite foreign key would refuse another tenant's id anyway; this
   * also refuses one of this tenant's the caller may not see) or when it was deleted meanwhile.
   */
  async create(scope: Scope, row: NewDocumentRow, link: DocumentLink | undefined, now: Date, also?: InTransaction<Document>): Promise<Document> {
    try {
      return await this.db.run(scope, async (tx) => {
        if (link && !(await this.visible(tx, scope, link))) throw new DocumentError(DocumentErrorCode.LinkNotFound);
        const created = await tx.document.create({ data: { ...row, tenantId: scope.tenantId, createdAt: now } });
        await appendDomainEvent(tx, scope.tenantId, documentEvent('document.uploaded', created), now);
        return created;
      }, { also });
    } catch (error) {
      // The invoice or ticket was deleted after the service's check.
      if (isForeignKeyViolation(error)) throw new DocumentError(DocumentErrorCode.LinkNotFound);
      throw error;
    }
  }

  /**
   * Deletes a document the scope may delete (members their own uploads, owners and admins any)
   * and returns its storage key: not found when the scope cannot read it, 403 when it may read
   * but not delete it.
   */
  delete(scope: Scope, id: string): Promise<string> {
    return this.db.run(scope, async (tx) => {
      const current = await this.readable(tx, scope, id);
      if (!current) throw new DocumentError(DocumentErrorCode.NotFound);
      authorize(scope, 'delete', 'Document', current, () => new DocumentError(DocumentErrorCode.Forbidden));
      const deleted = await tx.document.deleteMany({ where: { AND: [accessibleWhere(scope.ability, 'delete', 'Document'), { id }] } });
      if (deleted.count !== 1) throw new DocumentError(DocumentErrorCode.NotFound);
      return current.storageKey;
    });
  }

  private readable(tx: TenantTx, scope: Scope, id: string): Promise<Document | null> {
    return tx.document.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Document'), { id }] } });
  }
}

import { Injectable } from '@nestjs/common';
import { accessibleWhere } from '@benteng/authz';
import { Prisma, TenantDatabase } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { InvoiceListQuery, InvoiceWithLines } from './invoice.types.js';

/**
 * Invoice persistence. Every method takes the Scope first and runs in a tenant transaction; every
 * query combines the CASL condition for the action with the business filter, and PostgreSQL RLS
 * checks the tenant once more underneath.
 */
@Injectable()
export class InvoicesRepository {
  constructor(private readonly db: TenantDatabase) {}

  list(scope: Scope, query: InvoiceListQuery): Promise<InvoiceWithLines[]> {
    return this.db.run(scope, (tx) =>
      tx.invoice.findMany({
        where: {
          AND: [accessibleWhere(scope.ability, 'read', 'Invoice'), query.status ? { status: query.status } : {}],
        },
        include: { lines: { orderBy: { position: 'asc' } } },
        // UUIDv7 ids grow with time: ordering by id is creation order and a stable cursor.
        orderBy: { id: 'desc' },
        take: query.limit,
        ...(query.after ? { cursor: { tenantId_id: { tenantId: scope.tenantId, id: query.after } }, skip: 1 } : {}),
      }),
    );
  }

  findById(scope: Scope, id: string): Promise<InvoiceWithLines | null> {
    return this.db.run(scope, (tx) =>
      tx.invoice.findFirst({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Invoice'), { id }] },
        include: { lines: { orderBy: { position: 'asc' } } },
      }),
    );
  }

  create(
    scope: Scope,
    data: Omit<Prisma.InvoiceUncheckedCreateInput, 'tenantId' | 'lines'>,
    lines: Prisma.InvoiceLineCreateManyInvoiceInput[],
  ): Promise<InvoiceWithLines> {
    return this.db.run(scope, (tx) =>
      tx.invoice.create({
        data: {
          ...data,
          tenantId: scope.tenantId,
          // Lines take tenant_id from their invoice through the composite foreign key.
          lines: { createMany: { data: lines } },
        },
        include: { lines: { orderBy: { position: 'asc' } } },
      }),
    );
  }

  /**
   * Updates the customer fields of an invoice the scope may update. Returns the number of rows
   * changed: 0 when the invoice does not exist, belongs to another tenant, or is not updatable.
   */
  updateCustomer(scope: Scope, id: string, data: Pick<Prisma.InvoiceUpdateInput, 'customerName' | 'customerEmail' | 'customerTaxId'>): Promise<number> {
    return this.db.run(scope, async (tx) => {
      const result = await tx.invoice.updateMany({
        where: { AND: [accessibleWhere(scope.ability, 'update', 'Invoice'), { id }] },
        data: { ...data, version: { increment: 1 } },
      });
      return result.count;
    });
  }
}

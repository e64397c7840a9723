import { subject } from '@casl/ability';
import { Injectable } from '@nestjs/common';
import { accessibleWhere } from '@benteng/authz';
import { appendDomainEvent, keysetWhere, Prisma, TenantDatabase, type DomainEventInput, type InvoiceLine, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { InvoiceListQuery, InvoiceSort, InvoiceWithLines } from './invoice.types.js';
import { isUuid } from '@benteng/common';

const WITH_LINES = { lines: { orderBy: { position: 'asc' } } } as const;

type RawLine = Omit<InvoiceLine, 'unitPriceMinor' | 'amountMinor'> & { unitPriceMinor: string; amountMinor: string };
type RawInvoice = Omit<InvoiceWithLines, 'lines'> & { lines: RawLine[] | string | null };

function sortOf(sort: InvoiceSort = '-createdAt') {
  const direction: 'asc' | 'desc' = sort.startsWith('-') ? 'desc' : 'asc';
  const field = sort.replace(/^-/, '') as 'createdAt' | 'number' | 'dueDate';
  // id breaks ties, so (value, id) orders rows totally and a keyset cursor is exact.
  return { field, direction, orderBy: [{ [field]: direction }, { id: direction }] as Prisma.InvoiceOrderByWithRelationInput[] };
}

/**
 * Invoice persistence. Every method takes the Scope first and runs in a tenant transaction; every
 * query combines the CASL condition for the action with the business filter, and PostgreSQL RLS
 * checks the tenant once more underneath.
 */
@Injectable()
export class InvoicesRepository {
  constructor(private readonly db: TenantDatabase) {}

  list(scope: Scope, query: InvoiceListQuery): Promise<InvoiceWithLines[]> {
    const { field, direction, orderBy } = sortOf(query.sort);
    return this.db.run(scope, (tx) =>
      tx.invoice.findMany({
        where: {
          AND: [
            accessibleWhere(scope.ability, 'read', 'Invoice'),
            query.status ? { status: query.status } : {},
            query.after ? (keysetWhere(field, direction, query.after, field === 'dueDate') as Prisma.InvoiceWhereInput) : {},
          ],
        },
        include: WITH_LINES,
        orderBy,
        take: query.limit,
      }),
    );
  }

  /**
   * The hottest read (GET /v1/invoices/:id, GET /partner/v1/invoices/:id): the invoice and its lines
   * in one statement instead of Prisma's two (invoice, then lines), without Prisma's query
   * interpretation, in a batch tenant transaction (TenantDatabase.read) rather than an interactive
   * one (docs/benchmarks.md, "Changes and their effect — read path"). The row comes
   * through RLS like every other read (the statement names no tenant: the transaction's
   * app.tenant_id decides), and the CASL read rule is applied to it here, with the same conditions
   * `accessibleWhere` would have put in the WHERE clause: a row the ability may not read is null,
   * exactly like a missing one.
   */
  async findById(scope: Scope, id: string): Promise<InvoiceWithLines | null> {
    if (!isUuid(id)) return null;
    const rows = await this.db.read(scope, (client) => client.$queryRaw<RawInvoice[]>`
      SELECT i.tenant_id AS "tenantId", i.id, i.number, i.status::text AS status, i.currency, i.customer_name AS "customerName",
             i.customer_email AS "customerEmail", i.customer_tax_id AS "customerTaxId", i.total_minor AS "totalMinor", i.due_date AS "dueDate",
             i.issued_at AS "issuedAt", i.created_by_id AS "createdById", i.created_by_client_id AS "createdByClientId", i.version,
             i.created_at AS "createdAt", i.updated_at AS "updatedAt",
             (SELECT json_agg(json_build_object('tenantId', l.tenant_id, 'id', l.id, 'invoiceId', l.invoice_id, 'position', l.position,
                       'description', l.description, 'quantity', l.quantity, 'unitPriceMinor', l.unit_price_minor::text,
                       'amountMinor', l.amount_minor::text) ORDER BY l.position)
                FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id) AS lines
        FROM invoices i WHERE i.id = ${id}::uuid`);
    const row = rows[0];
    if (!row) return null;
    const { lines, ...invoice } = row;
    if (!scope.ability.can('read', subject('Invoice', invoice as never))) return null;
    return {
      ...invoice,
      lines: ((typeof lines === 'string' ? (JSON.parse(lines) as RawLine[] | null) : lines) ?? []).map((line) => ({
        ...line,
        unitPriceMinor: BigInt(line.unitPriceMinor),
        amountMinor: BigInt(line.amountMinor),
      })),
    } as InvoiceWithLines;
  }

  private readable(tx: TenantTx, scope: Scope, id: string): Promise<InvoiceWithLines | null> {
    return tx.invoice.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Invoice'), { id }] }, include: WITH_LINES });
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
        include: WITH_LINES,
      }),
    );
  }

  /**
   * Reads the invoice, lets `decide` check it (authorization, status, version) and compute the
   * change, then writes it only if the version is still the one read, with the domain event in
   * the same transaction. Returns null when the invoice is not readable in this scope.
   */
  mutate(
    scope: Scope,
    id: string,
    decide: (current: InvoiceWithLines) => { data: Prisma.InvoiceUpdateManyMutationInput; lines?: Prisma.InvoiceLineCreateManyInvoiceInput[]; event?: DomainEventInput | ((updated: InvoiceWithLines) => DomainEventInput) },
    now: Date,
  ): Promise<{ outcome: 'not_found' } | { outcome: 'conflict' } | { outcome: 'updated'; invoice: InvoiceWithLines }> {
    return this.db.run(scope, async (tx) => {
      const current = await this.readable(tx, scope, id);
      if (!current) return { outcome: 'not_found' as const };
      const change = decide(current);
      const written = await tx.invoice.updateMany({
        where: { id, version: current.version },
        data: { ...change.data, version: { increment: 1 }, updatedAt: now },
      });
      if (written.count === 0) return { outcome: 'conflict' as const };
      if (change.lines) {
        await tx.invoiceLine.deleteMany({ where: { invoiceId: id } });
        await tx.invoiceLine.createMany({ data: change.lines.map((line) => ({ ...line, tenantId: scope.tenantId, invoiceId: id })) });
      }
      const updated = (await this.readable(tx, scope, id))!;
      if (change.event) await appendDomainEvent(tx, scope.tenantId, typeof change.event === 'function' ? change.event(updated) : change.event, now);
      return { outcome: 'updated' as const, invoice: updated };
    });
  }

  /** Deletes a draft the scope may delete; false when there is nothing to delete. */
  delete(scope: Scope, id: string, version: number): Promise<boolean> {
    return this.db.run(scope, async (tx) => {
      const deleted = await tx.invoice.deleteMany({ where: { AND: [accessibleWhere(scope.ability, 'delete', 'Invoice'), { id, version }] } });
      return deleted.count === 1;
    });
  }
}

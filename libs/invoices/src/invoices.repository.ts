import { Injectable } from '@nestjs/common';
import { accessibleEqualities, accessibleWhere, authorize, permits, type Action } from '@benteng/authz';
import { isUuid } from '@benteng/common';
import { appendDomainEvent, keysetWhere, Prisma, TenantDatabase, type InTransaction, type InvoiceLine, type Keyset, type TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { InvoiceError, InvoiceErrorCode } from './invoice.errors.js';
import { invoiceEvent, type InvoiceEventType } from './invoice.events.js';
import { invoiceRefusal } from './invoice-refusal.js';
import type { InvoiceListQuery, InvoiceSort, InvoiceWithLines } from './invoice.types.js';

const WITH_LINES = { lines: { orderBy: { position: 'asc' } } } as const;

type RawLine = Omit<InvoiceLine, 'unitPriceMinor' | 'amountMinor'> & { unitPriceMinor: string; amountMinor: string };
type RawInvoice = Omit<InvoiceWithLines, 'lines'> & { lines: RawLine[] | string | null };

/** What a write changes: the invoice's fields, all its lines when given, and the event it appends. */
export interface InvoiceChange {
  data: Prisma.InvoiceUpdateManyMutationInput;
  lines?: Prisma.InvoiceLineCreateManyInvoiceInput[];
  event?: InvoiceEventType;
}

function sortOf(sort: InvoiceSort = '-createdAt') {
  const direction: 'asc' | 'desc' = sort.startsWith('-') ? 'desc' : 'asc';
  const field = sort.replace(/^-/, '') as 'createdAt' | 'number' | 'dueDate';
  // id breaks ties, so (value, id) orders rows totally and a keyset cursor is exact.
  return { field, direction, orderBy: [{ [field]: direction }, { id: direction }] as Prisma.InvoiceOrderByWithRelationInput[] };
}

/** The columns a CASL read condition may name for the list to pass it to `tenant_invoice_page`. */
const PAGE_CONDITIONS = ['tenantId', 'createdById', 'createdByClientId', 'status'] as const;

/** A keyset value as the function takes it: an instant in ISO 8601, a due date as YYYY-MM-DD, a number as it is. */
function keysetText(field: 'createdAt' | 'number' | 'dueDate', after: Keyset): string | null {
  const { value } = after;
  if (value === null || typeof value === 'string') return value;
  return field === 'dueDate' ? value.toISOString().slice(0, 10) : value.toISOString();
}

/** A row of a tenant read function as the entity Prisma would have returned: lines from json, amounts as bigint. */
function fromRow(row: RawInvoice): InvoiceWithLines {
  const { lines, ...invoice } = row;
  return {
    ...invoice,
    lines: ((typeof lines === 'string' ? (JSON.parse(lines) as RawLine[] | null) : lines) ?? []).map((line) => ({
      ...line,
      unitPriceMinor: BigInt(line.unitPriceMinor),
      amountMinor: BigInt(line.amountMinor),
    })),
  } as InvoiceWithLines;
}

/**
 * Invoice persistence. Every method takes the Scope first and runs in a tenant transaction; every
 * query combines the CASL condition for the action with the business filter, and PostgreSQL RLS
 * checks the tenant once more underneath. A write to an invoice reads it, checks it with
 * `authorize` (refusing as `invoiceRefusal` says), checks the version, writes and appends its
 * domain event in that one transaction.
 */
@Injectable()
export class InvoicesRepository {
  constructor(private readonly db: TenantDatabase) {}

  /**
   * A page of invoices (GET /v1/invoices, GET /partner/v1/invoices) in one round trip through the
   * tenant read function `tenant_invoice_page` (TenantDatabase.readThrough, as findById): the same
   * rows, order and page as the Prisma query below, without the four round trips of a tenant
   * transaction, Prisma's second query for the lines and its result mapping (docs/benchmarks.md,
   * "Issue 18"). The CASL read condition goes in as parameters when it is equalities the function
   * takes (`accessibleEqualities`); any other condition is read through Prisma with
   * `accessibleWhere`, exactly as before, never as "no condition". Each row is checked with
   * `permits` once more: a row the ability may not read fails the request (a shorter page would
   * end the client's listing early without saying why), it is never shown.
   */
  async list(scope: Scope, query: InvoiceListQuery): Promise<InvoiceWithLines[]> {
    const { field, direction, orderBy } = sortOf(query.sort);
    const access = accessibleEqualities(scope.ability, 'read', 'Invoice', PAGE_CONDITIONS);
    if (access.kind === 'none') return [];
    if (access.kind === 'equal' && access.values.tenantId === scope.tenantId) {
      const { createdById = null, createdByClientId = null, status = null } = access.values;
      const after = query.after ? keysetText(field, query.after) : null;
      const rows = await this.db.readThrough(
        scope,
        (client, tenantId) =>
          client.$queryRaw<RawInvoice[]>`SELECT * FROM tenant_invoice_page(${tenantId}::uuid, ${query.status ?? null}::invoice_status, ${field}::text, ${direction === 'desc'}::boolean, ${after}::text, ${query.after?.id ?? null}::uuid, ${query.limit}::integer, ${createdById}::uuid, ${createdByClientId}::uuid, ${status}::invoice_status)`,
      );
      return rows.map((row) => {
        const invoice = fromRow(row);
        if (!permits(scope, 'read', 'Invoice', invoice)) throw new Error('tenant_invoice_page returned an invoice the ability may not read');
        return invoice;
      });
    }
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
   * interpretation, in one round trip through the tenant read function `tenant_invoice_by_id`
   * (TenantDatabase.readThrough: it sets app.tenant_id itself, SECURITY INVOKER, instead of the four
   * round trips of a tenant transaction; docs/benchmarks.md). The row comes through RLS like every
   * other read, and the CASL read rule is applied to it here, with the same conditions
   * `accessibleWhere` would have put in the WHERE clause: a row the ability may not read is null,
   * exactly like a missing one.
   */
  async findById(scope: Scope, id: string): Promise<InvoiceWithLines | null> {
    if (!isUuid(id)) return null;
    // One round trip: tenant_invoice_by_id sets the tenant itself and returns the invoice with its
    // lines (as json) under RLS (TenantDatabase.readThrough; the same columns the transaction read).
    const rows = await this.db.readThrough(scope, (client, tenantId) => client.$queryRaw<RawInvoice[]>`SELECT * FROM tenant_invoice_by_id(${tenantId}::uuid, ${id}::uuid)`);
    const row = rows[0];
    if (!row) return null;
    const invoice = fromRow(row);
    return permits(scope, 'read', 'Invoice', invoice) ? invoice : null;
  }

  private readable(tx: TenantTx, scope: Scope, id: string): Promise<InvoiceWithLines | null> {
    return tx.invoice.findFirst({ where: { AND: [accessibleWhere(scope.ability, 'read', 'Invoice'), { id }] }, include: WITH_LINES });
  }

  /** Inserts a draft the service has authorized; a number already used in this tenant is a 409. */
  async create(
    scope: Scope,
    data: Omit<Prisma.InvoiceUncheckedCreateInput, 'tenantId' | 'lines'>,
    lines: Prisma.InvoiceLineCreateManyInvoiceInput[],
    also?: InTransaction<InvoiceWithLines>,
  ): Promise<InvoiceWithLines> {
    try {
      return await this.db.run(
        scope,
        (tx) =>
          tx.invoice.create({
            data: {
              ...data,
              tenantId: scope.tenantId,
              // Lines take tenant_id from their invoice through the composite foreign key.
              lines: { createMany: { data: lines } },
            },
            include: WITH_LINES,
          }),
        { also },
      );
    } catch (error) {
      if (error instanceof Prisma.PrismaClientKnownRequestError && error.code === 'P2002') throw new InvoiceError(InvoiceErrorCode.NumberTaken);
      throw error;
    }
  }

  /**
   * Applies `change` to an invoice the scope may `action` (update, issue, void, pay): not found
   * when it cannot read it, refused as `invoiceRefusal` says, 412 when `expectedVersion` is not
   * the version read or someone wrote between the read and the write.
   */
  update(scope: Scope, id: string, action: Action, change: InvoiceChange, expectedVersion: number | undefined, now: Date): Promise<InvoiceWithLines> {
    return this.db.run(scope, async (tx) => {
      const current = await this.writable(tx, scope, id, action, expectedVersion);
      const written = await tx.invoice.updateMany({
        where: { id, version: current.version },
        data: { ...change.data, version: { increment: 1 }, updatedAt: now },
      });
      // Someone else changed it between our read and our write.
      if (written.count === 0) throw new InvoiceError(InvoiceErrorCode.VersionMismatch);
      if (change.lines) {
        await tx.invoiceLine.deleteMany({ where: { invoiceId: id } });
        await tx.invoiceLine.createMany({ data: change.lines.map((line) => ({ ...line, tenantId: scope.tenantId, invoiceId: id })) });
      }
      const updated = (await this.readable(tx, scope, id))!;
      if (change.event) await appendDomainEvent(tx, scope.tenantId, invoiceEvent(change.event, updated), now);
      return updated;
    });
  }

  /** Deletes an invoice the scope may delete (a draft), with the same answers as `update`. */
  delete(scope: Scope, id: string, expectedVersion: number | undefined): Promise<void> {
    return this.db.run(scope, async (tx) => {
      const current = await this.writable(tx, scope, id, 'delete', expectedVersion);
      const deleted = await tx.invoice.deleteMany({ where: { AND: [accessibleWhere(scope.ability, 'delete', 'Invoice'), { id, version: current.version }] } });
      if (deleted.count !== 1) throw new InvoiceError(InvoiceErrorCode.VersionMismatch);
    });
  }

  /** The invoice, read in the write's transaction, once the scope may `action` it at `expectedVersion`. */
  private async writable(tx: TenantTx, scope: Scope, id: string, action: Action, expectedVersion: number | undefined): Promise<InvoiceWithLines> {
    const current = await this.readable(tx, scope, id);
    if (!current) throw new InvoiceError(InvoiceErrorCode.NotFound);
    authorize(scope, action, 'Invoice', current, invoiceRefusal(scope, action, current));
    if (expectedVersion !== undefined && current.version !== expectedVersion) throw new InvoiceError(InvoiceErrorCode.VersionMismatch);
    return current;
  }
}

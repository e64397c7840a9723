import { accessibleWhere } from '@benteng/authz';
import type { MembershipRole, Prisma, TenantTx } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import { ExportError, ExportErrorCode } from './export.errors.js';
import { invoiceColumns, RecordEncoder, TICKET_COLUMNS, type CellNeutralizer, type InvoiceExportRow, type TicketExportRow } from './export-formats.js';
import { EXPORT_STATUS_FILTERS, type ExportFilters, type ExportFormat, type ExportType } from './export.types.js';

const DAY = /^\d{4}-\d{2}-\d{2}$/;
const DAY_MS = 86_400_000;

function dayStart(value: string): Date | null {
  if (!DAY.test(value)) return null;
  const date = new Date(`${value}T00:00:00.000Z`);
  // Rejects 2026-02-30 and the like, which Date would roll over into March.
  return Number.isNaN(date.getTime()) || date.toISOString().slice(0, 10) !== value ? null : date;
}

/**
 * Checks filters against the export type and returns them in their stored form (only the keys
 * given). Throws ExportError(InvalidFilters) for a status of the other type, an impossible date or
 * a range that ends before it starts.
 */
export function checkedFilters(type: ExportType, filters: ExportFilters | undefined): ExportFilters {
  const result: ExportFilters = {};
  if (!filters) return result;
  const invalid = () => new ExportError(ExportErrorCode.InvalidFilters);
  if (filters.status !== undefined) {
    if (!(EXPORT_STATUS_FILTERS[type] as readonly string[]).includes(filters.status)) throw invalid();
    result.status = filters.status;
  }
  for (const key of ['createdFrom', 'createdTo'] as const) {
    const value = filters[key];
    if (value === undefined) continue;
    if (!dayStart(value)) throw invalid();
    result[key] = value;
  }
  if (result.createdFrom && result.createdTo && result.createdFrom > result.createdTo) throw invalid();
  return result;
}

/** The stored filters as a Prisma condition on status and created_at (both days inclusive). */
function filterWhere(filters: ExportFilters): Record<string, unknown> {
  const where: Record<string, unknown> = {};
  if (filters.status !== undefined) where.status = filters.status;
  const from = filters.createdFrom ? dayStart(filters.createdFrom) : null;
  const to = filters.createdTo ? dayStart(filters.createdTo) : null;
  if (from || to) where.createdAt = { ...(from ? { gte: from } : {}), ...(to ? { lt: new Date(to.getTime() + DAY_MS) } : {}) };
  return where;
}

const INVOICE_SELECT = {
  id: true,
  number: true,
  status: true,
  currency: true,
  customerName: true,
  customerEmail: true,
  customerTaxId: true,
  totalMinor: true,
  dueDate: true,
  issuedAt: true,
  createdAt: true,
} as const satisfies Prisma.InvoiceSelect;

const TICKET_SELECT = { id: true, subject: true, status: true, priority: true, createdAt: true, updatedAt: true } as const satisfies Prisma.TicketSelect;

/**
 * The rows of one export, a batch at a time, in id order (the primary key's order, so each batch is
 * an index range scan after the last id seen). Every batch is read in its own tenant transaction in
 * the requester's Scope: the rows they may read now (CASL where + RLS) and the export's filters.
 */
export interface RowSource {
  /** CSV header (empty for JSONL). */
  header(): string;
  /** The next batch, encoded; `count` 0 when there is nothing left. */
  next(tx: TenantTx, limit: number): Promise<{ text: string; count: number }>;
}

export function rowSource(scope: Scope, role: MembershipRole, type: ExportType, format: ExportFormat, filters: ExportFilters, neutralize: CellNeutralizer): RowSource {
  let after: string | undefined;
  const where = filterWhere(filters);
  if (type === 'invoices') {
    const encoder = new RecordEncoder<InvoiceExportRow>(format, invoiceColumns(role), neutralize);
    return {
      header: () => encoder.header(),
      async next(tx, limit) {
        const rows = await tx.invoice.findMany({
          where: { AND: [accessibleWhere(scope.ability, 'read', 'Invoice'), where as Prisma.InvoiceWhereInput, after ? { id: { gt: after } } : {}] },
          select: INVOICE_SELECT,
          orderBy: { id: 'asc' },
          take: limit,
        });
        after = rows.at(-1)?.id ?? after;
        return { text: rows.map((r) => encoder.record(r)).join(''), count: rows.length };
      },
    };
  }
  const encoder = new RecordEncoder<TicketExportRow>(format, TICKET_COLUMNS, neutralize);
  return {
    header: () => encoder.header(),
    async next(tx, limit) {
      const rows = await tx.ticket.findMany({
        where: { AND: [accessibleWhere(scope.ability, 'read', 'Ticket'), where as Prisma.TicketWhereInput, after ? { id: { gt: after } } : {}] },
        select: TICKET_SELECT,
        orderBy: { id: 'asc' },
        take: limit,
      });
      after = rows.at(-1)?.id ?? after;
      return { text: rows.map((r) => encoder.record(r)).join(''), count: rows.length };
    },
  };
}

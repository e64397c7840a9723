import { accessibleWhere } from '@benteng/authz';
import type { MembershipRole, Prisma, TenantDatabase } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { Writable } from 'node:stream';
import { CopyTextRecords } from './copy-text-records.js';
import { ExportError, ExportErrorCode } from './export.errors.js';
import type { ExportStreams, InvoiceTextColumn } from './export-streams.js';
import { invoiceColumns, RecordEncoder, TextRecordEncoder, TICKET_COLUMNS, type CellNeutralizer, type InvoiceExportRow, type TicketExportRow } from './export-formats.js';
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

/** The stored filters as a status and a created_at range [from, before) (both days inclusive). */
function filterRange(filters: ExportFilters): { status?: string; from: Date | null; before: Date | null } {
  const from = filters.createdFrom ? dayStart(filters.createdFrom) : null;
  const to = filters.createdTo ? dayStart(filters.createdTo) : null;
  return { ...(filters.status !== undefined ? { status: filters.status } : {}), from, before: to ? new Date(to.getTime() + DAY_MS) : null };
}

/** The stored filters as a Prisma condition on status and created_at. */
function filterWhere(filters: ExportFilters): Record<string, unknown> {
  const where: Record<string, unknown> = {};
  const { status, from, before } = filterRange(filters);
  if (status !== undefined) where.status = status;
  if (from || before) where.createdAt = { ...(from ? { gte: from } : {}), ...(before ? { lt: before } : {}) };
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
 *
 * Invoices are read as text rows through ExportStreams (export-streams.ts) when the requester's read
 * condition on invoices is the tenant alone (every role today), which skips Prisma's query
 * interpretation and the Date/BigInt round trip; with any other condition they are read through
 * Prisma with `accessibleBy`, as tickets always are. Both give the same bytes.
 */
export interface RowSource {
  /** CSV header (empty for JSONL). */
  header(): string;
  /** The next batch, encoded; `count` 0 when there is nothing left. */
  next(limit: number): Promise<{ text: string; count: number }>;
}

export interface RowReaders {
  db: TenantDatabase;
  streams: ExportStreams;
}

/**
 * Every row of an invoice export streamed into `sink` (strings of records, no header) with one
 * `COPY` (ExportStreams.copyInvoices) through the formula guard as a stream transform
 * (CopyTextRecords): the rows' count, or null when the export cannot be copied — tickets, or a
 * requester whose invoice read condition is more than the tenant — and must be read through
 * `rowSource` instead. The same columns, filters and bytes as rowSource.
 */
export async function copyRows(
  streams: ExportStreams,
  scope: Scope,
  type: ExportType,
  format: ExportFormat,
  filters: ExportFilters,
  neutralize: CellNeutralizer,
  sink: Writable,
): Promise<number | null> {
  if (type !== 'invoices') return null;
  const names = invoiceColumns(scope).map((c) => c.name) as InvoiceTextColumn[];
  const range = filterRange(filters);
  return streams.copyInvoices(
    scope,
    accessibleWhere(scope.ability, 'read', 'Invoice'),
    {
      columns: names,
      ...(range.status !== undefined ? { status: range.status } : {}),
      ...(range.from ? { createdFrom: range.from } : {}),
      ...(range.before ? { createdBefore: range.before } : {}),
    },
    new CopyTextRecords(format, names, neutralize),
    sink,
  );
}

export function rowSource(
  readers: RowReaders,
  scope: Scope,
  role: MembershipRole,
  type: ExportType,
  format: ExportFormat,
  filters: ExportFilters,
  neutralize: CellNeutralizer,
): RowSource {
  const { db, streams } = readers;
  let after: string | undefined;
  const where = filterWhere(filters);
  if (type === 'invoices') {
    const columns = invoiceColumns(scope);
    const encoder = new RecordEncoder<InvoiceExportRow>(format, columns, neutralize);
    const names = columns.map((c) => c.name) as InvoiceTextColumn[];
    const idAt = names.indexOf('id');
    const textEncoder = new TextRecordEncoder(format, names, neutralize);
    const range = filterRange(filters);
    const access = accessibleWhere(scope.ability, 'read', 'Invoice');
    return {
      header: () => encoder.header(),
      async next(limit) {
        const page = await streams.invoicePage(scope, access, {
          columns: names,
          ...(range.status !== undefined ? { status: range.status } : {}),
          ...(range.from ? { createdFrom: range.from } : {}),
          ...(range.before ? { createdBefore: range.before } : {}),
          ...(after !== undefined ? { after } : {}),
          limit,
        });
        if (page) {
          after = (page.at(-1)?.[idAt] as string | undefined) ?? after;
          return { text: textEncoder.records(page), count: page.length };
        }
        const rows = await db.run(scope, (tx) =>
          tx.invoice.findMany({
            where: { AND: [access, where as Prisma.InvoiceWhereInput, after ? { id: { gt: after } } : {}] },
            select: INVOICE_SELECT,
            orderBy: { id: 'asc' },
            take: limit,
          }),
        );
        after = rows.at(-1)?.id ?? after;
        return { text: rows.map((r) => encoder.record(r)).join(''), count: rows.length };
      },
    };
  }
  const encoder = new RecordEncoder<TicketExportRow>(format, TICKET_COLUMNS, neutralize);
  return {
    header: () => encoder.header(),
    async next(limit) {
      const rows = await db.run(scope, (tx) =>
        tx.ticket.findMany({
          where: { AND: [accessibleWhere(scope.ability, 'read', 'Ticket'), where as Prisma.TicketWhereInput, after ? { id: { gt: after } } : {}] },
          select: TICKET_SELECT,
          orderBy: { id: 'asc' },
          take: limit,
        }),
      );
      after = rows.at(-1)?.id ?? after;
      return { text: rows.map((r) => encoder.record(r)).join(''), count: rows.length };
    },
  };
}

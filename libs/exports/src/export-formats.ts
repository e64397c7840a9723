import { Injectable } from '@nestjs/common';
import { visibleFields, type HasAbility } from '@benteng/authz';
import type { ExportFormat, StoredExportFormat, StoredExportType } from './export.types.js';

/**
 * Characters that make a spreadsheet read a cell as a formula (OWASP "CSV Injection"): = + - @,
 * and tab or carriage return, which some importers strip before looking at the next character.
 */
const FORMULA_START = /^[=+\-@\t\r]/;

/** A cell a spreadsheet shows as text: a leading formula character gets a `'` before it. */
export function neutralizeCell(value: string): string {
  return FORMULA_START.test(value) ? `'${value}` : value;
}

/** How a CSV cell is made safe for spreadsheets (neutralizeCell; CsvFormulaGuard in the worker). */
export type CellNeutralizer = (value: string) => string;

/**
 * The formula neutralisation of CSV exports as an injectable unit: ExportRunHandler writes every
 * cell through it. Production always provides this class (ExportsWorkerModule); the seam exists so
 * the security suite can build a worker without it and show what a file would then contain.
 */
@Injectable()
export class CsvFormulaGuard {
  readonly neutralize: CellNeutralizer = (value) => neutralizeCell(value);
}

/** One CSV field (RFC 4180): neutralised, then quoted when it holds a quote, comma, CR or LF. */
export function csvField(value: string | null, neutralize: CellNeutralizer = neutralizeCell): string {
  if (value === null) return '';
  const text = neutralize(value);
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/** One CSV record, CRLF-terminated as RFC 4180 says. */
export function csvRecord(values: readonly (string | null)[], neutralize: CellNeutralizer = neutralizeCell): string {
  let line = '';
  for (let i = 0; i < values.length; i++) line += i === 0 ? csvField(values[i] ?? null, neutralize) : `,${csvField(values[i] ?? null, neutralize)}`;
  return `${line}\r\n`;
}

/** One JSON Lines record: the object on one line (JSON.stringify escapes CR, LF and lone surrogates). */
export function jsonlRecord(record: Readonly<Record<string, string | null>>): string {
  return `${JSON.stringify(record)}\n`;
}

/** Media types of the files (the download headers add `charset=utf-8` to text/csv; JSON is UTF-8 by definition). */
export const CONTENT_TYPES: Record<StoredExportFormat, string> = {
  csv: 'text/csv',
  jsonl: 'application/x-ndjson',
  json: 'application/json',
};

export const fileNameOf = (type: StoredExportType, format: StoredExportFormat, id: string): string => `${type}-${id}.${format}`;

/** A column of an export: its name (CSV header, JSON key) and how to read it from a row. */
export interface Column<R> {
  readonly name: string;
  readonly value: (row: R) => string | null;
}

/** The invoice fields an export reads: never creator ids, lines or internal timestamps. */
export interface InvoiceExportRow {
  id: string;
  number: string;
  status: string;
  currency: string;
  customerName: string;
  customerEmail: string | null;
  customerTaxId: string | null;
  totalMinor: bigint;
  dueDate: Date | null;
  issuedAt: Date | null;
  createdAt: Date;
}

export interface TicketExportRow {
  id: string;
  subject: string;
  status: string;
  priority: string;
  createdAt: Date;
  updatedAt: Date;
}

const iso = (date: Date | null): string | null => date?.toISOString() ?? null;
const day = (date: Date | null): string | null => date?.toISOString().slice(0, 10) ?? null;

/**
 * Every invoice column, in file order. A file carries the ones its requester may read
 * (invoiceColumns).
 */
const INVOICE_COLUMNS: readonly Column<InvoiceExportRow>[] = [
  { name: 'id', value: (r) => r.id },
  { name: 'number', value: (r) => r.number },
  { name: 'status', value: (r) => r.status },
  { name: 'currency', value: (r) => r.currency },
  { name: 'customerName', value: (r) => r.customerName },
  { name: 'customerEmail', value: (r) => r.customerEmail },
  { name: 'customerTaxId', value: (r) => r.customerTaxId },
  // Minor units as a decimal string, as the API sends them.
  { name: 'totalMinor', value: (r) => r.totalMinor.toString() },
  { name: 'dueDate', value: (r) => day(r.dueDate) },
  { name: 'issuedAt', value: (r) => iso(r.issuedAt) },
  { name: 'createdAt', value: (r) => iso(r.createdAt) },
];

/**
 * The invoice columns the requester may read, by the same field rules as the API's invoice
 * response (libs/authz visibleFields; viewers never see the customer's email or tax id,
 * libs/authz/src/rules/invoices.rules.ts). Viewers cannot request exports today; the rules are
 * applied anyway, so a change to the export rules cannot widen what a file shows.
 */
export function invoiceColumns(requester: HasAbility): Column<InvoiceExportRow>[] {
  const visible = visibleFields(requester, 'Invoice', null, INVOICE_COLUMNS.map((c) => c.name as keyof InvoiceExportRow));
  return INVOICE_COLUMNS.filter((c) => (visible as string[]).includes(c.name));
}

/** Ticket columns: no body, no people (opener, assignee), so no user ids. */
export const TICKET_COLUMNS: readonly Column<TicketExportRow>[] = [
  { name: 'id', value: (r) => r.id },
  { name: 'subject', value: (r) => r.subject },
  { name: 'status', value: (r) => r.status },
  { name: 'priority', value: (r) => r.priority },
  { name: 'createdAt', value: (r) => iso(r.createdAt) },
  { name: 'updatedAt', value: (r) => iso(r.updatedAt) },
];

/** Turns rows into the text of one format: a header first for CSV, then one record per row. */
export class RecordEncoder<R> {
  constructor(
    private readonly format: ExportFormat,
    private readonly columns: readonly Column<R>[],
    private readonly neutralize: CellNeutralizer = neutralizeCell,
  ) {}

  header(): string {
    return this.format === 'csv' ? csvRecord(this.columns.map((c) => c.name), this.neutralize) : '';
  }

  record(row: R): string {
    if (this.format === 'csv') return csvRecord(this.columns.map((c) => c.value(row)), this.neutralize);
    return jsonlRecord(Object.fromEntries(this.columns.map((c) => [c.name, c.value(row)])));
  }
}

/**
 * RecordEncoder for rows that arrive as text cells already formatted as the columns' `value`
 * functions would format them (ExportStreams: the invoice columns as text, in `names` order).
 * Same bytes, without building a row object and formatting it again.
 */
export class TextRecordEncoder {
  constructor(
    private readonly format: ExportFormat,
    private readonly names: readonly string[],
    private readonly neutralize: CellNeutralizer = neutralizeCell,
  ) {}

  records(rows: readonly (readonly (string | null)[])[]): string {
    let text = '';
    for (const row of rows) text += this.record(row);
    return text;
  }

  record(row: readonly (string | null)[]): string {
    if (this.format === 'csv') return csvRecord(row, this.neutralize);
    const record: Record<string, string | null> = {};
    for (let i = 0; i < this.names.length; i++) record[this.names[i]!] = row[i] ?? null;
    return jsonlRecord(record);
  }
}

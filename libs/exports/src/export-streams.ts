import type { Duplex, Writable } from 'node:stream';
import { Injectable, OnModuleDestroy } from '@nestjs/common';
import { isUuid } from '@benteng/common';
import { AppConfig, runtimeDatabaseUrl } from '@benteng/config';
import { copyOut, TenantSqlPool } from '@benteng/database';
import type { Scope } from '@benteng/tenancy';
import type { CopyTextRecords } from './copy-text-records.js';

/**
 * The export's hot path without Prisma: reading invoice rows as text and storing file chunks.
 *
 * Why (docs/benchmarks.md, "Changes and their effect — export"): through Prisma every 1,000-row
 * page went through the query compiler and result mapping (Date and BigInt objects, then formatted
 * back to text), and every 1 MiB chunk was sent to the query compiler as a base64 string, which
 * grew the worker's memory outside the V8 heap by ~200 MiB that it never gave back.
 *
 * The same rules hold as for TenantDatabase.run:
 * - every statement runs in a transaction whose first statement sets `app.tenant_id` locally, on a
 *   connection of the runtime role (RLS applies, FORCE: TenantSqlPool, libs/database);
 * - the rows are restricted by the requester's CASL ability: the read is only offered when the
 *   ability's condition for the rows is the tenant alone (`tenantOnly`), which the SQL then applies
 *   as `tenant_id = $1`; any other condition returns null, and the caller reads through Prisma with
 *   `accessibleBy` as before.
 *
 * Two small pools, created on first use, so a process that never exports holds no extra
 * connection: `reads` for the invoice reads (a COPY holds its connection for the whole file) and
 * `writes` for the chunks. Separate, because a COPY waits for its chunk writes (backpressure): with
 * one pool, two exports each holding a COPY connection would wait for ever for a chunk write.
 */

/** A row of text cells (NULL as null), in the order of the columns asked for. */
export type TextRow = (string | null)[];

/**
 * The invoice columns an export may read, as text exactly as the export writes them: ids and enums
 * as PostgreSQL prints them, money as the integer's decimal digits (BigInt#toString), the due date
 * as YYYY-MM-DD and timestamps as Date#toISOString prints them (UTC, milliseconds; the columns are
 * timestamptz(3)).
 */
const ISO = `'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'`;
export const INVOICE_TEXT_COLUMNS = {
  id: 'id::text',
  number: 'number',
  status: 'status::text',
  currency: 'currency::text',
  customerName: 'customer_name',
  customerEmail: 'customer_email',
  customerTaxId: 'customer_tax_id',
  totalMinor: 'total_minor::text',
  dueDate: `to_char(due_date, 'YYYY-MM-DD')`,
  issuedAt: `to_char(issued_at AT TIME ZONE 'UTC', ${ISO})`,
  createdAt: `to_char(created_at AT TIME ZONE 'UTC', ${ISO})`,
} as const;
export type InvoiceTextColumn = keyof typeof INVOICE_TEXT_COLUMNS;

export const INVOICE_STATUSES = ['draft', 'issued', 'paid', 'void'] as const;

/** The rows of an invoice export: its columns and filters (InvoiceTextPage without the paging). */
export type InvoiceCopyQuery = Omit<InvoiceTextPage, 'after' | 'limit'>;

export interface InvoiceTextPage {
  /** The columns, by name (INVOICE_TEXT_COLUMNS). */
  columns: readonly InvoiceTextColumn[];
  /** The export's filters: status, and created_at in [createdFrom, createdBefore). */
  status?: string;
  createdFrom?: Date;
  createdBefore?: Date;
  /** Keyset: rows with an id after this one, in id order. */
  after?: string;
  limit: number;
}

/**
 * True when a CASL `accessibleBy` condition (the Prisma where object) admits exactly the rows of
 * `tenantId`: `{ tenantId }` with that tenant, or an OR / AND of only such conditions. Anything
 * else — another field, an operator object, NOT, an empty OR (no rule matched), another tenant —
 * is false, and the caller must not use the raw read.
 */
export function tenantOnly(where: unknown, tenantId: string): boolean {
  if (where === null || typeof where !== 'object' || Array.isArray(where)) return false;
  const keys = Object.keys(where);
  if (keys.length !== 1) return false;
  const key = keys[0]!;
  const value = (where as Record<string, unknown>)[key];
  if (key === 'tenantId') return typeof value === 'string' && value === tenantId;
  if (key === 'OR' || key === 'AND') return Array.isArray(value) && value.length > 0 && value.every((branch) => tenantOnly(branch, tenantId));
  return false;
}

function literal(value: string): string {
  if (!/^[0-9A-Za-z:.-]+$/.test(value)) throw new Error('unsafe literal in an export COPY');
  return `'${value}'`;
}

/**
 * The SELECT of an invoice export for COPY, or null when `access` is not the tenant alone. COPY
 * takes no bind parameters, so the values are literals: each is checked first (a UUID, a status of
 * the enum, a valid Date printed by toISOString), and `literal` refuses anything but letters,
 * digits, `-`, `:` and `.`, so no value can end its quotes.
 */
export function invoiceCopySql(scope: Scope, access: unknown, query: InvoiceCopyQuery): string | null {
  if (!tenantOnly(access, scope.tenantId)) return null;
  if (!isUuid(scope.tenantId)) throw new Error('invalid tenant id');
  const select = query.columns.map((name) => {
    if (!Object.hasOwn(INVOICE_TEXT_COLUMNS, name)) throw new Error(`unknown invoice export column ${String(name)}`);
    return INVOICE_TEXT_COLUMNS[name];
  });
  const where = [`tenant_id = ${literal(scope.tenantId)}::uuid`];
  if (query.status !== undefined) {
    if (!(INVOICE_STATUSES as readonly string[]).includes(query.status)) throw new Error('invalid invoice status filter');
    where.push(`status = ${literal(query.status)}::invoice_status`);
  }
  for (const [column, op, date] of [
    ['created_at', '>=', query.createdFrom],
    ['created_at', '<', query.createdBefore],
  ] as const) {
    if (!date) continue;
    if (Number.isNaN(date.getTime())) throw new Error('invalid date filter');
    where.push(`${column} ${op} ${literal(date.toISOString())}::timestamptz`);
  }
  // `invoices.id`: the primary key's order (an index scan), not the text output column `id`.
  return `SELECT ${select.join(', ')} FROM invoices WHERE ${where.join(' AND ')} ORDER BY invoices.id`;
}

@Injectable()
export class ExportStreams implements OnModuleDestroy {
  private readonly sql: TenantSqlPool;
  private readonly writes: TenantSqlPool;

  constructor(config: AppConfig) {
    this.sql = new TenantSqlPool({ connectionString: () => runtimeDatabaseUrl(config), max: 2, applicationName: 'benteng-export' });
    this.writes = new TenantSqlPool({ connectionString: () => runtimeDatabaseUrl(config), max: 2, applicationName: 'benteng-export-write' });
  }

  /**
   * Streams every invoice row of an export through `records` (the formula guard, CopyTextRecords)
   * into `sink`, with one `COPY (SELECT …) TO STDOUT` in the requester's tenant transaction on a
   * connection of the runtime role, so RLS applies to the SELECT as to any read
   * (test/integration/export-streams.spec.ts shows it with the WHERE removed). Returns the number
   * of rows, or null when `access` is not the tenant alone (read through Prisma then).
   *
   * Why COPY (docs/benchmarks.md, "Changes and their effect — export"): the paged read sent every
   * row as a DataRow that node-pg parsed into an array of strings, one transaction per 2,000 rows;
   * COPY sends each row as one line of text that is split once, in one transaction.
   */
  async copyInvoices(scope: Scope, access: unknown, query: InvoiceCopyQuery, records: CopyTextRecords, sink: Writable): Promise<number | null> {
    const sql = invoiceCopySql(scope, access, query);
    if (sql === null) return null;
    await this.copy(scope, sql, records, sink);
    return records.rows;
  }

  /**
   * Runs `COPY (<select>) TO STDOUT` in the Scope's tenant transaction (runtime role, RLS) and
   * pipes the bytes through `transform` into `sink` (copyOut, libs/database: pg-copy-streams, with
   * backpressure, and a failed sink leaves the connection usable). The tenant condition is the
   * caller's SQL; RLS holds without it.
   */
  async copy(scope: Scope, select: string, transform: Duplex, sink: Writable): Promise<void> {
    await this.sql.run(scope, (client) => copyOut(client, `COPY (${select}) TO STDOUT`, transform, sink));
  }

  /**
   * One page of invoices as text rows, in the requester's tenant transaction. Null when `access`
   * (accessibleWhere(ability, 'read', 'Invoice')) is not the tenant alone: read through Prisma then.
   */
  async invoicePage(scope: Scope, access: unknown, page: InvoiceTextPage): Promise<TextRow[] | null> {
    if (!tenantOnly(access, scope.tenantId)) return null;
    const select = page.columns.map((name) => {
      if (!Object.hasOwn(INVOICE_TEXT_COLUMNS, name)) throw new Error(`unknown invoice export column ${String(name)}`);
      return INVOICE_TEXT_COLUMNS[name];
    });
    const values: unknown[] = [scope.tenantId];
    const where = ['tenant_id = $1::uuid'];
    if (page.status !== undefined) {
      if (!(INVOICE_STATUSES as readonly string[]).includes(page.status)) throw new Error('invalid invoice status filter');
      values.push(page.status);
      where.push(`status = $${values.length}::invoice_status`);
    }
    if (page.createdFrom) {
      values.push(page.createdFrom);
      where.push(`created_at >= $${values.length}::timestamptz`);
    }
    if (page.createdBefore) {
      values.push(page.createdBefore);
      where.push(`created_at < $${values.length}::timestamptz`);
    }
    if (page.after !== undefined) {
      if (!isUuid(page.after)) throw new Error('invalid keyset id');
      values.push(page.after);
      where.push(`id > $${values.length}::uuid`);
    }
    values.push(page.limit);
    // `invoices.id`, not `id`: ORDER BY would take the output column `id` (the text) and sort every
    // page in full instead of reading the primary key in order. Unnamed statement, so each page gets
    // a plan for its own values (a generic plan does not know the LIMIT or the filters).
    const text = `SELECT ${select.join(', ')} FROM invoices WHERE ${where.join(' AND ')} ORDER BY invoices.id LIMIT $${values.length}`;
    return this.sql.run(scope, async (client) => {
      const result = await client.query<TextRow>({ text, values, rowMode: 'array' });
      return result.rows;
    });
  }

  /**
   * Stores chunk `seq` of an export while that export is still running under `version` (a share
   * lock on the export row holds the check until the chunk commits; a newer claim waits or makes
   * this return false). The bytes go as a binary parameter, not as text.
   */
  writeChunk(scope: Scope, exportId: string, version: number, seq: number, bytes: Uint8Array): Promise<boolean> {
    const tenantId = scope.tenantId;
    return this.writes.run(scope, async (client) => {
      // Unnamed statements: named ones break behind PgBouncer in transaction mode (TenantSqlPool).
      const current = await client.query({
        text: `SELECT version FROM exports WHERE tenant_id = $1::uuid AND id = $2::uuid AND status = 'running' AND version = $3 FOR SHARE`,
        values: [tenantId, exportId, version],
      });
      if (current.rowCount !== 1) return false;
      await client.query({
        text: 'INSERT INTO export_chunks (tenant_id, id, export_id, seq, bytes) VALUES ($1::uuid, gen_random_uuid(), $2::uuid, $3, $4)',
        values: [tenantId, exportId, seq, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)],
      });
      return true;
    });
  }

  async onModuleDestroy(): Promise<void> {
    await Promise.all([this.sql.end(), this.writes.end()]);
  }
}

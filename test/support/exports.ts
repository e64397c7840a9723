import { readdirSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import type pg from 'pg';
import { ownerInTenant } from './db.js';

/** Invoices with the given customer names (one line-less invoice each), through the owner connection. */
export async function insertNamedInvoices(owner: pg.Pool, tenantId: string, createdById: string, names: readonly string[]): Promise<string[]> {
  return ownerInTenant(owner, tenantId, async (c) => {
    const ids: string[] = [];
    for (const [index, name] of names.entries()) {
      const id = randomUUID();
      await c.query(
        `INSERT INTO invoices (tenant_id, id, number, status, customer_name, customer_email, customer_tax_id, total_minor, created_by_id)
         VALUES ($1, $2, $3, 'issued', $4, 'ap@contoh.test', '01.234.567.8-901.000', $5, $6)`,
        [tenantId, id, `CSV-${index + 1}-${id.slice(0, 8)}`, name, 1000 + index, createdById],
      );
      ids.push(id);
    }
    return ids;
  });
}

/** `count` invoices in one INSERT ... SELECT generate_series (the owner connection). */
export async function insertManyInvoices(owner: pg.Pool, tenantId: string, createdById: string, count: number): Promise<void> {
  await ownerInTenant(owner, tenantId, (c) =>
    c.query(
      `INSERT INTO invoices (tenant_id, id, number, status, customer_name, customer_email, total_minor, created_by_id)
       SELECT $1, gen_random_uuid(), 'BULK-' || g, 'issued', 'PT Massal Sejahtera ' || g, 'bulk' || g || '@example.test', g * 100, $2
         FROM generate_series(1, $3::int) AS g`,
      [tenantId, createdById, count],
    ),
  );
}

export interface ExportRow {
  status: string;
  row_count: number | null;
  byte_size: string | null;
  sha256: string | null;
  error_code: string | null;
  version: number;
  chunks: number;
}

/** An export's row and its number of chunks, as the owner connection sees them. */
export async function exportRow(owner: pg.Pool, tenantId: string, id: string): Promise<ExportRow | undefined> {
  const { rows } = await owner.query<ExportRow>(
    `SELECT e.status, e.row_count, e.byte_size::text AS byte_size, e.sha256, e.error_code, e.version,
            (SELECT count(*)::int FROM export_chunks c WHERE c.tenant_id = e.tenant_id AND c.export_id = e.id) AS chunks
       FROM exports e WHERE e.tenant_id = $1 AND e.id = $2`,
    [tenantId, id],
  );
  return rows[0];
}

/** Polls until `done` holds for the export's row; throws with the last row on timeout. */
export async function waitForExport(owner: pg.Pool, tenantId: string, id: string, done: (row: ExportRow) => boolean, ms: number, everyMs = 100): Promise<ExportRow> {
  const deadline = Date.now() + ms;
  for (;;) {
    const row = await exportRow(owner, tenantId, id);
    if (row && done(row)) return row;
    if (Date.now() > deadline) throw new Error(`export ${id} never reached the expected state; last: ${JSON.stringify(row)}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

export interface AuditRow {
  type: string;
  outcome: string;
  actor: string;
  subject: string | null;
  data: Record<string, unknown>;
}

/** The audit events of a tenant about one subject (or of some types), oldest first. */
export async function auditOf(owner: pg.Pool, tenantId: string, filter: { subject?: string; types?: string[] }): Promise<AuditRow[]> {
  const { rows } = await owner.query<AuditRow>(
    `SELECT type, outcome, actor, subject, data FROM audit_events
      WHERE tenant_id = $1 AND ($2::text IS NULL OR subject = $2) AND ($3::text[] IS NULL OR type = ANY ($3))
      ORDER BY seq`,
    [tenantId, filter.subject ?? null, filter.types ?? null],
  );
  return rows;
}

/** RFC 4180 CSV (CRLF records, quoted fields with doubled quotes) into rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === '') quoted = true;
    else if (ch === ',') {
      row.push(field);
      field = '';
    } else if (ch === '\r' && text[i + 1] === '\n') {
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
      i++;
    } else field += ch;
  }
  if (field !== '' || row.length > 0) throw new Error('CSV does not end with CRLF');
  return rows;
}

/**
 * The pid of the compiled worker started with this QUEUE_PREFIX (found in /proc by its command
 * line and environment, since each test file's workers have a prefix of their own).
 */
export function workerPid(queuePrefix: string): number {
  const matches = readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return (
          readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('apps/worker/src/main.js') &&
          readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`QUEUE_PREFIX=${queuePrefix}`)
        );
      } catch {
        return false;
      }
    });
  if (matches.length !== 1) throw new Error(`expected one worker with QUEUE_PREFIX=${queuePrefix}, found ${matches.length}`);
  return Number(matches[0]);
}

/** Peak resident set size of a process so far (VmHWM), in MiB. */
export function peakRssMiB(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8')
    .split('\n')
    .find((l) => l.startsWith('VmHWM:'));
  if (!line) throw new Error('no VmHWM in /proc/<pid>/status');
  return Math.round((Number(/(\d+)\s*kB/.exec(line)?.[1]) / 1024) * 10) / 10;
}

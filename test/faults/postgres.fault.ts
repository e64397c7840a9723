import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditVerifier } from '@benteng/audit';
import { loadConfig } from '@benteng/config';
import { PrismaService, TenantDatabase } from '@benteng/database';
import { createTenant, type TestTenant } from '../support/factories.js';
import { setPasswords } from '../support/public-api.js';
import { call, login, startStack, until, type Stack } from './support/stack.js';

/**
 * PostgreSQL stops abruptly (immediate shutdown: open transactions are cut, crash recovery on the
 * next start) and comes back during write traffic (docs/faults.md, scenario 4), on a private
 * stack:
 *
 * - the API recovers without a restart: /health/ready goes non-200 then 200 with the same
 *   process, and writes succeed again;
 * - no write is half-applied: every invoice is there with all its lines and a total that matches
 *   them, or not at all; every ticket has exactly its one `ticket.created` outbox event, and no
 *   event lacks its ticket; every export request has exactly its one `export.requested` audit
 *   event and the reverse; every 201/202 the API gave is in the database; the tenant's hash-chained
 *   audit log still verifies;
 * - the worker recovers too: its outbox relay publishes every event, including those written
 *   after the restart, and every export requested before, during or after it is built.
 */
const LINES = [
  { description: 'Konsultasi', quantity: 2, unitPriceMinor: 150_000 },
  { description: 'Perjalanan', quantity: 1, unitPriceMinor: 75_000 },
  { description: 'Lisensi', quantity: 3, unitPriceMinor: 20_000 },
];
const TOTAL = LINES.reduce((sum, l) => sum + l.quantity * l.unitPriceMinor, 0);

interface Write {
  kind: 'invoice' | 'ticket' | 'export';
  key: string;
  startedAt: number;
  status: number;
  id?: string;
}

describe('faults: PostgreSQL restarts during writes', () => {
  let stack: Stack;
  let tenant: TestTenant;
  const password = `pw-${randomBytes(12).toString('base64url')}`;
  const run = randomBytes(3).toString('hex');

  beforeAll(async () => {
    stack = await startStack({ label: 'postgres' });
    tenant = await createTenant(stack.owner, 'faults-pg');
    await setPasswords(stack.owner, [tenant.users.owner.id], password);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('4. the API recovers without a restart and no write is half-applied', async () => {
    const { accessToken: token } = await login(stack.base, tenant.users.owner.email, password);
    const apiPid = stack.api.pid;
    const workerPid = stack.worker!.pid;

    const writes: Write[] = [];
    const readiness: { at: number; status: number }[] = [];
    let running = true;
    let n = 0;
    const loop = async (kind: Write['kind']) => {
      while (running) {
        const key = `pgf-${run}-${kind[0]}${++n}`;
        const startedAt = Date.now();
        const res =
          kind === 'invoice'
            ? await call(stack.base, 'POST', '/v1/invoices', { token, body: { number: key, customer: { name: 'PT Tahan Banting' }, lines: LINES }, timeoutMs: 15_000 })
            : kind === 'ticket'
              ? await call(stack.base, 'POST', '/v1/tickets', { token, body: { subject: key, body: 'written while PostgreSQL restarts' }, timeoutMs: 15_000 })
              : await call(stack.base, 'POST', '/v1/exports', { token, body: { type: 'tickets', format: 'csv' }, timeoutMs: 15_000 });
        const accepted = res.status === 201 || res.status === 202;
        writes.push({ kind, key, startedAt, status: res.status, ...(accepted ? { id: (res.body as { id: string }).id } : {}) });
        if (!accepted) await new Promise((r) => setTimeout(r, 50));
      }
    };
    const probe = async () => {
      while (running) {
        readiness.push({ at: Date.now(), status: await stack.ready() });
        await new Promise((r) => setTimeout(r, 100));
      }
    };
    const ok = (kind: Write['kind'], since: number) => writes.filter((w) => w.kind === kind && w.startedAt > since && w.status >= 200 && w.status < 300).length;
    const traffic = Promise.all([probe(), loop('invoice'), loop('invoice'), loop('ticket'), loop('ticket'), loop('export')]);

    let stoppedAt = 0;
    let backAt = 0;
    try {
      await until(async () => ok('invoice', 0) >= 5 && ok('ticket', 0) >= 5 && ok('export', 0) >= 2, 'writes before the restart', 30_000, 50);
      stoppedAt = Date.now();
      // Down for 2 s, so the API sees refused connections as well as cut ones.
      await stack.pg.restart(2_000);
      await until(async () => readiness.some((r) => r.at > stoppedAt && r.status !== 200) && readiness.some((r) => r.at > stoppedAt && r.status === 200 && readiness.some((x) => x.at > stoppedAt && x.at < r.at && x.status !== 200)), 'readiness red then green', 90_000, 50);
      backAt = Date.now();
      await until(async () => ok('invoice', backAt) >= 10 && ok('ticket', backAt) >= 10 && ok('export', backAt) >= 3, 'writes after the restart', 90_000, 50);
    } finally {
      running = false;
      await traffic;
    }

    const statuses = (kind: Write['kind']) => {
      const by = new Map<number, number>();
      for (const w of writes.filter((x) => x.kind === kind)) by.set(w.status, (by.get(w.status) ?? 0) + 1);
      return JSON.stringify(Object.fromEntries(by));
    };
    console.log(
      `faults: PostgreSQL restart: readiness ${readiness
        .map((r) => (r.status === 200 ? 'G' : 'R'))
        .join('')
        .replace(/G+/g, 'G')
        .replace(/R+/g, 'R')}; invoices ${statuses('invoice')}, tickets ${statuses('ticket')}, exports ${statuses('export')}`,
    );

    // The same API and worker processes, ready again, writing again.
    expect(stack.api.pid).toBe(apiPid);
    expect(stack.worker!.pid).toBe(workerPid);
    expect(await stack.ready()).toBe(200);
    for (const kind of ['invoice', 'ticket'] as const) expect(writes.filter((w) => w.kind === kind).slice(-5).map((w) => w.status), `${kind}`).toEqual(Array(5).fill(201));
    expect(writes.filter((w) => w.kind === 'export').slice(-3).map((w) => w.status)).toEqual(Array(3).fill(202));
    // A failure during the outage is a 503 (retry later) or no answer: never a client error, and never
    // a 500 (apps/api/src/http/problem-details.filter.ts maps an unreachable database to 503).
    for (const w of writes) expect([0, 201, 202, 503], `${w.kind} ${w.key}`).toContain(w.status);

    // Invoices: all lines and a matching total, or nothing.
    const { rows: invoices } = await stack.owner.query<{ id: string; number: string; total_minor: string; lines: number; sum: string | null }>(
      `SELECT i.id::text, i.number, i.total_minor::text, count(l.id)::int AS lines, sum(l.amount_minor)::text AS sum
         FROM invoices i LEFT JOIN invoice_lines l ON l.tenant_id = i.tenant_id AND l.invoice_id = i.id
        WHERE i.tenant_id = $1 AND i.number LIKE $2 GROUP BY i.id, i.number, i.total_minor`,
      [tenant.id, `pgf-${run}-%`],
    );
    for (const inv of invoices) expect(inv, `${inv.number}`).toMatchObject({ lines: LINES.length, total_minor: String(TOTAL), sum: String(TOTAL) });
    const invoiceByNumber = new Map(invoices.map((i) => [i.number, i.id]));
    for (const w of writes.filter((x) => x.kind === 'invoice' && x.status === 201)) expect(invoiceByNumber.get(w.key), `${w.key}`).toBe(w.id);
    // Nothing appears that was never asked for, and nothing twice.
    const asked = new Set(writes.filter((w) => w.kind === 'invoice').map((w) => w.key));
    for (const inv of invoices) expect(asked.has(inv.number), `${inv.number}`).toBe(true);

    // Tickets: exactly one ticket.created event each, and no event without its ticket.
    const { rows: tickets } = await stack.owner.query<{ id: string; subject: string; events: number }>(
      `SELECT t.id::text, t.subject, (SELECT count(*)::int FROM domain_events e WHERE e.tenant_id = t.tenant_id AND e.type = 'ticket.created' AND e.subject_id = t.id) AS events
         FROM tickets t WHERE t.tenant_id = $1 AND t.subject LIKE $2`,
      [tenant.id, `pgf-${run}-%`],
    );
    for (const t of tickets) expect(t.events, `${t.subject}`).toBe(1);
    const { rows: orphans } = await stack.owner.query(
      `SELECT e.id FROM domain_events e WHERE e.tenant_id = $1 AND e.type = 'ticket.created'
          AND NOT EXISTS (SELECT 1 FROM tickets t WHERE t.tenant_id = e.tenant_id AND t.id = e.subject_id)`,
      [tenant.id],
    );
    expect(orphans).toEqual([]);
    const ticketBySubject = new Map(tickets.map((t) => [t.subject, t.id]));
    for (const w of writes.filter((x) => x.kind === 'ticket' && x.status === 201)) expect(ticketBySubject.get(w.key), `${w.key}`).toBe(w.id);
    expect(new Set(tickets.map((t) => t.subject)).size).toBe(tickets.length);

    // Exports: exactly one export.requested audit event each, and none without its export.
    const { rows: exportsAudit } = await stack.owner.query<{ id: string; requested: number }>(
      `SELECT e.id::text, (SELECT count(*)::int FROM audit_events a WHERE a.tenant_id = e.tenant_id AND a.type = 'export.requested' AND a.subject = 'export:' || e.id::text) AS requested
         FROM exports e WHERE e.tenant_id = $1`,
      [tenant.id],
    );
    for (const e of exportsAudit) expect(e.requested, `export ${e.id}`).toBe(1);
    const { rows: auditOrphans } = await stack.owner.query(
      `SELECT a.subject FROM audit_events a WHERE a.tenant_id = $1 AND a.type = 'export.requested'
          AND NOT EXISTS (SELECT 1 FROM exports e WHERE e.tenant_id = a.tenant_id AND 'export:' || e.id::text = a.subject)`,
      [tenant.id],
    );
    expect(auditOrphans).toEqual([]);
    const exportIds = new Set(exportsAudit.map((e) => e.id));
    for (const w of writes.filter((x) => x.kind === 'export' && x.status === 202)) expect(exportIds.has(w.id!), `${w.id}`).toBe(true);

    // The audit log's hash chain is intact: no event half-written, none lost from the middle.
    const prisma = new PrismaService(loadConfig({ ...stack.env }));
    try {
      const chain = await new AuditVerifier(new TenantDatabase(prisma)).verify(tenant.id);
      expect(chain).toMatchObject({ ok: true });
    } finally {
      await prisma.onModuleDestroy();
    }

    // The worker recovered as well: every export is built (none is left queued without a job) ...
    await until(
      async () => {
        const { rows } = await stack.owner.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM exports WHERE tenant_id = $1 GROUP BY status', [tenant.id]);
        return rows.length === 1 && rows[0]!.status === 'ready';
      },
      'every export to be built',
      120_000,
      250,
    ).catch(async (error: Error) => {
      const { rows } = await stack.owner.query('SELECT status, error_code, count(*)::int AS n FROM exports WHERE tenant_id = $1 GROUP BY 1, 2', [tenant.id]);
      // The worker's last log lines say where a stuck export waits.
      throw new Error(`${error.message}: ${JSON.stringify(rows)}\nworker log (tail):\n${stack.worker!.output().slice(-6_000)}`);
    });
    // ... and its outbox relay publishes every event.
    await until(
      async () => {
        const { rows } = await stack.owner.query<{ n: number }>('SELECT count(*)::int AS n FROM domain_events WHERE tenant_id = $1 AND published_at IS NULL', [tenant.id]);
        return rows[0]!.n === 0;
      },
      'the outbox relay to publish every event',
      90_000,
      250,
    );
  });
});

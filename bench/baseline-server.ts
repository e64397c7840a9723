// Baseline B of the read-path benchmark: a bare Fastify handler doing the same reads as
// GET /v1/invoices/:id (the invoice row by primary key, then its lines by position) with `pg`, and
// nothing else: no authentication, no rate limit, no CASL, no RLS transaction (the owner
// connection, tenant from the path), no response mapping, no request logging.
// Started by bench/read-path.ts: BASELINE_DATABASE_URL, BASELINE_PORT, BASELINE_POOL_MAX.
import Fastify from 'fastify';
import pg from 'pg';

const pool = new pg.Pool({ connectionString: process.env.BASELINE_DATABASE_URL, max: Number(process.env.BASELINE_POOL_MAX ?? 10), application_name: 'benteng-bench-baseline' });
const app = Fastify({ logger: false });

const INVOICE = `SELECT id, number, status, currency, customer_name, customer_email, customer_tax_id, total_minor, due_date, issued_at, created_at, updated_at, version, created_by_id
                   FROM invoices WHERE tenant_id = $1 AND id = $2`;
const LINES = 'SELECT id, position, description, quantity, unit_price_minor, amount_minor FROM invoice_lines WHERE tenant_id = $1 AND invoice_id = $2 ORDER BY position';

app.get<{ Params: { tenant: string; id: string } }>('/invoices/:tenant/:id', async (request, reply) => {
  const { tenant, id } = request.params;
  const invoice = await pool.query({ name: 'invoice', text: INVOICE, values: [tenant, id] });
  if (invoice.rows.length === 0) return reply.code(404).send({ status: 404 });
  const lines = await pool.query({ name: 'lines', text: LINES, values: [tenant, id] });
  return { ...invoice.rows[0], lines: lines.rows };
});
app.get('/health', async () => ({ ok: true }));

await app.listen({ host: '127.0.0.1', port: Number(process.env.BASELINE_PORT) });
const stop = async () => {
  await app.close();
  await pool.end();
  process.exit(0);
};
process.once('SIGTERM', () => void stop());
process.once('SIGINT', () => void stop());

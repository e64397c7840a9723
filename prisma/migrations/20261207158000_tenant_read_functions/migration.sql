-- One round trip per hot tenant read (issue 18; docs/benchmarks.md, "security tax").
--
-- A tenant read used to be a transaction of four round trips: BEGIN, set_config('app.tenant_id',
-- …, true), the statement, COMMIT. A function that sets the tenant itself and then returns the rows
-- is one statement, so one round trip, with the same RLS:
-- - SECURITY INVOKER (never DEFINER): it runs as the caller, the runtime role benteng_app, under
--   FORCE RLS; the function bypasses nothing, it only sets the tenant the policies read.
-- - `SET app.tenant_id = ''`: PostgreSQL saves the setting on entry and restores it on exit,
--   whatever the body set. So the tenant set inside never outlives the call: outside a transaction
--   the statement is its own transaction anyway, and inside a caller's transaction (or after an
--   error) the setting is back to what it was before the call. Nothing is left on a pooled
--   connection (test/integration/tenant-read-functions.spec.ts).
-- - One statement, so it runs unchanged through PgBouncer in transaction mode.
-- The CASL read rule is still applied to the row in code (libs/invoices/src/invoices.repository.ts).

CREATE FUNCTION tenant_invoice_by_id(p_tenant_id uuid, p_id uuid)
RETURNS TABLE (
  "tenantId" uuid, id uuid, number text, status text, currency text, "customerName" text,
  "customerEmail" text, "customerTaxId" text, "totalMinor" bigint, "dueDate" date,
  "issuedAt" timestamptz, "createdById" uuid, "createdByClientId" uuid, version integer,
  "createdAt" timestamptz, "updatedAt" timestamptz, lines json
)
LANGUAGE plpgsql
SECURITY INVOKER
SET app.tenant_id = ''
AS $$
#variable_conflict use_column
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant_id::text, true);
  RETURN QUERY
    SELECT i.tenant_id, i.id, i.number, i.status::text, i.currency::text, i.customer_name,
           i.customer_email, i.customer_tax_id, i.total_minor, i.due_date,
           i.issued_at, i.created_by_id, i.created_by_client_id, i.version,
           i.created_at, i.updated_at,
           (SELECT json_agg(json_build_object('tenantId', l.tenant_id, 'id', l.id, 'invoiceId', l.invoice_id, 'position', l.position,
                     'description', l.description, 'quantity', l.quantity, 'unitPriceMinor', l.unit_price_minor::text,
                     'amountMinor', l.amount_minor::text) ORDER BY l.position)
              FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id)
      FROM invoices i
     WHERE i.id = p_id;
END
$$;

REVOKE ALL ON FUNCTION tenant_invoice_by_id(uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_invoice_by_id(uuid, uuid) TO benteng_app;

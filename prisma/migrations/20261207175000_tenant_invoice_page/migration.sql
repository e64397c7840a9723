-- The invoice list page in one round trip (issue 18; docs/benchmarks.md, "Issue 18").
--
-- The same pattern as tenant_invoice_by_id (20261207158000_tenant_read_functions): SECURITY
-- INVOKER (never DEFINER), so it runs as the runtime role under FORCE RLS and bypasses nothing;
-- `SET app.tenant_id = ''` restores the setting when it returns, whatever the body set; the body
-- sets the tenant with set_config(…, true) and returns the rows. One statement, so it runs
-- unchanged through PgBouncer in transaction mode.
--
-- The page is exactly what InvoicesRepository.list asked Prisma for: the CASL read condition (the
-- tenant, and the equalities p_created_by_id, p_created_by_client_id, p_rule_status when the rule
-- has them; a rule the parameters cannot express never reaches this function, the repository reads
-- through Prisma then: libs/authz accessibleEqualities), the status filter, the keyset after
-- (p_after_value, p_after_id) in the order (sort column, id) with NULL due dates last ascending and
-- first descending (libs/database/src/keyset.ts), and the limit; each invoice with its lines as
-- json, ordered by position. The ORDER BY column and direction come from a closed list below, never
-- from the caller's text; every value is a bound parameter.

CREATE FUNCTION tenant_invoice_page(
  p_tenant_id uuid,
  p_status invoice_status,
  p_sort text,
  p_descending boolean,
  p_after_value text,
  p_after_id uuid,
  p_limit integer,
  p_created_by_id uuid,
  p_created_by_client_id uuid,
  p_rule_status invoice_status
)
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
DECLARE
  sort_column text := CASE p_sort WHEN 'createdAt' THEN 'created_at' WHEN 'number' THEN 'number' WHEN 'dueDate' THEN 'due_date' END;
  sort_type text := CASE p_sort WHEN 'createdAt' THEN 'timestamptz' WHEN 'number' THEN 'text' WHEN 'dueDate' THEN 'date' END;
  direction text := CASE p_descending WHEN true THEN 'DESC' WHEN false THEN 'ASC' END;
  beyond text := CASE p_descending WHEN true THEN '<' WHEN false THEN '>' END;
  filters text := '';
BEGIN
  IF sort_column IS NULL OR direction IS NULL OR p_tenant_id IS NULL OR p_limit IS NULL OR p_limit < 1 THEN
    RAISE EXCEPTION 'tenant_invoice_page: invalid page request' USING ERRCODE = '22023';
  END IF;
  IF p_status IS NOT NULL THEN filters := filters || ' AND i.status = $2'; END IF;
  IF p_created_by_id IS NOT NULL THEN filters := filters || ' AND i.created_by_id = $6'; END IF;
  IF p_created_by_client_id IS NOT NULL THEN filters := filters || ' AND i.created_by_client_id = $7'; END IF;
  IF p_rule_status IS NOT NULL THEN filters := filters || ' AND i.status = $8'; END IF;
  IF p_after_id IS NOT NULL THEN
    IF p_after_value IS NULL THEN
      -- After a NULL: ascending, only later NULLs follow; descending, later NULLs and every value.
      filters := filters || CASE p_descending
        WHEN true THEN format(' AND ((i.%1$I IS NULL AND i.id < $4) OR i.%1$I IS NOT NULL)', sort_column)
        ELSE format(' AND i.%1$I IS NULL AND i.id > $4', sort_column) END;
    ELSE
      -- After a value: later values, or the same value with a later id; ascending, NULLs (last) too.
      filters := filters || format(' AND (i.%1$I %2$s $3::%3$s OR (i.%1$I = $3::%3$s AND i.id %2$s $4)%4$s)', sort_column, beyond, sort_type,
        CASE WHEN NOT p_descending AND sort_column = 'due_date' THEN ' OR i.due_date IS NULL' ELSE '' END);
    END IF;
  END IF;
  PERFORM set_config('app.tenant_id', p_tenant_id::text, true);
  RETURN QUERY EXECUTE format(
    'SELECT i.tenant_id, i.id, i.number, i.status::text, i.currency::text, i.customer_name,
            i.customer_email, i.customer_tax_id, i.total_minor, i.due_date,
            i.issued_at, i.created_by_id, i.created_by_client_id, i.version,
            i.created_at, i.updated_at,
            (SELECT json_agg(json_build_object(''tenantId'', l.tenant_id, ''id'', l.id, ''invoiceId'', l.invoice_id, ''position'', l.position,
                      ''description'', l.description, ''quantity'', l.quantity, ''unitPriceMinor'', l.unit_price_minor::text,
                      ''amountMinor'', l.amount_minor::text) ORDER BY l.position)
               FROM invoice_lines l WHERE l.tenant_id = i.tenant_id AND l.invoice_id = i.id)
       FROM invoices i
      WHERE i.tenant_id = $1%1$s
      ORDER BY i.%2$I %3$s, i.id %3$s
      LIMIT $5', filters, sort_column, direction)
  USING p_tenant_id, p_status, p_after_value, p_after_id, p_limit, p_created_by_id, p_created_by_client_id, p_rule_status;
END
$$;

REVOKE ALL ON FUNCTION tenant_invoice_page(uuid, invoice_status, text, boolean, text, uuid, integer, uuid, uuid, invoice_status) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_invoice_page(uuid, invoice_status, text, boolean, text, uuid, integer, uuid, uuid, invoice_status) TO benteng_app;

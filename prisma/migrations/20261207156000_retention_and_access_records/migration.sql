-- Retention and breach scoping (docs/privacy.md, "Retention" and "Breach scoping").
--
-- 1. access_records: the durable record of who read or changed which personal-data record, one row
--    per answered request on such a route (apps/api/src/http/access-recorder.ts). The audit trail
--    records security events and some changes; reads were recorded nowhere durable (the abuse
--    detector's counters live in Redis for a minute), so a breach could not be scoped to the
--    records a stolen credential read. A tenant table like any other: RLS, tenant-led key. The
--    runtime role may insert and read its tenant's rows, never change or delete them.
CREATE TABLE "access_records" (
  "tenant_id"   uuid           NOT NULL,
  "id"          uuid           NOT NULL,
  "occurred_at" timestamptz(3) NOT NULL,
  -- user:<uuid> or partner:<uuid>
  "principal"   text           NOT NULL,
  -- session:<uuid>, partner_key:<uuid> or partner_client:<uuid> (a client-credentials token)
  "credential"  text,
  "ip"          text,
  "request_id"  text,
  "action"      text           NOT NULL,
  "method"      text           NOT NULL,
  "route"       text           NOT NULL,
  "record_type" text           NOT NULL,
  -- null for a list read
  "record_id"   uuid,
  "status"      integer        NOT NULL,
  CONSTRAINT "access_records_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "access_records_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "access_records_principal_format" CHECK ("principal" ~ '^(user|partner):[0-9a-f-]{36}$'),
  CONSTRAINT "access_records_action" CHECK ("action" IN ('read', 'change'))
);
CREATE INDEX "access_records_tenant_id_occurred_at_idx" ON "access_records" ("tenant_id", "occurred_at");
CREATE INDEX "access_records_principal_occurred_at_idx" ON "access_records" ("principal", "occurred_at");
CREATE INDEX "access_records_credential_idx" ON "access_records" ("credential");
CREATE INDEX "access_records_occurred_at_idx" ON "access_records" ("occurred_at");

ALTER TABLE "access_records" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "access_records" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "access_records"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);
GRANT SELECT, INSERT ON "access_records" TO benteng_app;

-- 2. Retention (prisma/retention.ts): one named platform function deletes the expired rows of one
-- table, older than the cutoff the caller computed from the table's rule (its period, from its
-- environment variable). Each table's condition is written here, fixed: the caller chooses the
-- table and the time, never the SQL. An unknown table is an error, so a rule without a branch here
-- fails the first run (and test/integration/retention.spec.ts). Replaces platform_purge_expired.
CREATE FUNCTION platform_retention_purge(p_table text, p_cutoff timestamptz)
RETURNS bigint
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  removed bigint;
BEGIN
  IF p_cutoff IS NULL THEN
    RAISE EXCEPTION 'platform_retention_purge: cutoff required';
  END IF;
  CASE p_table
    WHEN 'idempotency_keys' THEN
      DELETE FROM idempotency_keys WHERE created_at < p_cutoff;
    WHEN 'session_revocations' THEN
      DELETE FROM session_revocations WHERE revoked_at < p_cutoff;
    -- Refresh tokens first: expired ones, and every token of a session the sessions rule removes
    -- (so the count is exact and nothing goes by cascade unseen).
    WHEN 'refresh_tokens' THEN
      DELETE FROM refresh_tokens r
       WHERE r.expires_at < p_cutoff
          OR EXISTS (SELECT 1 FROM sessions s
                      WHERE s.tenant_id = r.tenant_id AND s.id = r.session_id
                        AND least(s.expires_at, coalesce(s.revoked_at, s.expires_at)) < p_cutoff);
    -- A session ended (expired or revoked) before the cutoff.
    WHEN 'sessions' THEN
      DELETE FROM sessions WHERE least(expires_at, coalesce(revoked_at, expires_at)) < p_cutoff;
    -- The stored file of an export that can no longer be downloaded: ready or expired past its
    -- expiry (whatever pieces an expired one kept), failed before the cutoff.
    WHEN 'export_chunks' THEN
      DELETE FROM export_chunks c
       USING exports e
       WHERE e.tenant_id = c.tenant_id AND e.id = c.export_id
         AND ((e.status = 'expired' AND e.expires_at < p_cutoff)
              OR (e.status = 'failed' AND coalesce(e.completed_at, e.created_at) < p_cutoff)
              OR (e.status = 'ready' AND e.expires_at < p_cutoff));
    -- The export record itself, once finished and past its expiry (or created, for a failed one,
    -- which has none) before the cutoff. Its chunks went by the rule above.
    WHEN 'exports' THEN
      DELETE FROM exports
       WHERE status IN ('ready', 'failed', 'expired') AND coalesce(expires_at, completed_at, created_at) < p_cutoff;
    -- The delivery log: attempts older than the cutoff, and every attempt of a delivery the
    -- deliveries rule removes.
    WHEN 'webhook_attempts' THEN
      DELETE FROM webhook_attempts a
       WHERE a.attempted_at < p_cutoff
          OR EXISTS (SELECT 1 FROM webhook_deliveries d
                      WHERE d.tenant_id = a.tenant_id AND d.id = a.delivery_id
                        AND d.status IN ('succeeded', 'failed') AND d.updated_at < p_cutoff);
    -- Finished deliveries (succeeded, or failed for good); pending ones are still work.
    WHEN 'webhook_deliveries' THEN
      DELETE FROM webhook_deliveries WHERE status IN ('succeeded', 'failed') AND updated_at < p_cutoff;
    -- Published outbox events (their payload copies the record they describe).
    WHEN 'domain_events' THEN
      DELETE FROM domain_events WHERE published_at IS NOT NULL AND published_at < p_cutoff;
    -- An invitation that ended (accepted, revoked or expired) before the cutoff.
    WHEN 'invitations' THEN
      DELETE FROM invitations WHERE least(expires_at, coalesce(accepted_at, expires_at), coalesce(revoked_at, expires_at)) < p_cutoff;
    -- An abuse block that ended (lifted or expired) before the cutoff.
    WHEN 'security_blocks' THEN
      DELETE FROM security_blocks WHERE least(expires_at, coalesce(lifted_at, expires_at)) < p_cutoff;
    WHEN 'access_records' THEN
      DELETE FROM access_records WHERE occurred_at < p_cutoff;
    -- A Prometheus scrape credential that ended (revoked or expired) before the cutoff.
    WHEN 'metrics_scrape_credentials' THEN
      DELETE FROM metrics_scrape_credentials
       WHERE least(coalesce(expires_at, 'infinity'), coalesce(revoked_at, 'infinity')) < p_cutoff;
    ELSE
      RAISE EXCEPTION 'platform_retention_purge: no retention rule for table %', p_table;
  END CASE;
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END
$$;

GRANT SELECT ("tenant_id", "id", "session_id", "expires_at"), DELETE ON "refresh_tokens" TO benteng_platform;
GRANT SELECT ("expires_at"), DELETE ON "sessions" TO benteng_platform;
GRANT SELECT ("tenant_id", "export_id"), DELETE ON "export_chunks" TO benteng_platform;
GRANT SELECT ("completed_at", "created_at"), DELETE ON "exports" TO benteng_platform;
GRANT SELECT ("tenant_id", "delivery_id", "attempted_at"), DELETE ON "webhook_attempts" TO benteng_platform;
GRANT SELECT ("updated_at"), DELETE ON "webhook_deliveries" TO benteng_platform;
GRANT DELETE ON "domain_events" TO benteng_platform;
GRANT DELETE ON "invitations" TO benteng_platform;
GRANT DELETE ON "security_blocks" TO benteng_platform;
GRANT SELECT ("tenant_id", "occurred_at"), DELETE ON "access_records" TO benteng_platform;
GRANT DELETE ON "metrics_scrape_credentials" TO benteng_platform;
ALTER FUNCTION platform_retention_purge(text, timestamptz) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION platform_retention_purge(text, timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_retention_purge(text, timestamptz) TO benteng_app;

DROP FUNCTION platform_purge_expired(timestamptz);

-- 3. Breach scoping (POST /internal/v1/incidents/breach-scope, libs/platform/src/breach-scope.ts):
-- every access record and audit event of a compromised credential, or of a set of principals or
-- addresses in a window, each with the data subjects of the record it names as the database holds
-- it now. p_credential: session:<uuid> or partner_key:<uuid> (access records name the credential;
-- audit events name the principal, so for those the credential's holder in its tenant during its
-- lifetime counts). An operator function: benteng_internal only.
CREATE FUNCTION internal_breach_scope(p_credential text, p_principals text[], p_ips text[], p_from timestamptz, p_to timestamptz, p_limit integer)
RETURNS TABLE (source text, tenant_id uuid, occurred_at timestamptz, principal text, action text, record_type text, record_id text,
               event_type text, subjects text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  WITH cred AS (
    SELECT s.tenant_id, 'user:' || s.user_id::text AS principal, s.created_at AS from_at,
           least(s.expires_at, coalesce(s.revoked_at, s.expires_at)) AS to_at
      FROM sessions s WHERE p_credential = 'session:' || s.id::text
    UNION ALL
    SELECT k.tenant_id, 'partner:' || k.client_id::text, k.created_at,
           least(coalesce(k.expires_at, 'infinity'), coalesce(k.revoked_at, 'infinity'))
      FROM partner_api_keys k WHERE p_credential = 'partner_key:' || k.id::text
  ),
  hits AS (
    SELECT 'access'::text AS source, a.tenant_id, a.occurred_at, a.principal, a.action, a.record_type, a.record_id::text AS record_id, NULL::text AS event_type
      FROM access_records a
     WHERE (p_from IS NULL OR a.occurred_at >= p_from) AND (p_to IS NULL OR a.occurred_at < p_to)
       AND (a.credential = p_credential OR a.principal = ANY (coalesce(p_principals, '{}')) OR a.ip = ANY (coalesce(p_ips, '{}')))
    UNION ALL
    SELECT 'audit', e.tenant_id, e.occurred_at, e.actor, 'change', nullif(split_part(coalesce(e.subject, ''), ':', 1), ''),
           nullif(split_part(coalesce(e.subject, ''), ':', 2), ''), e.type
      FROM audit_events e
     WHERE (p_from IS NULL OR e.occurred_at >= p_from) AND (p_to IS NULL OR e.occurred_at < p_to)
       AND (e.actor = ANY (coalesce(p_principals, '{}')) OR e.ip = ANY (coalesce(p_ips, '{}'))
            OR EXISTS (SELECT 1 FROM cred c WHERE c.tenant_id = e.tenant_id AND c.principal = e.actor
                                                AND e.occurred_at >= c.from_at AND e.occurred_at <= c.to_at))
  )
  SELECT h.source, h.tenant_id, h.occurred_at, h.principal, h.action, h.record_type, h.record_id, h.event_type,
         CASE WHEN h.record_id IS NULL OR h.record_id !~ '^[0-9a-f-]{36}$' THEN '{}'::text[]
         ELSE coalesce((
           SELECT array_agg(DISTINCT x ORDER BY x) FROM (
             SELECT 'customer:' || coalesce(lower(i.customer_email), i.customer_name) AS x FROM invoices i
              WHERE h.record_type = 'invoice' AND i.tenant_id = h.tenant_id AND i.id = h.record_id::uuid
             UNION ALL
             SELECT 'user:' || u.uid::text FROM tickets t, LATERAL (VALUES (t.opened_by_id), (t.assignee_id)) u(uid)
              WHERE h.record_type = 'ticket' AND t.tenant_id = h.tenant_id AND t.id = h.record_id::uuid AND u.uid IS NOT NULL
             UNION ALL
             SELECT 'user:' || d.uploaded_by_id::text FROM documents d
              WHERE h.record_type = 'document' AND d.tenant_id = h.tenant_id AND d.id = h.record_id::uuid
             UNION ALL
             SELECT 'user:' || x.requested_by_id::text FROM exports x
              WHERE h.record_type = 'export' AND x.tenant_id = h.tenant_id AND x.id = h.record_id::uuid
             UNION ALL
             SELECT 'user:' || m.user_id::text FROM memberships m
              WHERE h.record_type = 'membership' AND m.tenant_id = h.tenant_id AND (m.id = h.record_id::uuid OR m.user_id = h.record_id::uuid)
             UNION ALL
             SELECT 'invitee:' || lower(v.email) FROM invitations v
              WHERE h.record_type = 'invitation' AND v.tenant_id = h.tenant_id AND v.id = h.record_id::uuid
             UNION ALL
             SELECT 'user:' || s.user_id::text FROM sessions s
              WHERE h.record_type = 'session' AND s.tenant_id = h.tenant_id AND s.id = h.record_id::uuid
             UNION ALL
             SELECT 'user:' || h.record_id WHERE h.record_type = 'user'
           ) found), '{}'::text[])
         END
    FROM hits h
   ORDER BY h.occurred_at, h.tenant_id, h.source
   LIMIT least(greatest(coalesce(p_limit, 10000), 1), 10000);
$$;

GRANT SELECT ("tenant_id", "id", "user_id", "created_at", "expires_at", "revoked_at") ON "sessions" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "client_id", "created_at", "expires_at", "revoked_at") ON "partner_api_keys" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "occurred_at", "principal", "credential", "ip", "action", "record_type", "record_id") ON "access_records" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "customer_email", "customer_name") ON "invoices" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "opened_by_id", "assignee_id") ON "tickets" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "uploaded_by_id") ON "documents" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "requested_by_id") ON "exports" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "user_id") ON "memberships" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "email") ON "invitations" TO benteng_platform;
ALTER FUNCTION internal_breach_scope(text, text[], text[], timestamptz, timestamptz, integer) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION internal_breach_scope(text, text[], text[], timestamptz, timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION internal_breach_scope(text, text[], text[], timestamptz, timestamptz, integer) TO benteng_internal;

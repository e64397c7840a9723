-- Tenant-safe jobs: exports (files written in chunks, so memory stays flat however large the
-- export), outbound webhooks (endpoints with encrypted secrets, deliveries and their attempts),
-- and inbound payment events (provider account → tenant mapping, per-tenant receipts).

-- Exports ------------------------------------------------------------------------------------------
CREATE TYPE "export_status" AS ENUM ('queued', 'running', 'ready', 'failed', 'expired');

CREATE TABLE "exports" (
  "tenant_id"       uuid           NOT NULL,
  "id"              uuid           NOT NULL,
  "type"            text           NOT NULL,
  "format"          text           NOT NULL,
  "filters"         jsonb          NOT NULL DEFAULT '{}',
  "status"          export_status  NOT NULL DEFAULT 'queued',
  "requested_by_id" uuid           NOT NULL,
  "row_count"       integer,
  "byte_size"       bigint,
  "sha256"          text,
  "error_code"      text,
  "created_at"      timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "started_at"      timestamptz(3),
  "completed_at"    timestamptz(3),
  "expires_at"      timestamptz(3),
  "version"         integer        NOT NULL DEFAULT 1,
  CONSTRAINT "exports_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "exports_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "exports_requested_by_id_fkey" FOREIGN KEY ("requested_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "exports_type" CHECK ("type" IN ('invoices', 'tickets')),
  CONSTRAINT "exports_format" CHECK ("format" IN ('csv', 'jsonl'))
);
CREATE INDEX "exports_tenant_id_created_at_idx" ON "exports" ("tenant_id", "created_at");
CREATE INDEX "exports_expires_at_idx" ON "exports" ("expires_at");

-- The file of an export, in order. A retried export replaces its chunks.
CREATE TABLE "export_chunks" (
  "tenant_id" uuid    NOT NULL,
  "id"        uuid    NOT NULL,
  "export_id" uuid    NOT NULL,
  "seq"       integer NOT NULL,
  "bytes"     bytea   NOT NULL,
  CONSTRAINT "export_chunks_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "export_chunks_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "export_chunks_tenant_id_export_id_fkey" FOREIGN KEY ("tenant_id", "export_id") REFERENCES "exports" ("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "export_chunks_tenant_id_export_id_seq_key" ON "export_chunks" ("tenant_id", "export_id", "seq");

-- Outbound webhooks --------------------------------------------------------------------------------
CREATE TABLE "webhook_endpoints" (
  "tenant_id"                  uuid           NOT NULL,
  "id"                         uuid           NOT NULL,
  "url"                        text           NOT NULL,
  "description"                text,
  "events"                     text[]         NOT NULL,
  "enabled"                    boolean        NOT NULL DEFAULT true,
  -- AES-256-GCM under DATA_ENCRYPTION_KEYS: never the secret in clear.
  "secret_ciphertext"          text           NOT NULL,
  -- The secret before the last rotation, still signing beside the new one until it expires.
  "previous_secret_ciphertext" text,
  "previous_secret_expires_at" timestamptz(3),
  "failing_since"              timestamptz(3),
  "disabled_at"                timestamptz(3),
  "disabled_reason"            text,
  "created_by_id"              uuid           NOT NULL,
  "version"                    integer        NOT NULL DEFAULT 1,
  "created_at"                 timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at"                 timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "webhook_endpoints_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "webhook_endpoints_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "webhook_endpoints_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "webhook_endpoints_url_length" CHECK (length("url") BETWEEN 8 AND 2048),
  CONSTRAINT "webhook_endpoints_disabled_reason" CHECK ("disabled_reason" IS NULL OR "disabled_reason" IN ('gone', 'failing', 'manual'))
);
CREATE INDEX "webhook_endpoints_tenant_id_created_at_idx" ON "webhook_endpoints" ("tenant_id", "created_at");

-- One delivery per (endpoint, message): `message_id` is the webhook-id header, stable across
-- retries, so a receiver can deduplicate.
CREATE TABLE "webhook_deliveries" (
  "tenant_id"        uuid           NOT NULL,
  "id"               uuid           NOT NULL,
  "endpoint_id"      uuid           NOT NULL,
  "message_id"       text           NOT NULL,
  "event_type"       text           NOT NULL,
  "event_id"         uuid,
  "payload"          jsonb          NOT NULL,
  "status"           text           NOT NULL DEFAULT 'pending',
  "attempts"         integer        NOT NULL DEFAULT 0,
  "next_attempt_at"  timestamptz(3),
  "last_status_code" integer,
  "delivered_at"     timestamptz(3),
  "created_at"       timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at"       timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "webhook_deliveries_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "webhook_deliveries_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "webhook_deliveries_tenant_id_endpoint_id_fkey" FOREIGN KEY ("tenant_id", "endpoint_id") REFERENCES "webhook_endpoints" ("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT "webhook_deliveries_status" CHECK ("status" IN ('pending', 'succeeded', 'failed'))
);
CREATE UNIQUE INDEX "webhook_deliveries_tenant_id_endpoint_id_message_id_key" ON "webhook_deliveries" ("tenant_id", "endpoint_id", "message_id");
CREATE INDEX "webhook_deliveries_tenant_id_endpoint_id_created_at_idx" ON "webhook_deliveries" ("tenant_id", "endpoint_id", "created_at");
CREATE INDEX "webhook_deliveries_status_next_attempt_at_idx" ON "webhook_deliveries" ("status", "next_attempt_at");

-- The delivery log: one row per attempt.
CREATE TABLE "webhook_attempts" (
  "tenant_id"        uuid           NOT NULL,
  "id"               uuid           NOT NULL,
  "delivery_id"      uuid           NOT NULL,
  "attempt"          integer        NOT NULL,
  "status_code"      integer,
  "latency_ms"       integer        NOT NULL,
  "error"            text,
  "response_excerpt" text,
  "attempted_at"     timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "webhook_attempts_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "webhook_attempts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "webhook_attempts_tenant_id_delivery_id_fkey" FOREIGN KEY ("tenant_id", "delivery_id") REFERENCES "webhook_deliveries" ("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "webhook_attempts_tenant_id_delivery_id_attempt_idx" ON "webhook_attempts" ("tenant_id", "delivery_id", "attempt");

-- Inbound payments -----------------------------------------------------------------------------------
-- Which tenant a payment provider's account belongs to. Read before any tenant is known, only
-- through payments_tenant_for_account.
CREATE TABLE "payment_accounts" (
  "tenant_id"  uuid           NOT NULL,
  "id"         uuid           NOT NULL DEFAULT gen_random_uuid(),
  "provider"   text           NOT NULL,
  "account_id" text           NOT NULL,
  "created_at" timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "payment_accounts_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "payment_accounts_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "payment_accounts_provider_account_id_key" ON "payment_accounts" ("provider", "account_id");

-- Every accepted provider event, once per webhook-id (the database's own deduplication).
CREATE TABLE "payment_events" (
  "tenant_id"   uuid           NOT NULL,
  "id"          uuid           NOT NULL,
  "provider"    text           NOT NULL,
  "message_id"  text           NOT NULL,
  "event_type"  text           NOT NULL,
  "invoice_id"  uuid,
  "outcome"     text           NOT NULL,
  "received_at" timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "payment_events_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "payment_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "payment_events_tenant_id_provider_message_id_key" ON "payment_events" ("tenant_id", "provider", "message_id");

-- Row-level security ------------------------------------------------------------------------------------
ALTER TABLE "exports" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "exports" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "exports"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "export_chunks" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "export_chunks" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "export_chunks"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "webhook_endpoints" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "webhook_endpoints" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "webhook_endpoints"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "webhook_deliveries" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "webhook_deliveries" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "webhook_deliveries"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "webhook_attempts" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "webhook_attempts" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "webhook_attempts"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "payment_accounts" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "payment_accounts" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "payment_accounts"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "payment_events" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "payment_events" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "payment_events"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON "exports" TO benteng_app;
GRANT SELECT, INSERT, DELETE ON "export_chunks" TO benteng_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON "webhook_endpoints" TO benteng_app;
GRANT SELECT, INSERT, UPDATE ON "webhook_deliveries" TO benteng_app;
GRANT SELECT, INSERT ON "webhook_attempts" TO benteng_app;
GRANT SELECT, INSERT, DELETE ON "payment_accounts" TO benteng_app;
GRANT SELECT, INSERT ON "payment_events" TO benteng_app;

-- Platform paths (ARCHITECTURE.md, invariant 4): each one named, narrow, owned by benteng_platform
-- and executable only by benteng_app. They return ids to work on; the work itself runs in each
-- tenant's own Scope.

-- The outbox relay: events not yet published, oldest first, with the tenant each belongs to.
CREATE FUNCTION outbox_pending(p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id, id FROM domain_events WHERE published_at IS NULL ORDER BY occurred_at, id LIMIT least(greatest(p_limit, 1), 1000);
$$;
CREATE INDEX "domain_events_published_at_occurred_at_id_idx" ON "domain_events" ("published_at", "occurred_at", "id");

-- The delivery sweeper: pending deliveries whose next attempt is due (a lost job is re-queued).
CREATE FUNCTION webhook_deliveries_due(p_before timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id, id FROM webhook_deliveries
   WHERE status = 'pending' AND next_attempt_at <= p_before
   ORDER BY next_attempt_at LIMIT least(greatest(p_limit, 1), 1000);
$$;

-- Export cleanup: exports whose file has expired (the platform cleanup job deletes them per tenant).
CREATE FUNCTION exports_expired(p_now timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id, id FROM exports
   WHERE expires_at IS NOT NULL AND expires_at <= p_now AND status = 'ready'
   ORDER BY expires_at LIMIT least(greatest(p_limit, 1), 1000);
$$;

-- Inbound payments: the one tenant a provider account belongs to.
CREATE FUNCTION payments_tenant_for_account(p_provider text, p_account_id text)
RETURNS uuid
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT a.tenant_id FROM payment_accounts a JOIN tenants t ON t.id = a.tenant_id
   WHERE a.provider = p_provider AND a.account_id = p_account_id AND t.status = 'active';
$$;

GRANT SELECT ("tenant_id", "id", "published_at", "occurred_at") ON "domain_events" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "status", "next_attempt_at") ON "webhook_deliveries" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "status", "expires_at") ON "exports" TO benteng_platform;
GRANT SELECT ("tenant_id", "provider", "account_id") ON "payment_accounts" TO benteng_platform;

ALTER FUNCTION outbox_pending(integer) OWNER TO benteng_platform;
ALTER FUNCTION webhook_deliveries_due(timestamptz, integer) OWNER TO benteng_platform;
ALTER FUNCTION exports_expired(timestamptz, integer) OWNER TO benteng_platform;
ALTER FUNCTION payments_tenant_for_account(text, text) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION outbox_pending(integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION webhook_deliveries_due(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION exports_expired(timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION payments_tenant_for_account(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION outbox_pending(integer) TO benteng_app;
GRANT EXECUTE ON FUNCTION webhook_deliveries_due(timestamptz, integer) TO benteng_app;
GRANT EXECUTE ON FUNCTION exports_expired(timestamptz, integer) TO benteng_app;
GRANT EXECUTE ON FUNCTION payments_tenant_for_account(text, text) TO benteng_app;

-- The platform cleanup's bookkeeping purge: rows past any use. Idempotency keys replay for a day
-- (as Stripe's do); a session tombstone matters only while an access token of that session could
-- still verify (at most 15 minutes), so a day is generous.
CREATE FUNCTION platform_purge_expired(p_now timestamptz)
RETURNS TABLE (idempotency_keys bigint, session_revocations bigint)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  keys_removed bigint;
  tombstones_removed bigint;
BEGIN
  DELETE FROM idempotency_keys WHERE created_at < p_now - interval '1 day';
  GET DIAGNOSTICS keys_removed = ROW_COUNT;
  DELETE FROM session_revocations WHERE revoked_at < p_now - interval '1 day';
  GET DIAGNOSTICS tombstones_removed = ROW_COUNT;
  RETURN QUERY SELECT keys_removed, tombstones_removed;
END
$$;
GRANT SELECT ("created_at"), DELETE ON "idempotency_keys" TO benteng_platform;
GRANT DELETE ON "session_revocations" TO benteng_platform;
ALTER FUNCTION platform_purge_expired(timestamptz) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION platform_purge_expired(timestamptz) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION platform_purge_expired(timestamptz) TO benteng_app;

-- The export sweeper (libs/exports/src/exports-sweep.ts): an export whose `exports.run` job was lost
-- (a Redis failover after the enqueue was acknowledged, the emergency sweep of a revoked job-envelope
-- key: docs/operations.md, "Key rotation") stayed queued forever. The platform job `exports.sweep`
-- finds queued exports older than a grace period through this function, in the pattern of
-- `webhook_deliveries_due` (20261129050000_jobs_exports_webhooks): it crosses tenants and returns
-- tenant and export ids only; every read and write after that happens in the export's own tenant.

-- How many times the sweeper re-queued the export's job (bounded: past the limit it is failed).
ALTER TABLE "exports" ADD COLUMN "requeues" INTEGER NOT NULL DEFAULT 0;
CREATE INDEX "exports_status_created_at_idx" ON "exports" ("status", "created_at");

-- Queued exports created at or before p_before. `subject_access` exports are queued by the
-- `privacy.access` job (libs/privacy), not `exports.run`: not this sweeper's.
CREATE FUNCTION exports_queued_before(p_before timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT tenant_id, id FROM exports
   WHERE status = 'queued' AND created_at <= p_before AND type <> 'subject_access'
   ORDER BY created_at, id LIMIT least(greatest(p_limit, 1), 1000);
$$;

GRANT SELECT ("type", "created_at") ON "exports" TO benteng_platform;
ALTER FUNCTION exports_queued_before(timestamptz, integer) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION exports_queued_before(timestamptz, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION exports_queued_before(timestamptz, integer) TO benteng_app;

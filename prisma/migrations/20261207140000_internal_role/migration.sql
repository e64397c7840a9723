-- The internal listener's own login role (docs/architecture.md, "Database roles", invariant 4).
--
-- Until now both listeners of the API process connected as benteng_app, so the operator functions
-- (internal_*, and the scrape-credential checks of the internal gate) were executable by the public
-- API too: a compromised public process could have suspended a tenant. From here on they are
-- executable by benteng_internal alone, and only the internal listener logs in as it
-- (DATABASE_INTERNAL_URL); the public listener and the worker keep benteng_app.
--
-- benteng_internal is a member of benteng_app (INHERIT), not a copy of its grants: the internal
-- listener also does everything the runtime role does (audit appends in a tenant's Scope, the
-- platform audit log, lifting abuse blocks, auth_revoke_user_sessions), under the same RLS policies
-- (a policy TO benteng_app applies to its members), and a grant a later migration gives benteng_app
-- reaches it without a second list to keep in step. The membership runs one way only: benteng_app
-- is not a member of benteng_internal, so nothing below reaches the public API or the worker.
-- Like benteng_app it owns nothing, is not a superuser and has no BYPASSRLS; `npm run db:migrate`
-- gives it LOGIN and a password from DATABASE_INTERNAL_PASSWORD (never written here). Roles are
-- cluster-wide, hence IF NOT EXISTS.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'benteng_internal') THEN
    CREATE ROLE benteng_internal NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS;
  END IF;
END
$$;
ALTER ROLE benteng_internal NOSUPERUSER NOCREATEDB NOCREATEROLE INHERIT NOREPLICATION NOBYPASSRLS;
GRANT benteng_app TO benteng_internal;

-- The operator functions: EXECUTE moves from benteng_app to benteng_internal, one named function
-- at a time (test/support/catalog.ts fails on any internal_* or metrics_credential_* function that
-- benteng_app or PUBLIC may execute, or that benteng_internal may not).
REVOKE ALL ON FUNCTION internal_operator_lookup(uuid) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_list_tenants() FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_create_tenant(uuid, text, text) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_set_tenant_status(uuid, tenant_status) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_set_user_status(uuid, user_status) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_revoke_session(uuid, uuid, text) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_revoke_tenant_sessions(uuid, text) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_revoke_partner_credential(text, uuid, uuid) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_list_blocks(boolean, text, text, integer) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_search_audit(uuid, text, text, text, text, timestamptz, timestamptz, integer) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_principal_credentials(text, uuid) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_create_metrics_credential(uuid, text, text, text, uuid, timestamptz) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_list_metrics_credentials() FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION internal_revoke_metrics_credential(uuid) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION metrics_credential_lookup(text) FROM PUBLIC, benteng_app;
REVOKE ALL ON FUNCTION metrics_credential_used(uuid) FROM PUBLIC, benteng_app;

GRANT EXECUTE ON FUNCTION internal_operator_lookup(uuid) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_list_tenants() TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_create_tenant(uuid, text, text) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_set_tenant_status(uuid, tenant_status) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_set_user_status(uuid, user_status) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_revoke_session(uuid, uuid, text) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_revoke_tenant_sessions(uuid, text) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_revoke_partner_credential(text, uuid, uuid) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_list_blocks(boolean, text, text, integer) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_search_audit(uuid, text, text, text, text, timestamptz, timestamptz, integer) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_principal_credentials(text, uuid) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_create_metrics_credential(uuid, text, text, text, uuid, timestamptz) TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_list_metrics_credentials() TO benteng_internal;
GRANT EXECUTE ON FUNCTION internal_revoke_metrics_credential(uuid) TO benteng_internal;
GRANT EXECUTE ON FUNCTION metrics_credential_lookup(text) TO benteng_internal;
GRANT EXECUTE ON FUNCTION metrics_credential_used(uuid) TO benteng_internal;

-- The internal surface (/internal/v1): operators, the platform audit log, and the named
-- cross-tenant paths operator tools use (ARCHITECTURE.md, invariant 4).

-- Operators ----------------------------------------------------------------------------------------
-- People who run the platform. They are not tenant users: they act across tenants, through the
-- internal listener only, each request signed by a service key and naming the operator. Their
-- abilities are CASL rules (libs/authz/src/rules/operator.rules.ts) keyed by these roles.
CREATE TYPE "operator_status" AS ENUM ('active', 'disabled');

CREATE TABLE "operators" (
  "id"           uuid            NOT NULL,
  "email"        text            NOT NULL,
  "display_name" text            NOT NULL,
  "roles"        text[]          NOT NULL DEFAULT '{}',
  "status"       operator_status NOT NULL DEFAULT 'active',
  "created_at"   timestamptz(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "operators_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "operators_email_lowercase" CHECK ("email" = lower("email")),
  CONSTRAINT "operators_roles_known" CHECK ("roles" <@ ARRAY['support', 'security', 'platform-admin']::text[] AND array_position("roles", NULL) IS NULL)
);
CREATE UNIQUE INDEX "operators_email_key" ON "operators" ("email");

-- A platform table: RLS enabled (not forced, the owner administers it) and no policy or grant for
-- the runtime role, which therefore sees no row. The internal listener reads one operator at a time
-- through internal_operator_lookup below.
ALTER TABLE "operators" ENABLE ROW LEVEL SECURITY;

-- Platform audit log ---------------------------------------------------------------------------------
-- Events with no tenant: refused internal requests (bad signature, replayed nonce, unknown key),
-- operator denials and operator actions. Append-only like audit_events; not hash-chained yet (the
-- per-tenant chain in audit_events is; a platform chain arrives with the admin functions).
CREATE TABLE "platform_audit_events" (
  "id"          uuid           NOT NULL,
  "occurred_at" timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "type"        text           NOT NULL,
  "outcome"     text           NOT NULL,
  "actor"       text           NOT NULL,
  "subject"     text,
  "reason"      text,
  "ip"          text,
  "request_id"  text,
  "data"        jsonb          NOT NULL DEFAULT '{}',
  CONSTRAINT "platform_audit_events_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "platform_audit_events_outcome" CHECK ("outcome" IN ('success', 'failure', 'denied'))
);
CREATE INDEX "platform_audit_events_occurred_at_idx" ON "platform_audit_events" ("occurred_at");
CREATE INDEX "platform_audit_events_type_occurred_at_idx" ON "platform_audit_events" ("type", "occurred_at");

CREATE FUNCTION platform_audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'platform_audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER "platform_audit_events_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "platform_audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION platform_audit_events_append_only();

-- The runtime role appends and reads platform events; it can neither change nor remove them
-- (no grant, and the trigger above refuses the owner too).
ALTER TABLE "platform_audit_events" ENABLE ROW LEVEL SECURITY;
CREATE POLICY "runtime_append" ON "platform_audit_events" FOR INSERT TO benteng_app WITH CHECK (true);
CREATE POLICY "runtime_read" ON "platform_audit_events" FOR SELECT TO benteng_app USING (true);
GRANT SELECT, INSERT ON "platform_audit_events" TO benteng_app;

-- Cross-tenant functions for the internal listener ----------------------------------------------------
-- Owned by benteng_platform, executable by benteng_app alone; the internal listener calls them only
-- after a valid service signature, and audits what it does with them.

-- The operator a signed request names: only what the guard needs to decide.
CREATE FUNCTION internal_operator_lookup(p_id uuid)
RETURNS TABLE (id uuid, email text, display_name text, roles text[], status operator_status)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT o.id, o.email, o.display_name, o.roles, o.status FROM operators o WHERE o.id = p_id;
$$;

-- Operator tools: every tenant, its slug, name and status (no members, no data).
CREATE FUNCTION internal_list_tenants()
RETURNS TABLE (id uuid, slug text, name text, status tenant_status, created_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT t.id, t.slug, t.name, t.status, t.created_at FROM tenants t ORDER BY t.slug;
$$;

GRANT SELECT ("id", "email", "display_name", "roles", "status") ON "operators" TO benteng_platform;
GRANT SELECT ("id", "slug", "name", "status", "created_at") ON "tenants" TO benteng_platform;

ALTER FUNCTION internal_operator_lookup(uuid) OWNER TO benteng_platform;
ALTER FUNCTION internal_list_tenants() OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION internal_operator_lookup(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_list_tenants() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION internal_operator_lookup(uuid) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_list_tenants() TO benteng_app;

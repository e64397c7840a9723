-- Identity: login sessions, rotating refresh tokens, the hash-chained audit log, and the named
-- functions through which authentication crosses tenants (ARCHITECTURE.md, invariant 4).

-- benteng_platform owns the cross-tenant functions below. It cannot log in, bypasses RLS (it must
-- see a user's memberships in every tenant to log them in) and holds only the grants those
-- functions need. benteng_app may execute exactly these functions and is not a member of it.
-- Creating a BYPASSRLS role needs a superuser: run migrations as one (the Docker image's
-- POSTGRES_USER is; on managed PostgreSQL use the provider's admin role).
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'benteng_platform') THEN
    CREATE ROLE benteng_platform NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION BYPASSRLS;
  END IF;
END
$$;
GRANT USAGE ON SCHEMA public TO benteng_platform;

-- The name a tenant knows a member by. Members added through the API get the name the admin typed,
-- so adding someone by email never reveals the name they gave themselves, or that the email already
-- had an account. NULL for memberships created on the platform side (seed, operators).
ALTER TABLE "memberships" ADD COLUMN "display_name" text;

-- Sessions: one per login (a refresh-token family). tenant_id leads; the composite FK to the
-- membership deletes a removed member's sessions with it.
CREATE TABLE "sessions" (
  "tenant_id"      uuid           NOT NULL,
  "id"             uuid           NOT NULL,
  "user_id"        uuid           NOT NULL,
  "created_at"     timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "last_seen_at"   timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "expires_at"     timestamptz(3) NOT NULL,
  "revoked_at"     timestamptz(3),
  "revoked_reason" text,
  "user_agent"     text,
  "ip"             text,
  CONSTRAINT "sessions_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "sessions_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "sessions_tenant_id_user_id_fkey" FOREIGN KEY ("tenant_id", "user_id") REFERENCES "memberships" ("tenant_id", "user_id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE INDEX "sessions_tenant_id_user_id_idx" ON "sessions" ("tenant_id", "user_id");
CREATE INDEX "sessions_user_id_idx" ON "sessions" ("user_id");

-- Revoked and deleted sessions, kept for one access-token lifetime so the revocation store can be
-- rebuilt from Postgres even for sessions whose rows are gone (a removed member's sessions go with
-- the membership). Written by triggers on sessions, so no code path can forget it.
CREATE TABLE "session_revocations" (
  "tenant_id"  uuid           NOT NULL,
  "id"         uuid           NOT NULL,
  "revoked_at" timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "session_revocations_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "session_revocations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "session_revocations_revoked_at_idx" ON "session_revocations" ("revoked_at");

CREATE FUNCTION sessions_record_revocation() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    INSERT INTO session_revocations (tenant_id, id) VALUES (OLD.tenant_id, OLD.id) ON CONFLICT DO NOTHING;
    RETURN OLD;
  END IF;
  IF NEW.revoked_at IS NOT NULL AND OLD.revoked_at IS NULL THEN
    INSERT INTO session_revocations (tenant_id, id, revoked_at) VALUES (NEW.tenant_id, NEW.id, NEW.revoked_at) ON CONFLICT DO NOTHING;
  END IF;
  RETURN NEW;
END
$$;

-- Refresh tokens: only a keyed hash is stored. A rotated token keeps its row (rotated_at set) so
-- that presenting it again is recognised as reuse (RFC 9700, section 4.14.2).
CREATE TABLE "refresh_tokens" (
  "tenant_id"   uuid           NOT NULL,
  "id"          uuid           NOT NULL,
  "session_id"  uuid           NOT NULL,
  "token_hash"  text           NOT NULL,
  "created_at"  timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "expires_at"  timestamptz(3) NOT NULL,
  "rotated_at"  timestamptz(3),
  CONSTRAINT "refresh_tokens_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "refresh_tokens_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "refresh_tokens_tenant_id_session_id_fkey" FOREIGN KEY ("tenant_id", "session_id") REFERENCES "sessions" ("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE
);
CREATE UNIQUE INDEX "refresh_tokens_tenant_id_token_hash_key" ON "refresh_tokens" ("tenant_id", "token_hash");
CREATE INDEX "refresh_tokens_tenant_id_session_id_idx" ON "refresh_tokens" ("tenant_id", "session_id");

-- Audit log: append-only and hash-chained per tenant. Each row stores the hash of the previous row
-- of its tenant (seq - 1); the verifier recomputes the chain, so an altered or deleted row shows.
CREATE TABLE "audit_events" (
  "tenant_id"   uuid           NOT NULL,
  "id"          uuid           NOT NULL,
  "seq"         bigint         NOT NULL,
  "occurred_at" timestamptz(3) NOT NULL,
  "type"        text           NOT NULL,
  "outcome"     text           NOT NULL,
  "actor"       text           NOT NULL,
  "subject"     text,
  "request_id"  text,
  "ip"          text,
  "data"        jsonb          NOT NULL DEFAULT '{}',
  "prev_hash"   text           NOT NULL,
  "hash"        text           NOT NULL,
  CONSTRAINT "audit_events_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "audit_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "audit_events_seq_positive" CHECK ("seq" > 0),
  CONSTRAINT "audit_events_outcome" CHECK ("outcome" IN ('success', 'failure', 'denied'))
);
CREATE UNIQUE INDEX "audit_events_tenant_id_seq_key" ON "audit_events" ("tenant_id", "seq");
CREATE INDEX "audit_events_tenant_id_type_occurred_at_idx" ON "audit_events" ("tenant_id", "type", "occurred_at");

CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER "audit_events_append_only" BEFORE UPDATE OR DELETE OR TRUNCATE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();

CREATE TRIGGER "sessions_record_revocation" AFTER UPDATE OF "revoked_at" ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION sessions_record_revocation();
CREATE TRIGGER "sessions_record_deletion" BEFORE DELETE ON "sessions"
  FOR EACH ROW EXECUTE FUNCTION sessions_record_revocation();

-- Row-level security, as for every tenant table.
ALTER TABLE "sessions" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "sessions" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "sessions"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "refresh_tokens" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "refresh_tokens" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "refresh_tokens"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "session_revocations" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "session_revocations" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "session_revocations"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "audit_events" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "audit_events" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "audit_events"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON "sessions" TO benteng_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON "refresh_tokens" TO benteng_app;
GRANT SELECT, INSERT ON "audit_events" TO benteng_app;
GRANT SELECT, INSERT ON "session_revocations" TO benteng_app;
-- The cross-tenant revocation below updates sessions as benteng_platform; its trigger records them.
GRANT INSERT ON "session_revocations" TO benteng_platform;

-- Cross-tenant functions --------------------------------------------------------------------
-- Each returns only what its caller needs, takes no tenant from the caller, and is executable by
-- benteng_app alone. The application audits every use (login events, password changes).

GRANT SELECT ("id", "email", "display_name", "password_hash", "status") ON "users" TO benteng_platform;
GRANT UPDATE ("password_hash", "updated_at") ON "users" TO benteng_platform;
GRANT INSERT ("id", "email", "display_name") ON "users" TO benteng_platform;
GRANT SELECT ("tenant_id", "user_id", "role", "created_at") ON "memberships" TO benteng_platform;
GRANT SELECT ("id", "slug", "name", "status") ON "tenants" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "user_id", "revoked_at") ON "sessions" TO benteng_platform;
GRANT SELECT ("id", "revoked_at") ON "session_revocations" TO benteng_platform;
GRANT UPDATE ("revoked_at", "revoked_reason") ON "sessions" TO benteng_platform;

-- Login: the user's credentials and memberships, by email (one row per membership; one row with
-- NULL tenant columns for a user without any).
CREATE FUNCTION auth_login_lookup(p_email text)
RETURNS TABLE (user_id uuid, password_hash text, user_status user_status, tenant_id uuid, tenant_slug text, tenant_status tenant_status, role membership_role)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT u.id, u.password_hash, u.status, m.tenant_id, t.slug, t.status, m.role
    FROM users u
    LEFT JOIN memberships m ON m.user_id = u.id
    LEFT JOIN tenants t ON t.id = m.tenant_id
   WHERE u.email = lower(p_email)
   ORDER BY m.created_at NULLS LAST, t.slug;
$$;

-- Tenant switching and /v1/me: the memberships of one (already authenticated) user.
CREATE FUNCTION auth_user_memberships(p_user_id uuid)
RETURNS TABLE (tenant_id uuid, tenant_slug text, tenant_name text, tenant_status tenant_status, role membership_role)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT m.tenant_id, t.slug, t.name, t.status, m.role
    FROM memberships m JOIN tenants t ON t.id = m.tenant_id
   WHERE m.user_id = p_user_id
   ORDER BY m.created_at, t.slug;
$$;

-- Password change: the current hash of one (already authenticated) user.
CREATE FUNCTION auth_password_hash(p_user_id uuid)
RETURNS text
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT password_hash FROM users WHERE id = p_user_id;
$$;

-- Password change: store the new hash of one (already authenticated) user.
CREATE FUNCTION auth_set_password_hash(p_user_id uuid, p_password_hash text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE users SET password_hash = p_password_hash, updated_at = now() WHERE id = p_user_id;
$$;

-- Password change and logout-all: revoke every session of one user in every tenant, except the
-- one named (NULLs keep none). Returns the revoked sessions so the caller publishes them.
CREATE FUNCTION auth_revoke_user_sessions(p_user_id uuid, p_keep_tenant uuid, p_keep_session uuid, p_reason text)
RETURNS TABLE (tenant_id uuid, session_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE sessions s SET revoked_at = now(), revoked_reason = p_reason
   WHERE s.user_id = p_user_id AND s.revoked_at IS NULL
     AND NOT (s.tenant_id IS NOT DISTINCT FROM p_keep_tenant AND s.id IS NOT DISTINCT FROM p_keep_session)
  RETURNING s.tenant_id, s.id;
$$;

-- Revocation store resync: what must be refused right now, for every API instance's Redis
-- markers. Sessions revoked since p_since (older ones only carry expired access tokens), locked
-- users and suspended tenants. Ids only.
CREATE FUNCTION auth_active_revocations(p_since timestamptz)
RETURNS TABLE (kind text, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT 'session', r.id FROM session_revocations r WHERE r.revoked_at >= p_since
  UNION ALL SELECT 'user', u.id FROM users u WHERE u.status <> 'active'
  UNION ALL SELECT 'tenant', t.id FROM tenants t WHERE t.status <> 'active';
$$;

-- Adding a member by email: the existing user's id, or a new user without a password (they set
-- one through an invitation flow). Returns the id only.
CREATE FUNCTION auth_find_or_create_user(p_email text, p_display_name text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_id uuid;
BEGIN
  SELECT id INTO v_id FROM users WHERE email = lower(p_email);
  IF v_id IS NULL THEN
    INSERT INTO users (id, email, display_name) VALUES (gen_random_uuid(), lower(p_email), p_display_name)
    ON CONFLICT (email) DO NOTHING
    RETURNING id INTO v_id;
    IF v_id IS NULL THEN
      SELECT id INTO v_id FROM users WHERE email = lower(p_email);
    END IF;
  END IF;
  RETURN v_id;
END
$$;

ALTER FUNCTION auth_login_lookup(text) OWNER TO benteng_platform;
ALTER FUNCTION auth_user_memberships(uuid) OWNER TO benteng_platform;
ALTER FUNCTION auth_password_hash(uuid) OWNER TO benteng_platform;
ALTER FUNCTION auth_set_password_hash(uuid, text) OWNER TO benteng_platform;
ALTER FUNCTION auth_revoke_user_sessions(uuid, uuid, uuid, text) OWNER TO benteng_platform;
ALTER FUNCTION auth_active_revocations(timestamptz) OWNER TO benteng_platform;
ALTER FUNCTION auth_find_or_create_user(text, text) OWNER TO benteng_platform;

REVOKE ALL ON FUNCTION auth_login_lookup(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_user_memberships(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_password_hash(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_set_password_hash(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_revoke_user_sessions(uuid, uuid, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_active_revocations(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION auth_find_or_create_user(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION auth_login_lookup(text) TO benteng_app;
GRANT EXECUTE ON FUNCTION auth_user_memberships(uuid) TO benteng_app;
GRANT EXECUTE ON FUNCTION auth_password_hash(uuid) TO benteng_app;
GRANT EXECUTE ON FUNCTION auth_set_password_hash(uuid, text) TO benteng_app;
GRANT EXECUTE ON FUNCTION auth_revoke_user_sessions(uuid, uuid, uuid, text) TO benteng_app;
GRANT EXECUTE ON FUNCTION auth_active_revocations(timestamptz) TO benteng_app;
GRANT EXECUTE ON FUNCTION auth_find_or_create_user(text, text) TO benteng_app;

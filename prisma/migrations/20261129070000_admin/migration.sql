-- Operator admin functions on the internal listener (/internal/v1): create, suspend and reactivate
-- tenants, lock and unlock users, revoke sessions and partner credentials. Each is a narrow
-- SECURITY DEFINER function owned by benteng_platform and executable by benteng_app alone; the
-- internal listener calls them only for an authorised operator with a reason, and audits each use
-- in the platform audit log and in the tenant's own audit log.

GRANT INSERT ("id", "slug", "name") ON "tenants" TO benteng_platform;
GRANT UPDATE ("status", "updated_at") ON "tenants" TO benteng_platform;
GRANT UPDATE ("status", "updated_at") ON "users" TO benteng_platform;
GRANT UPDATE ("revoked_at", "version", "updated_at") ON "partner_clients" TO benteng_platform;
GRANT UPDATE ("revoked_at") ON "partner_api_keys" TO benteng_platform;

-- A new tenant (id chosen by the application, UUIDv7). No row when the slug is taken.
CREATE FUNCTION internal_create_tenant(p_id uuid, p_slug text, p_name text)
RETURNS TABLE (id uuid, slug text, name text, status tenant_status, created_at timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO tenants AS t (id, slug, name) VALUES (p_id, p_slug, p_name)
  ON CONFLICT (slug) DO NOTHING
  RETURNING t.id, t.slug, t.name, t.status, t.created_at;
$$;

-- Suspend or reactivate one tenant. Returns the previous status, or no row for an unknown tenant.
CREATE FUNCTION internal_set_tenant_status(p_id uuid, p_status tenant_status)
RETURNS TABLE (previous_status tenant_status)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE tenants t SET status = p_status, updated_at = now()
    FROM (SELECT id, status FROM tenants WHERE id = p_id FOR UPDATE) old
   WHERE t.id = old.id
  RETURNING old.status;
$$;

-- Lock or unlock one user. Returns the previous status and the tenants the user belongs to (to
-- audit the change in each), or no row for an unknown user.
CREATE FUNCTION internal_set_user_status(p_id uuid, p_status user_status)
RETURNS TABLE (previous_status user_status, tenant_ids uuid[])
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE users u SET status = p_status, updated_at = now()
    FROM (SELECT id, status FROM users WHERE id = p_id FOR UPDATE) old
   WHERE u.id = old.id
  RETURNING old.status, ARRAY(SELECT m.tenant_id FROM memberships m WHERE m.user_id = p_id ORDER BY m.tenant_id);
$$;

-- Revoke one session of one tenant. Returns the session's user and whether it was live, or no
-- row for an unknown session. The sessions trigger records it in session_revocations.
CREATE FUNCTION internal_revoke_session(p_tenant uuid, p_session uuid, p_reason text)
RETURNS TABLE (user_id uuid, was_active boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_user uuid;
  v_revoked timestamptz;
BEGIN
  SELECT s.user_id, s.revoked_at INTO v_user, v_revoked FROM sessions s WHERE s.tenant_id = p_tenant AND s.id = p_session FOR UPDATE;
  IF v_user IS NULL THEN
    RETURN;
  END IF;
  IF v_revoked IS NULL THEN
    UPDATE sessions s SET revoked_at = now(), revoked_reason = p_reason WHERE s.tenant_id = p_tenant AND s.id = p_session;
  END IF;
  user_id := v_user;
  was_active := v_revoked IS NULL;
  RETURN NEXT;
END
$$;

-- Revoke every live session of one tenant. Returns the revoked sessions (to publish markers).
CREATE FUNCTION internal_revoke_tenant_sessions(p_tenant uuid, p_reason text)
RETURNS TABLE (session_id uuid)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE sessions s SET revoked_at = now(), revoked_reason = p_reason
   WHERE s.tenant_id = p_tenant AND s.revoked_at IS NULL
  RETURNING s.id;
$$;

-- Revoke one partner client or API key of one tenant ('partner_client' | 'partner_key').
-- Returns whether it was live, or no row for an unknown credential. Partner authentication reads
-- revoked_at on every request (partner_key_lookup, partner_client_lookup).
CREATE FUNCTION internal_revoke_partner_credential(p_kind text, p_tenant uuid, p_id uuid)
RETURNS TABLE (was_active boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_found boolean := false;
  v_revoked timestamptz;
BEGIN
  IF p_kind = 'partner_client' THEN
    SELECT true, c.revoked_at INTO v_found, v_revoked FROM partner_clients c WHERE c.tenant_id = p_tenant AND c.id = p_id FOR UPDATE;
    IF v_found AND v_revoked IS NULL THEN
      UPDATE partner_clients c SET revoked_at = now(), version = c.version + 1, updated_at = now() WHERE c.tenant_id = p_tenant AND c.id = p_id;
    END IF;
  ELSIF p_kind = 'partner_key' THEN
    SELECT true, k.revoked_at INTO v_found, v_revoked FROM partner_api_keys k WHERE k.tenant_id = p_tenant AND k.id = p_id FOR UPDATE;
    IF v_found AND v_revoked IS NULL THEN
      UPDATE partner_api_keys k SET revoked_at = now() WHERE k.tenant_id = p_tenant AND k.id = p_id;
    END IF;
  ELSE
    RAISE EXCEPTION 'unknown credential kind' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT coalesce(v_found, false) THEN
    RETURN;
  END IF;
  was_active := v_revoked IS NULL;
  RETURN NEXT;
END
$$;

GRANT SELECT ("version") ON "partner_clients" TO benteng_platform;

ALTER FUNCTION internal_create_tenant(uuid, text, text) OWNER TO benteng_platform;
ALTER FUNCTION internal_set_tenant_status(uuid, tenant_status) OWNER TO benteng_platform;
ALTER FUNCTION internal_set_user_status(uuid, user_status) OWNER TO benteng_platform;
ALTER FUNCTION internal_revoke_session(uuid, uuid, text) OWNER TO benteng_platform;
ALTER FUNCTION internal_revoke_tenant_sessions(uuid, text) OWNER TO benteng_platform;
ALTER FUNCTION internal_revoke_partner_credential(text, uuid, uuid) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION internal_create_tenant(uuid, text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_set_tenant_status(uuid, tenant_status) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_set_user_status(uuid, user_status) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_revoke_session(uuid, uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_revoke_tenant_sessions(uuid, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_revoke_partner_credential(text, uuid, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION internal_create_tenant(uuid, text, text) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_set_tenant_status(uuid, tenant_status) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_set_user_status(uuid, user_status) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_revoke_session(uuid, uuid, text) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_revoke_tenant_sessions(uuid, text) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_revoke_partner_credential(text, uuid, uuid) TO benteng_app;

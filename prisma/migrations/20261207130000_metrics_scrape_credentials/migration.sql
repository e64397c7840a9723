-- Prometheus scrape credentials (docs/metrics.md): a bearer credential that reads GET /internal/metrics
-- on the internal listener and nothing else, so a stock Prometheus can scrape without a signing sidecar.
-- Several may be active at once, which is how one rotates (create the new one, point Prometheus at it,
-- revoke the old). Stored like partner API keys: `bt_ms_<prefix>_<secret>`, the 12-character prefix is
-- the non-secret lookup handle, and only an HMAC-SHA256 of the whole credential under AUTH_TOKEN_PEPPER
-- is kept.
CREATE TABLE "metrics_scrape_credentials" (
  "id"           uuid           NOT NULL,
  "name"         text           NOT NULL,
  "prefix"       text           NOT NULL,
  "secret_hash"  text           NOT NULL,
  "created_by"   uuid           NOT NULL,
  "created_at"   timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "expires_at"   timestamptz(3),
  "revoked_at"   timestamptz(3),
  "last_used_at" timestamptz(3),
  CONSTRAINT "metrics_scrape_credentials_pkey" PRIMARY KEY ("id"),
  CONSTRAINT "metrics_scrape_credentials_created_by_fkey" FOREIGN KEY ("created_by") REFERENCES "operators" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "metrics_scrape_credentials_name_length" CHECK (char_length("name") BETWEEN 1 AND 100),
  CONSTRAINT "metrics_scrape_credentials_prefix_form" CHECK ("prefix" ~ '^[a-z2-7]{12}$'),
  CONSTRAINT "metrics_scrape_credentials_hash_form" CHECK ("secret_hash" ~ '^[0-9a-f]{64}$')
);
CREATE UNIQUE INDEX "metrics_scrape_credentials_prefix_key" ON "metrics_scrape_credentials" ("prefix");

-- A platform table: RLS enabled and no policy or grant for the runtime role, which sees no row and
-- reads the hashes only through the lookup below, one prefix at a time.
ALTER TABLE "metrics_scrape_credentials" ENABLE ROW LEVEL SECURITY;

-- A scrape: the credential a presented prefix names, with what the gate needs to decide.
CREATE FUNCTION metrics_credential_lookup(p_prefix text)
RETURNS TABLE (id uuid, secret_hash text, expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.id, c.secret_hash, c.expires_at, c.revoked_at, c.last_used_at FROM metrics_scrape_credentials c WHERE c.prefix = p_prefix;
$$;

-- At most once a minute per credential, like partner keys' last_used_at.
CREATE FUNCTION metrics_credential_used(p_id uuid)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  UPDATE metrics_scrape_credentials c SET last_used_at = now()
   WHERE c.id = p_id AND (c.last_used_at IS NULL OR c.last_used_at < now() - interval '1 minute');
$$;

-- Operator tools (platform-admin, audited by the caller): create, list, revoke.
CREATE FUNCTION internal_create_metrics_credential(p_id uuid, p_name text, p_prefix text, p_hash text, p_operator uuid, p_expires_at timestamptz)
RETURNS TABLE (id uuid, name text, prefix text, created_by uuid, created_at timestamptz, expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO metrics_scrape_credentials (id, name, prefix, secret_hash, created_by, expires_at)
  VALUES (p_id, p_name, p_prefix, p_hash, p_operator, p_expires_at)
  RETURNING id, name, prefix, created_by, created_at, expires_at, revoked_at, last_used_at;
$$;

CREATE FUNCTION internal_list_metrics_credentials()
RETURNS TABLE (id uuid, name text, prefix text, created_by uuid, created_at timestamptz, expires_at timestamptz, revoked_at timestamptz, last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.id, c.name, c.prefix, c.created_by, c.created_at, c.expires_at, c.revoked_at, c.last_used_at
    FROM metrics_scrape_credentials c ORDER BY c.created_at, c.id;
$$;

-- Revokes once: was_active is false for a credential already revoked; no row for an unknown id.
CREATE FUNCTION internal_revoke_metrics_credential(p_id uuid)
RETURNS TABLE (was_active boolean)
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_found boolean := false;
  v_revoked timestamptz;
BEGIN
  SELECT true, c.revoked_at INTO v_found, v_revoked FROM metrics_scrape_credentials c WHERE c.id = p_id FOR UPDATE;
  IF NOT coalesce(v_found, false) THEN
    RETURN;
  END IF;
  IF v_revoked IS NULL THEN
    UPDATE metrics_scrape_credentials c SET revoked_at = now() WHERE c.id = p_id;
  END IF;
  was_active := v_revoked IS NULL;
  RETURN NEXT;
END;
$$;

GRANT SELECT, INSERT ON "metrics_scrape_credentials" TO benteng_platform;
GRANT UPDATE ("last_used_at", "revoked_at") ON "metrics_scrape_credentials" TO benteng_platform;

ALTER FUNCTION metrics_credential_lookup(text) OWNER TO benteng_platform;
ALTER FUNCTION metrics_credential_used(uuid) OWNER TO benteng_platform;
ALTER FUNCTION internal_create_metrics_credential(uuid, text, text, text, uuid, timestamptz) OWNER TO benteng_platform;
ALTER FUNCTION internal_list_metrics_credentials() OWNER TO benteng_platform;
ALTER FUNCTION internal_revoke_metrics_credential(uuid) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION metrics_credential_lookup(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION metrics_credential_used(uuid) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_create_metrics_credential(uuid, text, text, text, uuid, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_list_metrics_credentials() FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_revoke_metrics_credential(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION metrics_credential_lookup(text) TO benteng_app;
GRANT EXECUTE ON FUNCTION metrics_credential_used(uuid) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_create_metrics_credential(uuid, text, text, text, uuid, timestamptz) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_list_metrics_credentials() TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_revoke_metrics_credential(uuid) TO benteng_app;

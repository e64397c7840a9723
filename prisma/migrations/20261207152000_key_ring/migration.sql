-- The key ring (docs/operations.md, "Key rotation"): keys a running process can rotate itself, which
-- environment variables cannot be. One row per key of a family (today `access-token`: the Ed25519
-- keys that sign access tokens); the private material is AES-256-GCM encrypted under KEY_RING_ROOT_KEYS
-- (`root_kid` names the root key), so a database dump alone holds no usable key.
--
-- States: `next` (published in the JWKS, not signing yet), `active` (signs; one per family),
-- `retired` (verifies until `verify_until`, then it is deleted), `revoked` (emergency rotation: verifies
-- nothing, kept as the record of what it signed).
CREATE TABLE "key_ring" (
  "family"        text           NOT NULL,
  "kid"           text           NOT NULL,
  "state"         text           NOT NULL,
  "root_kid"      text           NOT NULL,
  "material"      bytea          NOT NULL,
  "created_at"    timestamptz(3) NOT NULL,
  "activated_at"  timestamptz(3),
  "retired_at"    timestamptz(3),
  "verify_until"  timestamptz(3),
  "revoked_at"    timestamptz(3),
  CONSTRAINT "key_ring_pkey" PRIMARY KEY ("family", "kid"),
  CONSTRAINT "key_ring_family_form" CHECK ("family" IN ('access-token')),
  CONSTRAINT "key_ring_kid_form" CHECK ("kid" ~ '^[A-Za-z0-9_-]{1,64}$'),
  CONSTRAINT "key_ring_state_form" CHECK ("state" IN ('next', 'active', 'retired', 'revoked')),
  CONSTRAINT "key_ring_retired_until" CHECK ("state" <> 'retired' OR "verify_until" IS NOT NULL)
);

-- A platform table: RLS enabled and no policy or grant for the runtime role; the API and the worker
-- read and change it through the functions below only.
ALTER TABLE "key_ring" ENABLE ROW LEVEL SECURITY;

-- Every key of a family, for the processes that sign and verify (material still encrypted).
CREATE FUNCTION key_ring_entries(p_family text)
RETURNS TABLE (kid text, state text, root_kid text, material bytea, created_at timestamptz, activated_at timestamptz, retired_at timestamptz, verify_until timestamptz, revoked_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT k.kid, k.state, k.root_kid, k.material, k.created_at, k.activated_at, k.retired_at, k.verify_until, k.revoked_at
    FROM key_ring k WHERE k.family = p_family ORDER BY k.created_at, k.kid;
$$;

-- Serialises rotations of one family (the scheduled job on several workers, the CLI) for the
-- rest of the calling transaction.
CREATE FUNCTION key_ring_lock(p_family text)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT pg_advisory_xact_lock(hashtext('key_ring:' || p_family));
$$;

CREATE FUNCTION key_ring_add(p_family text, p_kid text, p_root_kid text, p_material bytea, p_now timestamptz)
RETURNS void
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  INSERT INTO key_ring (family, kid, state, root_kid, material, created_at) VALUES (p_family, p_kid, 'next', p_root_kid, p_material, p_now);
$$;

-- One transition of one key: next → active, active → retired (with verify_until), any → revoked.
CREATE FUNCTION key_ring_transition(p_family text, p_kid text, p_state text, p_now timestamptz, p_verify_until timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
BEGIN
  -- At most one signing key per family and root key (writers also hold key_ring_lock). A ring is the
  -- rows sealed under one deployment's root keys: rows under root keys a process does not hold are
  -- not its ring (two deployments, or two test files, on one database never see each other's keys).
  IF p_state = 'active' AND EXISTS (
    SELECT 1 FROM key_ring k, key_ring t
     WHERE t.family = p_family AND t.kid = p_kid
       AND k.family = p_family AND k.root_kid = t.root_kid AND k.state = 'active' AND k.kid <> p_kid
  ) THEN
    RAISE EXCEPTION 'key_ring: family % already has an active key', p_family;
  END IF;
  UPDATE key_ring k SET
    state = p_state,
    activated_at = CASE WHEN p_state = 'active' THEN p_now ELSE k.activated_at END,
    retired_at = CASE WHEN p_state = 'retired' THEN p_now ELSE k.retired_at END,
    verify_until = CASE WHEN p_state = 'retired' THEN p_verify_until ELSE k.verify_until END,
    revoked_at = CASE WHEN p_state = 'revoked' THEN p_now ELSE k.revoked_at END
  WHERE k.family = p_family AND k.kid = p_kid;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'key_ring: no key % in family %', p_kid, p_family;
  END IF;
END;
$$;

-- Retired keys whose last token has expired verify nothing any more: removed.
CREATE FUNCTION key_ring_prune(p_family text, p_now timestamptz)
RETURNS SETOF text
LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  DELETE FROM key_ring k WHERE k.family = p_family AND k.state = 'retired' AND k.verify_until < p_now RETURNING k.kid;
$$;

GRANT SELECT, INSERT, DELETE ON "key_ring" TO benteng_platform;
GRANT UPDATE ("state", "activated_at", "retired_at", "verify_until", "revoked_at") ON "key_ring" TO benteng_platform;

ALTER FUNCTION key_ring_entries(text) OWNER TO benteng_platform;
ALTER FUNCTION key_ring_lock(text) OWNER TO benteng_platform;
ALTER FUNCTION key_ring_add(text, text, text, bytea, timestamptz) OWNER TO benteng_platform;
ALTER FUNCTION key_ring_transition(text, text, text, timestamptz, timestamptz) OWNER TO benteng_platform;
ALTER FUNCTION key_ring_prune(text, timestamptz) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION key_ring_entries(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION key_ring_lock(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION key_ring_add(text, text, text, bytea, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION key_ring_transition(text, text, text, timestamptz, timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION key_ring_prune(text, timestamptz) FROM PUBLIC;
-- The API and the worker sign and verify (read); the scheduled rotation runs in the worker and
-- `npm run keys:rotate` connects as the runtime role too (write). A process that can rotate could
-- already sign with the active key it holds, so the grant adds no power over tokens.
GRANT EXECUTE ON FUNCTION key_ring_entries(text) TO benteng_app;
GRANT EXECUTE ON FUNCTION key_ring_lock(text) TO benteng_app;
GRANT EXECUTE ON FUNCTION key_ring_add(text, text, text, bytea, timestamptz) TO benteng_app;
GRANT EXECUTE ON FUNCTION key_ring_transition(text, text, text, timestamptz, timestamptz) TO benteng_app;
GRANT EXECUTE ON FUNCTION key_ring_prune(text, timestamptz) TO benteng_app;

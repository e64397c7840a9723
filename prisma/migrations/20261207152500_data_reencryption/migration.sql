-- Re-encryption of data sealed under DATA_ENCRYPTION_KEYS (docs/operations.md, "Key rotation"):
-- the webhook signing secrets (`webhook_endpoints.secret_ciphertext` and
-- `previous_secret_ciphertext`, stored as `v1.<kid>.<iv>.<ciphertext>.<tag>`). The job finds the
-- rows across tenants through these functions (ids and kids only, never a ciphertext) and re-seals
-- each row in a tenant transaction of its own (RLS applies there as everywhere).

-- Endpoints with a secret sealed under one of p_kids (the older keys of the ring: the ones to move
-- from), after the cursor (tenant_id, id), in that order: the job's progress is the cursor, and a
-- row already moved is not returned again, so a second or concurrent run finds only what is left.
CREATE FUNCTION data_reencryption_webhook_pending(p_kids text[], p_after_tenant uuid, p_after_id uuid, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT e.tenant_id, e.id FROM webhook_endpoints e
   WHERE (split_part(e.secret_ciphertext, '.', 2) = ANY (p_kids)
          OR split_part(e.previous_secret_ciphertext, '.', 2) = ANY (p_kids))
     AND (p_after_tenant IS NULL OR (e.tenant_id, e.id) > (p_after_tenant, p_after_id))
   ORDER BY e.tenant_id, e.id
   LIMIT least(greatest(p_limit, 1), 1000);
$$;

-- How many stored ciphertexts each key sealed (both secret columns): the metric of what is still
-- under an older key, and what tells the operator an old key can be removed.
CREATE FUNCTION data_encryption_sealed_counts()
RETURNS TABLE (kid text, sealed bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT s.kid, count(*) FROM (
    SELECT split_part(e.secret_ciphertext, '.', 2) AS kid FROM webhook_endpoints e
    UNION ALL
    SELECT split_part(e.previous_secret_ciphertext, '.', 2) FROM webhook_endpoints e WHERE e.previous_secret_ciphertext IS NOT NULL
  ) s GROUP BY s.kid ORDER BY s.kid;
$$;

-- The functions' owner reads the key ids only: the columns hold nothing else it could use without
-- DATA_ENCRYPTION_KEYS, and it returns none of them.
GRANT SELECT ("tenant_id", "id", "secret_ciphertext", "previous_secret_ciphertext") ON "webhook_endpoints" TO benteng_platform;

ALTER FUNCTION data_reencryption_webhook_pending(text[], uuid, uuid, integer) OWNER TO benteng_platform;
ALTER FUNCTION data_encryption_sealed_counts() OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION data_reencryption_webhook_pending(text[], uuid, uuid, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION data_encryption_sealed_counts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION data_reencryption_webhook_pending(text[], uuid, uuid, integer) TO benteng_app;
GRANT EXECUTE ON FUNCTION data_encryption_sealed_counts() TO benteng_app;

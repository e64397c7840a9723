-- Two more statements of the request path in one round trip each (issue 18; docs/benchmarks.md,
-- "Issue 18"), in the pattern of 20261207158000_tenant_read_functions: SECURITY INVOKER (never
-- DEFINER: they run as the runtime role under FORCE RLS and bypass nothing), `set_config(…, true)`
-- inside, and a `SET app.tenant_id = ''` clause that restores the setting when the function returns,
-- so nothing is left on a pooled connection, in a caller's transaction or after a failure
-- (test/integration/tenant-read-functions.spec.ts checks every function named tenant_*).
--
-- 1. tenant_record_access: the access record of a recorded request (libs/audit/src/access-log.ts),
--    written after every answer on a personal-data route. A tenant transaction was four round trips
--    (BEGIN, set_config, INSERT, COMMIT); the function is one statement. The INSERT meets the
--    table's WITH CHECK policy like any other: a row for another tenant than the one passed fails.
CREATE FUNCTION tenant_record_access(
  p_tenant_id uuid, p_id uuid, p_occurred_at timestamptz, p_principal text, p_credential text, p_ip text,
  p_request_id text, p_action text, p_method text, p_route text, p_record_type text, p_record_id uuid, p_status integer
)
RETURNS void
LANGUAGE plpgsql
SECURITY INVOKER
SET app.tenant_id = ''
AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant_id::text, true);
  INSERT INTO access_records (tenant_id, id, occurred_at, principal, credential, ip, request_id, action, method, route, record_type, record_id, status)
  VALUES (p_tenant_id, p_id, p_occurred_at, p_principal, p_credential, p_ip, p_request_id, p_action, p_method, p_route, p_record_type, p_record_id, p_status);
END
$$;

REVOKE ALL ON FUNCTION tenant_record_access(uuid, uuid, timestamptz, text, text, text, text, text, text, text, text, uuid, integer) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_record_access(uuid, uuid, timestamptz, text, text, text, text, text, text, text, text, uuid, integer) TO benteng_app;

-- 2. tenant_partner_signing_state: what the request gate asks about a partner client on every
--    /partner/v1 request (libs/partners/src/partner-signing-keys.repository.ts, signingState): the
--    client's require_signatures flag, one of its active signing keys, and the key a signature names.
--    Three SELECTs in a tenant transaction were six round trips before the handler; this is one.
--    The rows come back with their tenant and client ids so the caller applies the CASL read rule
--    to each, as it did in the WHERE clause before.
CREATE FUNCTION tenant_partner_signing_state(p_tenant_id uuid, p_client_id uuid, p_keyid text)
RETURNS TABLE (
  "clientTenantId" uuid, "clientId" uuid, "requireSignatures" boolean,
  "activeKeyTenantId" uuid, "activeKeyClientId" uuid, "activeKeyId" uuid,
  "keyTenantId" uuid, "keyId" uuid, "keyClientId" uuid, keyid text, alg text, "publicKey" text, label text,
  "keyCreatedAt" timestamptz, "keyRevokedAt" timestamptz, "keyLastUsedAt" timestamptz
)
LANGUAGE plpgsql
SECURITY INVOKER
SET app.tenant_id = ''
AS $$
BEGIN
  PERFORM set_config('app.tenant_id', p_tenant_id::text, true);
  RETURN QUERY
    SELECT c.tenant_id, c.id, c.require_signatures,
           a.tenant_id, a.client_id, a.id,
           k.tenant_id, k.id, k.client_id, k.keyid, k.alg, k.public_key, k.label, k.created_at, k.revoked_at, k.last_used_at
      FROM (SELECT 1) one
      LEFT JOIN partner_clients c ON c.id = p_client_id
      LEFT JOIN LATERAL (SELECT s.tenant_id, s.client_id, s.id FROM partner_signing_keys s
                          WHERE s.client_id = p_client_id AND s.revoked_at IS NULL LIMIT 1) a ON true
      LEFT JOIN partner_signing_keys k ON p_keyid IS NOT NULL AND k.keyid = p_keyid;
END
$$;

REVOKE ALL ON FUNCTION tenant_partner_signing_state(uuid, uuid, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION tenant_partner_signing_state(uuid, uuid, text) TO benteng_app;

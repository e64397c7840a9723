-- Incident response on the internal surface (/internal/v1/blocks, /audit, /incidents): the named
-- cross-tenant reads operator tools need (ARCHITECTURE.md, invariant 4). Like the functions of
-- 20261129060000_internal, each is owned by benteng_platform, executable by benteng_app alone, and
-- every use is recorded in platform_audit_events by the internal listener. Writes (lifting a block)
-- do not go through here: they run inside the block's tenant, under RLS, as system:security.

-- Abuse blocks across tenants, newest first. p_active: only those neither lifted nor expired;
-- p_principal / p_ip: only those of that principal, or placed from that address.
CREATE FUNCTION internal_list_blocks(p_active boolean, p_principal text, p_ip text, p_limit integer)
RETURNS TABLE (tenant_id uuid, id uuid, principal text, ip text, signal text, observed integer, threshold integer, window_s integer,
               blocked_at timestamptz, expires_at timestamptz, lifted_at timestamptz, lifted_by text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT b.tenant_id, b.id, b.principal, b.ip, b.signal, b.observed, b.threshold, b.window_s,
         b.blocked_at, b.expires_at, b.lifted_at, b.lifted_by
    FROM security_blocks b
   WHERE (NOT coalesce(p_active, false) OR (b.lifted_at IS NULL AND b.expires_at > now()))
     AND (p_principal IS NULL OR b.principal = p_principal)
     AND (p_ip IS NULL OR b.ip = p_ip)
   ORDER BY b.blocked_at DESC, b.id DESC
   LIMIT least(greatest(coalesce(p_limit, 100), 1), 500);
$$;

-- Audit events across tenants, newest first. Every filter is optional: p_tenant; p_actor (exact);
-- p_involving (the actor or the subject, for "everything about this principal"); p_ip; p_type;
-- the window [p_from, p_to). At most 500 rows. Hashes stay out: verification has its own route.
CREATE FUNCTION internal_search_audit(p_tenant uuid, p_actor text, p_involving text, p_ip text, p_type text,
                                      p_from timestamptz, p_to timestamptz, p_limit integer)
RETURNS TABLE (tenant_id uuid, seq bigint, occurred_at timestamptz, type text, outcome text, actor text, subject text,
               ip text, request_id text, data jsonb)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT a.tenant_id, a.seq, a.occurred_at, a.type, a.outcome, a.actor, a.subject, a.ip, a.request_id, a.data
    FROM audit_events a
   WHERE (p_tenant IS NULL OR a.tenant_id = p_tenant)
     AND (p_actor IS NULL OR a.actor = p_actor)
     AND (p_involving IS NULL OR a.actor = p_involving OR a.subject = p_involving)
     AND (p_ip IS NULL OR a.ip = p_ip)
     AND (p_type IS NULL OR a.type = p_type)
     AND (p_from IS NULL OR a.occurred_at >= p_from)
     AND (p_to IS NULL OR a.occurred_at < p_to)
   ORDER BY a.occurred_at DESC, a.tenant_id, a.seq DESC
   LIMIT least(greatest(coalesce(p_limit, 100), 1), 500);
$$;

-- What a principal can still act with, to revoke during an incident: for a partner client, the
-- client itself and its keys; for a user, their open sessions in every tenant. Neither revoked nor
-- expired. No secret, no hash: ids, the public key prefix, times.
CREATE FUNCTION internal_principal_credentials(p_kind text, p_id uuid)
RETURNS TABLE (kind text, tenant_id uuid, id uuid, parent_id uuid, label text, created_at timestamptz, expires_at timestamptz, last_used_at timestamptz)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT 'partner_client', c.tenant_id, c.id, NULL::uuid, c.name, c.created_at, c.expires_at, NULL::timestamptz
    FROM partner_clients c
   WHERE p_kind = 'partner' AND c.id = p_id AND c.revoked_at IS NULL AND (c.expires_at IS NULL OR c.expires_at > now())
  UNION ALL
  SELECT 'partner_key', k.tenant_id, k.id, k.client_id, k.prefix, k.created_at, k.expires_at, k.last_used_at
    FROM partner_api_keys k
   WHERE p_kind = 'partner' AND k.client_id = p_id AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
  UNION ALL
  SELECT 'session', s.tenant_id, s.id, NULL::uuid, NULL::text, s.created_at, s.expires_at, s.last_seen_at
    FROM sessions s
   WHERE p_kind = 'user' AND s.user_id = p_id AND s.revoked_at IS NULL AND s.expires_at > now()
   ORDER BY 1, 6;
$$;

GRANT SELECT ("tenant_id", "id", "principal", "ip", "signal", "observed", "threshold", "window_s", "blocked_at", "expires_at", "lifted_at", "lifted_by")
   ON "security_blocks" TO benteng_platform;
GRANT SELECT ("tenant_id", "seq", "occurred_at", "type", "outcome", "actor", "subject", "ip", "request_id", "data") ON "audit_events" TO benteng_platform;
GRANT SELECT ("name", "created_at") ON "partner_clients" TO benteng_platform;
GRANT SELECT ("created_at") ON "partner_api_keys" TO benteng_platform;
GRANT SELECT ("created_at", "expires_at", "last_seen_at") ON "sessions" TO benteng_platform;

ALTER FUNCTION internal_list_blocks(boolean, text, text, integer) OWNER TO benteng_platform;
ALTER FUNCTION internal_search_audit(uuid, text, text, text, text, timestamptz, timestamptz, integer) OWNER TO benteng_platform;
ALTER FUNCTION internal_principal_credentials(text, uuid) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION internal_list_blocks(boolean, text, text, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_search_audit(uuid, text, text, text, text, timestamptz, timestamptz, integer) FROM PUBLIC;
REVOKE ALL ON FUNCTION internal_principal_credentials(text, uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION internal_list_blocks(boolean, text, text, integer) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_search_audit(uuid, text, text, text, text, timestamptz, timestamptz, integer) TO benteng_app;
GRANT EXECUTE ON FUNCTION internal_principal_credentials(text, uuid) TO benteng_app;

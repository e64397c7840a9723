-- Partner surface (/partner/v1): clients a tenant admin registers, their API keys, and the
-- temporary blocks the abuse detector places on principals. Invoices and tickets can now be
-- created by a partner client instead of a user: exactly one of the two creator columns is set.

CREATE TYPE "partner_environment" AS ENUM ('live', 'test');
CREATE TYPE "partner_tier" AS ENUM ('free', 'standard', 'premium');

CREATE TABLE "partner_clients" (
  "tenant_id"     uuid                NOT NULL,
  "id"            uuid                NOT NULL,
  "name"          text                NOT NULL,
  "environment"   partner_environment NOT NULL,
  "scopes"        text[]              NOT NULL DEFAULT '{}',
  "tier"          partner_tier        NOT NULL DEFAULT 'standard',
  -- CIDR ranges (IPv4 or IPv6) the client may call from; empty = anywhere.
  "ip_allowlist"  text[]              NOT NULL DEFAULT '{}',
  -- HMAC-SHA256 (AUTH_TOKEN_PEPPER) of the client secret used with client credentials.
  "secret_hash"   text                NOT NULL,
  "expires_at"    timestamptz(3),
  "revoked_at"    timestamptz(3),
  "created_by_id" uuid                NOT NULL,
  "version"       integer             NOT NULL DEFAULT 1,
  "created_at"    timestamptz(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at"    timestamptz(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "partner_clients_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "partner_clients_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "partner_clients_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "partner_clients_name_length" CHECK (length("name") BETWEEN 1 AND 100),
  CONSTRAINT "partner_clients_known_scopes" CHECK ("scopes" <@ ARRAY['invoices:read', 'invoices:write', 'tickets:read', 'tickets:write', 'documents:read']::text[]),
  CONSTRAINT "partner_clients_allowlist_size" CHECK (cardinality("ip_allowlist") <= 50)
);
CREATE INDEX "partner_clients_tenant_id_created_at_idx" ON "partner_clients" ("tenant_id", "created_at");

CREATE TABLE "partner_api_keys" (
  "tenant_id"     uuid                NOT NULL,
  "id"            uuid                NOT NULL,
  "client_id"     uuid                NOT NULL,
  -- The non-secret lookup part of the key (bt_<env>_<prefix>_<secret>); unique across tenants.
  "prefix"        text                NOT NULL,
  -- HMAC-SHA256 (AUTH_TOKEN_PEPPER) of the whole key.
  "key_hash"      text                NOT NULL,
  "environment"   partner_environment NOT NULL,
  "expires_at"    timestamptz(3),
  "revoked_at"    timestamptz(3),
  "last_used_at"  timestamptz(3),
  -- Set on the old key when it is rotated: the key that replaced it.
  "replaced_by_id" uuid,
  "created_by_id" uuid                NOT NULL,
  "created_at"    timestamptz(3)      NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "partner_api_keys_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "partner_api_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "partner_api_keys_tenant_id_client_id_fkey" FOREIGN KEY ("tenant_id", "client_id") REFERENCES "partner_clients" ("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT "partner_api_keys_tenant_id_replaced_by_id_fkey" FOREIGN KEY ("tenant_id", "replaced_by_id") REFERENCES "partner_api_keys" ("tenant_id", "id") ON DELETE SET NULL ("replaced_by_id") ON UPDATE CASCADE,
  CONSTRAINT "partner_api_keys_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "partner_api_keys_prefix_format" CHECK ("prefix" ~ '^[a-z2-7]{12}$')
);
CREATE UNIQUE INDEX "partner_api_keys_prefix_key" ON "partner_api_keys" ("prefix");
CREATE INDEX "partner_api_keys_tenant_id_client_id_idx" ON "partner_api_keys" ("tenant_id", "client_id");

-- A principal the abuse detector blocked in this tenant (the block itself lives in Redis with a
-- TTL; this row is what tenant admins see at GET /v1/security/blocks and operators lift).
CREATE TABLE "security_blocks" (
  "tenant_id"      uuid           NOT NULL,
  "id"             uuid           NOT NULL,
  -- user:<uuid> or partner:<uuid>
  "principal"      text           NOT NULL,
  "ip"             text,
  -- not_found | auth_failure | scraping | burst
  "signal"         text           NOT NULL,
  "observed"       integer        NOT NULL,
  "threshold"      integer        NOT NULL,
  "window_s"       integer        NOT NULL,
  "blocked_at"     timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "expires_at"     timestamptz(3) NOT NULL,
  "lifted_at"      timestamptz(3),
  "lifted_by"      text,
  CONSTRAINT "security_blocks_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "security_blocks_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "security_blocks_principal_format" CHECK ("principal" ~ '^(user|partner):[0-9a-f-]{36}$'),
  CONSTRAINT "security_blocks_signal" CHECK ("signal" IN ('not_found', 'auth_failure', 'scraping', 'burst'))
);
CREATE INDEX "security_blocks_tenant_id_blocked_at_idx" ON "security_blocks" ("tenant_id", "blocked_at");

-- Partner-created invoices and tickets.
ALTER TABLE "invoices" ALTER COLUMN "created_by_id" DROP NOT NULL;
ALTER TABLE "invoices" ADD COLUMN "created_by_client_id" uuid;
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_tenant_id_created_by_client_id_fkey"
  FOREIGN KEY ("tenant_id", "created_by_client_id") REFERENCES "partner_clients" ("tenant_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "invoices" ADD CONSTRAINT "invoices_one_creator" CHECK (num_nonnulls("created_by_id", "created_by_client_id") = 1);
CREATE INDEX "invoices_tenant_id_created_by_client_id_idx" ON "invoices" ("tenant_id", "created_by_client_id");

ALTER TABLE "tickets" ALTER COLUMN "opened_by_id" DROP NOT NULL;
ALTER TABLE "tickets" ADD COLUMN "opened_by_client_id" uuid;
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_tenant_id_opened_by_client_id_fkey"
  FOREIGN KEY ("tenant_id", "opened_by_client_id") REFERENCES "partner_clients" ("tenant_id", "id") ON DELETE RESTRICT ON UPDATE CASCADE;
ALTER TABLE "tickets" ADD CONSTRAINT "tickets_one_opener" CHECK (num_nonnulls("opened_by_id", "opened_by_client_id") = 1);
CREATE INDEX "tickets_tenant_id_opened_by_client_id_idx" ON "tickets" ("tenant_id", "opened_by_client_id");

ALTER TABLE "partner_clients" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "partner_clients" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "partner_clients"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "partner_api_keys" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "partner_api_keys" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "partner_api_keys"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "security_blocks" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "security_blocks" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "security_blocks"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

-- Hashes stay out of the runtime role's reach once written: it may insert them and compare
-- through the lookup functions below, never select them.
GRANT SELECT ("tenant_id", "id", "name", "environment", "scopes", "tier", "ip_allowlist", "expires_at", "revoked_at", "created_by_id", "version", "created_at", "updated_at"),
      INSERT, UPDATE ("name", "scopes", "tier", "ip_allowlist", "secret_hash", "expires_at", "revoked_at", "version", "updated_at")
   ON "partner_clients" TO benteng_app;
GRANT SELECT ("tenant_id", "id", "client_id", "prefix", "environment", "expires_at", "revoked_at", "last_used_at", "replaced_by_id", "created_by_id", "created_at"),
      INSERT, UPDATE ("expires_at", "revoked_at", "last_used_at", "replaced_by_id")
   ON "partner_api_keys" TO benteng_app;
GRANT SELECT, INSERT, UPDATE ("lifted_at", "lifted_by", "expires_at") ON "security_blocks" TO benteng_app;

-- Credential lookup by the key's public prefix, before any tenant is known (ARCHITECTURE.md,
-- invariant 4): returns only what verifying one presented key needs, for one prefix.
CREATE FUNCTION partner_key_lookup(p_prefix text)
RETURNS TABLE (tenant_id uuid, tenant_status tenant_status, key_id uuid, client_id uuid, key_hash text,
               environment partner_environment, key_expires_at timestamptz, key_revoked_at timestamptz, last_used_at timestamptz,
               client_expires_at timestamptz, client_revoked_at timestamptz, scopes text[], tier partner_tier, ip_allowlist text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT k.tenant_id, t.status, k.id, k.client_id, k.key_hash,
         k.environment, k.expires_at, k.revoked_at, k.last_used_at,
         c.expires_at, c.revoked_at, c.scopes, c.tier, c.ip_allowlist
    FROM partner_api_keys k
    JOIN partner_clients c ON c.tenant_id = k.tenant_id AND c.id = k.client_id
    JOIN tenants t ON t.id = k.tenant_id
   WHERE k.prefix = p_prefix;
$$;

-- Client credentials (POST /partner/oauth/token) and every request with a partner access token:
-- one client by its id, before any tenant is known.
CREATE FUNCTION partner_client_lookup(p_client_id uuid)
RETURNS TABLE (tenant_id uuid, tenant_status tenant_status, client_id uuid, secret_hash text, environment partner_environment,
               expires_at timestamptz, revoked_at timestamptz, scopes text[], tier partner_tier, ip_allowlist text[])
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT c.tenant_id, t.status, c.id, c.secret_hash, c.environment, c.expires_at, c.revoked_at, c.scopes, c.tier, c.ip_allowlist
    FROM partner_clients c JOIN tenants t ON t.id = c.tenant_id
   WHERE c.id = p_client_id;
$$;

ALTER FUNCTION partner_key_lookup(text) OWNER TO benteng_platform;
ALTER FUNCTION partner_client_lookup(uuid) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION partner_key_lookup(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION partner_client_lookup(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION partner_key_lookup(text) TO benteng_app;
GRANT EXECUTE ON FUNCTION partner_client_lookup(uuid) TO benteng_app;

GRANT SELECT ("tenant_id", "id", "secret_hash", "environment", "expires_at", "revoked_at", "scopes", "tier", "ip_allowlist") ON "partner_clients" TO benteng_platform;
GRANT SELECT ("tenant_id", "id", "client_id", "prefix", "key_hash", "environment", "expires_at", "revoked_at", "last_used_at") ON "partner_api_keys" TO benteng_platform;

-- Signed partner requests (RFC 9421 HTTP Message Signatures, RFC 9530 Content-Digest): the Ed25519
-- public keys a partner client signs its /partner/v1 requests with, and a flag on the client that
-- makes a signature mandatory on every one of its requests (docs/request-signing.md).

ALTER TABLE "partner_clients" ADD COLUMN "require_signatures" boolean NOT NULL DEFAULT false;

CREATE TABLE "partner_signing_keys" (
  "tenant_id"     uuid           NOT NULL,
  "id"            uuid           NOT NULL,
  "client_id"     uuid           NOT NULL,
  -- The RFC 9421 `keyid` a signature names: the key's RFC 7638 JWK SHA-256 thumbprint (base64url).
  "keyid"         text           NOT NULL,
  -- RFC 9421 algorithm name; Ed25519 only for now.
  "alg"           text           NOT NULL DEFAULT 'ed25519',
  -- The public key as SPKI PEM (a public key: no secret is stored here).
  "public_key"    text           NOT NULL,
  "label"         text,
  "revoked_at"    timestamptz(3),
  "last_used_at"  timestamptz(3),
  "created_by_id" uuid           NOT NULL,
  "created_at"    timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "partner_signing_keys_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "partner_signing_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "partner_signing_keys_tenant_id_client_id_fkey" FOREIGN KEY ("tenant_id", "client_id") REFERENCES "partner_clients" ("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT "partner_signing_keys_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "partner_signing_keys_keyid_format" CHECK ("keyid" ~ '^[A-Za-z0-9_-]{43}$'),
  CONSTRAINT "partner_signing_keys_alg" CHECK ("alg" IN ('ed25519')),
  CONSTRAINT "partner_signing_keys_label_length" CHECK ("label" IS NULL OR length("label") BETWEEN 1 AND 100)
);
-- One public key belongs to one client of a tenant: a signature's keyid names exactly one row.
CREATE UNIQUE INDEX "partner_signing_keys_tenant_id_keyid_key" ON "partner_signing_keys" ("tenant_id", "keyid");
CREATE INDEX "partner_signing_keys_tenant_id_client_id_idx" ON "partner_signing_keys" ("tenant_id", "client_id");

ALTER TABLE "partner_signing_keys" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "partner_signing_keys" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "partner_signing_keys"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

GRANT SELECT ("require_signatures"), UPDATE ("require_signatures") ON "partner_clients" TO benteng_app;
GRANT SELECT, INSERT, UPDATE ("revoked_at", "last_used_at") ON "partner_signing_keys" TO benteng_app;

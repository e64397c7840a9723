-- Behaviour every feature shares: idempotent creates and the domain-event outbox.

-- Idempotency-Key: the first request with a key stores its response; a repeat with the same body
-- gets the same response, a repeat with another body is refused (422). Scoped to the tenant and
-- the principal, so keys of different callers never collide.
CREATE TABLE "idempotency_keys" (
  "tenant_id"       uuid           NOT NULL,
  "id"              uuid           NOT NULL,
  "principal"       text           NOT NULL,
  "key"             text           NOT NULL,
  "route"           text           NOT NULL,
  "request_hash"    text           NOT NULL,
  "response_status" integer        NOT NULL,
  "response_body"   jsonb          NOT NULL,
  "created_at"      timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "idempotency_keys_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "idempotency_keys_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "idempotency_keys_key_format" CHECK (length("key") BETWEEN 1 AND 255)
);
CREATE UNIQUE INDEX "idempotency_keys_tenant_id_principal_route_key_key" ON "idempotency_keys" ("tenant_id", "principal", "route", "key");
CREATE INDEX "idempotency_keys_created_at_idx" ON "idempotency_keys" ("created_at");

-- Outbox: domain events written in the same transaction as the change they describe; the webhook
-- relay publishes them (published_at) and never loses one.
CREATE TABLE "domain_events" (
  "tenant_id"    uuid           NOT NULL,
  "id"           uuid           NOT NULL,
  "type"         text           NOT NULL,
  "subject_type" text           NOT NULL,
  "subject_id"   uuid           NOT NULL,
  "payload"      jsonb          NOT NULL,
  "occurred_at"  timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "published_at" timestamptz(3),
  CONSTRAINT "domain_events_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "domain_events_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "domain_events_tenant_id_published_at_idx" ON "domain_events" ("tenant_id", "published_at", "occurred_at");

ALTER TABLE "idempotency_keys" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "idempotency_keys" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "idempotency_keys"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "domain_events" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "domain_events" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "domain_events"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON "idempotency_keys" TO benteng_app;
GRANT SELECT, INSERT, UPDATE ON "domain_events" TO benteng_app;

-- Documents: files a tenant uploads, optionally attached to one of its invoices or tickets.
-- Metadata lives in "documents"; the bytes live behind a storage interface whose default driver
-- keeps them in "document_contents", a tenant table like any other, so row-level security guards
-- the bytes exactly as it guards the metadata. An S3-compatible driver would store the bytes
-- elsewhere and leave "document_contents" empty; "documents"."storage_key" names them either way.

CREATE TABLE "document_contents" (
  "tenant_id"  uuid           NOT NULL,
  "id"         uuid           NOT NULL,
  "content"    bytea          NOT NULL,
  "created_at" timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "document_contents_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "document_contents_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);

-- The links are composite with tenant_id, so a document can only point at an invoice or ticket of
-- its own tenant (FK checks bypass RLS; a single-column key would let one tenant probe another's
-- ids). Deleting the invoice or ticket keeps the document and clears only the link column:
-- ON DELETE SET NULL (column list, PostgreSQL 15+) leaves tenant_id alone, where a plain SET NULL
-- would try to null tenant_id too and fail. The column list is beyond what schema.prisma can say;
-- there the relations are optional with Prisma's default action for them, SetNull, which is what
-- pg_catalog reports for this constraint too (test/integration/schema-drift.spec.ts).
CREATE TABLE "documents" (
  "tenant_id"      uuid           NOT NULL,
  "id"             uuid           NOT NULL,
  "file_name"      text           NOT NULL,
  "content_type"   text           NOT NULL,
  "size_bytes"     integer        NOT NULL,
  "sha256"         text           NOT NULL,
  "storage_key"    text           NOT NULL,
  "invoice_id"     uuid,
  "ticket_id"      uuid,
  "uploaded_by_id" uuid           NOT NULL,
  "created_at"     timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "documents_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "documents_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "documents_uploaded_by_id_fkey" FOREIGN KEY ("uploaded_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "documents_tenant_id_invoice_id_fkey" FOREIGN KEY ("tenant_id", "invoice_id") REFERENCES "invoices" ("tenant_id", "id") ON DELETE SET NULL ("invoice_id") ON UPDATE CASCADE,
  CONSTRAINT "documents_tenant_id_ticket_id_fkey" FOREIGN KEY ("tenant_id", "ticket_id") REFERENCES "tickets" ("tenant_id", "id") ON DELETE SET NULL ("ticket_id") ON UPDATE CASCADE,
  -- The allowlist, again: whatever the application decides, nothing else is ever stored or served.
  CONSTRAINT "documents_content_type_allowed" CHECK ("content_type" IN ('application/pdf', 'image/png', 'image/jpeg', 'text/plain', 'text/csv')),
  CONSTRAINT "documents_file_name_length" CHECK (length("file_name") BETWEEN 1 AND 255),
  CONSTRAINT "documents_size_positive" CHECK ("size_bytes" > 0),
  CONSTRAINT "documents_sha256_format" CHECK ("sha256" ~ '^[0-9a-f]{64}$'),
  CONSTRAINT "documents_storage_key_length" CHECK (length("storage_key") BETWEEN 1 AND 1024),
  CONSTRAINT "documents_one_link" CHECK (num_nonnulls("invoice_id", "ticket_id") <= 1)
);
-- Listing: newest first, keyset-paginated on (created_at, id).
CREATE INDEX "documents_tenant_id_created_at_id_idx" ON "documents" ("tenant_id", "created_at", "id");
-- Also serve the ON DELETE SET NULL of the links (without them every invoice or ticket deletion
-- would scan the tenant's documents).
CREATE INDEX "documents_tenant_id_invoice_id_idx" ON "documents" ("tenant_id", "invoice_id");
CREATE INDEX "documents_tenant_id_ticket_id_idx" ON "documents" ("tenant_id", "ticket_id");

ALTER TABLE "documents" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "documents" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "documents"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "document_contents" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "document_contents" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "document_contents"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

-- Documents are immutable once uploaded: no UPDATE for the runtime role (the link columns are
-- cleared by the foreign keys' own action, which needs no grant).
GRANT SELECT, INSERT, DELETE ON "documents" TO benteng_app;
GRANT SELECT, INSERT, DELETE ON "document_contents" TO benteng_app;

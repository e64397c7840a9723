-- Privacy operations (UU PDP, Law 27 of 2022): data subject requests, and an audit log whose
-- personal detail can be erased while its hash chain still verifies (docs/privacy.md).

-- Data subject requests ----------------------------------------------------------------------------
CREATE TABLE "privacy_requests" (
  "tenant_id"       uuid           NOT NULL,
  "id"              uuid           NOT NULL,
  "kind"            text           NOT NULL,
  "subject_user_id" uuid           NOT NULL,
  -- The member id the API names the subject by (/v1/members/{id}); the membership is gone after an
  -- erasure, so no foreign key.
  "subject_member_id" uuid         NOT NULL,
  "requested_by_id" uuid           NOT NULL,
  "status"          text           NOT NULL DEFAULT 'processing',
  -- An access request's export (exports are deleted when they expire, so no foreign key).
  "export_id"       uuid,
  -- What was done: counts per table for an erasure; never personal data.
  "result"          jsonb          NOT NULL DEFAULT '{}',
  "error_code"      text,
  "created_at"      timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "completed_at"    timestamptz(3),
  CONSTRAINT "privacy_requests_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "privacy_requests_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "privacy_requests_subject_user_id_fkey" FOREIGN KEY ("subject_user_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "privacy_requests_requested_by_id_fkey" FOREIGN KEY ("requested_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "privacy_requests_kind" CHECK ("kind" IN ('access', 'erasure')),
  CONSTRAINT "privacy_requests_status" CHECK ("status" IN ('processing', 'completed', 'failed'))
);
CREATE INDEX "privacy_requests_tenant_id_created_at_idx" ON "privacy_requests" ("tenant_id", "created_at");
CREATE INDEX "privacy_requests_tenant_id_subject_user_id_idx" ON "privacy_requests" ("tenant_id", "subject_user_id");

ALTER TABLE "privacy_requests" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "privacy_requests" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "privacy_requests"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);
GRANT SELECT, INSERT, UPDATE ON "privacy_requests" TO benteng_app;

-- An access request is served as an export: one JSON document about one person.
ALTER TABLE "exports" DROP CONSTRAINT "exports_type";
ALTER TABLE "exports" ADD CONSTRAINT "exports_type" CHECK ("type" IN ('invoices', 'tickets', 'subject_access'));
ALTER TABLE "exports" DROP CONSTRAINT "exports_format";
ALTER TABLE "exports" ADD CONSTRAINT "exports_format" CHECK ("format" IN ('csv', 'jsonl', 'json'));

-- Erasable audit detail ----------------------------------------------------------------------------
-- Version 2 rows (libs/audit/src/audit-chain.ts) hash a salted commitment to (ip, data) instead of
-- the values themselves. Erasure clears ip, data and the salt and sets erased_at: the commitment
-- stays in the hashed content, so the chain still verifies, and without the salt it can no longer
-- be tested against a guessed address. Rows written before this migration (version 1) hash ip and
-- data directly and cannot be erased without breaking the chain (docs/privacy.md, limits).
ALTER TABLE "audit_events" ADD COLUMN "hash_version" smallint NOT NULL DEFAULT 1;
ALTER TABLE "audit_events" ADD COLUMN "personal_commitment" text;
ALTER TABLE "audit_events" ADD COLUMN "personal_salt" text;
ALTER TABLE "audit_events" ADD COLUMN "erased_at" timestamptz(3);
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_hash_version" CHECK ("hash_version" IN (1, 2));
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_commitment" CHECK (("hash_version" = 2) = ("personal_commitment" IS NOT NULL));

-- The one UPDATE the table accepts, from anyone: erasing a version 2 row's detail, nothing else.
DROP TRIGGER "audit_events_append_only" ON "audit_events";
CREATE TRIGGER "audit_events_append_only" BEFORE DELETE OR TRUNCATE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
CREATE FUNCTION audit_events_erase_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.hash_version = 2
     AND (NEW.tenant_id, NEW.id, NEW.seq, NEW.occurred_at, NEW.type, NEW.outcome, NEW.actor, NEW.subject,
          NEW.request_id, NEW.prev_hash, NEW.hash, NEW.hash_version, NEW.personal_commitment)
         IS NOT DISTINCT FROM
         (OLD.tenant_id, OLD.id, OLD.seq, OLD.occurred_at, OLD.type, OLD.outcome, OLD.actor, OLD.subject,
          OLD.request_id, OLD.prev_hash, OLD.hash, OLD.hash_version, OLD.personal_commitment)
     AND NEW.ip IS NULL AND NEW.data = '{}'::jsonb AND NEW.personal_salt IS NULL AND NEW.erased_at IS NOT NULL
  THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only' USING ERRCODE = 'insufficient_privilege';
END
$$;
CREATE TRIGGER "audit_events_erase_only" BEFORE UPDATE ON "audit_events"
  FOR EACH ROW EXECUTE FUNCTION audit_events_erase_only();
GRANT UPDATE ("ip", "data", "personal_salt", "erased_at") ON "audit_events" TO benteng_app;

-- Erasing an account (users is a platform table the runtime role cannot write) -------------------------
-- Only from a transaction of a tenant the user belongs to, and only when that is the user's last
-- membership: the account is shared by every tenant the person belongs to, and another tenant's data
-- is not this tenant's to erase. Returns whether the account was erased.
GRANT UPDATE ("email", "display_name", "status") ON "users" TO benteng_platform;
CREATE FUNCTION privacy_erase_account(p_user_id uuid)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_tenant uuid := nullif(current_setting('app.tenant_id', true), '')::uuid;
BEGIN
  IF v_tenant IS NULL OR NOT EXISTS (SELECT 1 FROM memberships WHERE tenant_id = v_tenant AND user_id = p_user_id) THEN
    RETURN false;
  END IF;
  IF EXISTS (SELECT 1 FROM memberships WHERE user_id = p_user_id AND tenant_id <> v_tenant) THEN
    RETURN false;
  END IF;
  UPDATE users
     SET email = 'erased+' || p_user_id::text || '@erased.invalid',
         display_name = 'Erased user',
         password_hash = NULL,
         status = 'locked',
         updated_at = CURRENT_TIMESTAMP
   WHERE id = p_user_id;
  RETURN FOUND;
END
$$;
ALTER FUNCTION privacy_erase_account(uuid) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION privacy_erase_account(uuid) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION privacy_erase_account(uuid) TO benteng_app;

-- What an erasure changes in place (libs/privacy/src/subject-data.repository.ts, per
-- prisma/personal-data.ts): a comment's text, an invitation's address and name, a block's address.
GRANT UPDATE ("body") ON "ticket_comments" TO benteng_app;
GRANT UPDATE ("email", "display_name") ON "invitations" TO benteng_app;
GRANT UPDATE ("ip") ON "security_blocks" TO benteng_app;

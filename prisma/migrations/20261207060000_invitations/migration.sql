-- Invitations (issue 14, finding 6): a tenant no longer attaches an account by email. An owner or
-- admin invites an email address; the person behind it accepts from their own session (an existing
-- account) or by choosing a password (a new account). Nothing is attached before acceptance.

CREATE TABLE "invitations" (
  "tenant_id"        uuid            NOT NULL,
  "id"               uuid            NOT NULL,
  "email"            text            NOT NULL,
  "role"             membership_role NOT NULL,
  -- The name the tenant will know the member by; NULL: the account's own name.
  "display_name"     text,
  -- HMAC-SHA256 (AUTH_TOKEN_PEPPER) of the single-use token; unique across tenants (lookup key).
  "token_hash"       text            NOT NULL,
  "invited_by_id"    uuid            NOT NULL,
  "created_at"       timestamptz(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "expires_at"       timestamptz(3)  NOT NULL,
  "accepted_at"      timestamptz(3),
  "accepted_user_id" uuid,
  "revoked_at"       timestamptz(3),
  CONSTRAINT "invitations_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "invitations_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "invitations_invited_by_id_fkey" FOREIGN KEY ("invited_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "invitations_accepted_user_id_fkey" FOREIGN KEY ("accepted_user_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "invitations_email_lowercase" CHECK ("email" = lower("email")),
  CONSTRAINT "invitations_one_outcome" CHECK ("accepted_at" IS NULL OR "revoked_at" IS NULL),
  CONSTRAINT "invitations_accepted_by" CHECK (("accepted_at" IS NULL) = ("accepted_user_id" IS NULL))
);
CREATE UNIQUE INDEX "invitations_token_hash_key" ON "invitations" ("token_hash");
CREATE INDEX "invitations_tenant_id_created_at_idx" ON "invitations" ("tenant_id", "created_at");
CREATE INDEX "invitations_tenant_id_email_idx" ON "invitations" ("tenant_id", "email");

ALTER TABLE "invitations" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "invitations" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "invitations"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

-- The runtime role writes the hash once and never reads it back (column grants, as for partner keys).
GRANT SELECT ("tenant_id", "id", "email", "role", "display_name", "invited_by_id", "created_at", "expires_at", "accepted_at", "accepted_user_id", "revoked_at"),
      INSERT, UPDATE ("accepted_at", "accepted_user_id", "revoked_at")
   ON "invitations" TO benteng_app;

-- The direct path is gone: no tenant may find or create an account by email any more.
REVOKE ALL ON FUNCTION auth_find_or_create_user(text, text) FROM benteng_app;
DROP FUNCTION auth_find_or_create_user(text, text);

-- Cross-tenant functions (docs/architecture.md, invariant 4): the invitee is not in the tenant yet, so
-- the invitation is found by its token's hash before any tenant is known. Each returns only what
-- its caller needs and is executable by benteng_app alone.

-- Acceptance: the invitation a token hash names, with its tenant. No hash comes back.
CREATE FUNCTION invitation_lookup(p_token_hash text)
RETURNS TABLE (tenant_id uuid, invitation_id uuid, email text, tenant_slug text, tenant_name text, tenant_status tenant_status)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
  SELECT i.tenant_id, i.id, i.email, t.slug, t.name, t.status
    FROM invitations i JOIN tenants t ON t.id = i.tenant_id
   WHERE i.token_hash = p_token_hash;
$$;

-- Registration through an invitation: a new account for the invitation's email (never another),
-- with its password, only while the invitation is neither accepted nor revoked and only if no
-- account holds that email. Returns the new user's id, or NULL. The caller runs it inside its tenant
-- transaction, after locking the invitation row and checking its expiry against the application's
-- clock, so the account, the membership and the spent invitation commit together or not at all.
CREATE FUNCTION invitation_create_user(p_token_hash text, p_display_name text, p_password_hash text)
RETURNS uuid
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
  v_email text;
  v_id uuid;
BEGIN
  SELECT i.email INTO v_email FROM invitations i
   WHERE i.token_hash = p_token_hash AND i.accepted_at IS NULL AND i.revoked_at IS NULL;
  IF v_email IS NULL THEN
    RETURN NULL;
  END IF;
  INSERT INTO users (id, email, display_name, password_hash) VALUES (gen_random_uuid(), v_email, p_display_name, p_password_hash)
  ON CONFLICT (email) DO NOTHING
  RETURNING id INTO v_id;
  RETURN v_id;
END
$$;

GRANT SELECT ("tenant_id", "id", "email", "token_hash", "expires_at", "accepted_at", "revoked_at") ON "invitations" TO benteng_platform;
GRANT INSERT ("password_hash") ON "users" TO benteng_platform;

ALTER FUNCTION invitation_lookup(text) OWNER TO benteng_platform;
ALTER FUNCTION invitation_create_user(text, text, text) OWNER TO benteng_platform;
REVOKE ALL ON FUNCTION invitation_lookup(text) FROM PUBLIC;
REVOKE ALL ON FUNCTION invitation_create_user(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION invitation_lookup(text) TO benteng_app;
GRANT EXECUTE ON FUNCTION invitation_create_user(text, text, text) TO benteng_app;

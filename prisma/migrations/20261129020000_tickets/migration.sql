-- Tickets and their comments. Beyond the tenant, members see only the tickets they opened or are
-- assigned to (CASL rules); the database enforces the tenant boundary and that an assignee is a
-- member of the same tenant (composite FK to memberships).

CREATE TYPE "ticket_status" AS ENUM ('open', 'in_progress', 'resolved', 'closed');
CREATE TYPE "ticket_priority" AS ENUM ('low', 'normal', 'high', 'urgent');

CREATE TABLE "tickets" (
  "tenant_id"    uuid            NOT NULL,
  "id"           uuid            NOT NULL,
  "subject"      text            NOT NULL,
  "body"         text            NOT NULL,
  "status"       ticket_status   NOT NULL DEFAULT 'open',
  "priority"     ticket_priority NOT NULL DEFAULT 'normal',
  "opened_by_id" uuid            NOT NULL,
  "assignee_id"  uuid,
  "version"      integer         NOT NULL DEFAULT 1,
  "created_at"   timestamptz(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP,
  "updated_at"   timestamptz(3)  NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "tickets_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "tickets_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "tickets_opened_by_id_fkey" FOREIGN KEY ("opened_by_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "tickets_tenant_id_assignee_id_fkey" FOREIGN KEY ("tenant_id", "assignee_id") REFERENCES "memberships" ("tenant_id", "user_id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "tickets_subject_length" CHECK (length("subject") BETWEEN 1 AND 200)
);
CREATE INDEX "tickets_tenant_id_status_created_at_idx" ON "tickets" ("tenant_id", "status", "created_at");
CREATE INDEX "tickets_tenant_id_assignee_id_idx" ON "tickets" ("tenant_id", "assignee_id");
CREATE INDEX "tickets_tenant_id_opened_by_id_idx" ON "tickets" ("tenant_id", "opened_by_id");

CREATE TABLE "ticket_comments" (
  "tenant_id"  uuid           NOT NULL,
  "id"         uuid           NOT NULL,
  "ticket_id"  uuid           NOT NULL,
  "author_id"  uuid           NOT NULL,
  "body"       text           NOT NULL,
  "created_at" timestamptz(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
  CONSTRAINT "ticket_comments_pkey" PRIMARY KEY ("tenant_id", "id"),
  CONSTRAINT "ticket_comments_tenant_id_fkey" FOREIGN KEY ("tenant_id") REFERENCES "tenants" ("id") ON DELETE RESTRICT ON UPDATE CASCADE,
  CONSTRAINT "ticket_comments_tenant_id_ticket_id_fkey" FOREIGN KEY ("tenant_id", "ticket_id") REFERENCES "tickets" ("tenant_id", "id") ON DELETE CASCADE ON UPDATE CASCADE,
  CONSTRAINT "ticket_comments_author_id_fkey" FOREIGN KEY ("author_id") REFERENCES "users" ("id") ON DELETE RESTRICT ON UPDATE CASCADE
);
CREATE INDEX "ticket_comments_tenant_id_ticket_id_created_at_idx" ON "ticket_comments" ("tenant_id", "ticket_id", "created_at");

-- A member leaving the tenant leaves their tickets unassigned (the composite FK would otherwise
-- block the removal). Runs in the removing transaction, under the same RLS scope.
-- Each unassigned ticket gets its ticket.updated event in the outbox, like any other change.
CREATE FUNCTION memberships_unassign_tickets() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  WITH unassigned AS (
    UPDATE tickets SET assignee_id = NULL, version = version + 1, updated_at = now()
     WHERE tenant_id = OLD.tenant_id AND assignee_id = OLD.user_id
    RETURNING tenant_id, id, status, priority
  )
  INSERT INTO domain_events (tenant_id, id, type, subject_type, subject_id, payload, occurred_at)
  SELECT tenant_id, gen_random_uuid(), 'ticket.updated', 'ticket', id,
         jsonb_build_object('id', id, 'status', status, 'priority', priority, 'assigned', false, 'changed', jsonb_build_array('assignee')),
         now()
    FROM unassigned;
  RETURN OLD;
END
$$;
CREATE TRIGGER "memberships_unassign_tickets" BEFORE DELETE ON "memberships"
  FOR EACH ROW EXECUTE FUNCTION memberships_unassign_tickets();

ALTER TABLE "tickets" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "tickets" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "tickets"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

ALTER TABLE "ticket_comments" ENABLE ROW LEVEL SECURITY;
ALTER TABLE "ticket_comments" FORCE ROW LEVEL SECURITY;
CREATE POLICY "tenant_isolation" ON "ticket_comments"
  USING ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid)
  WITH CHECK ("tenant_id" = (select nullif(current_setting('app.tenant_id', true), ''))::uuid);

GRANT SELECT, INSERT, UPDATE, DELETE ON "tickets" TO benteng_app;
GRANT SELECT, INSERT ON "ticket_comments" TO benteng_app;

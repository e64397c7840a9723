import type pg from 'pg';
import { INTERNAL_ROLE, RUNTIME_ROLE } from '@benteng/config';

/**
 * Reads pg_catalog and lists every way a schema breaks docs/architecture.md, invariants 3 and 4.
 * Nothing here names a table or a function: a tenant table is any table with a `tenant_id` column
 * and an operator function any function named like one (OPERATOR_FUNCTION), so what a future
 * migration adds is checked the moment it exists. Run it as a role that can read the whole
 * catalog (the migration owner in tests).
 */

/** A pool or a single client: anything that can run a parameterised query. */
export type Queryable = Pick<pg.Pool, 'query'>;

export interface CatalogOptions {
  /** The role the application connects as (default: RUNTIME_ROLE from @benteng/config). */
  runtimeRole?: string;
  /** The internal listener's role, the only one that may execute operator functions (default: INTERNAL_ROLE). */
  internalRole?: string;
  /** Prisma's bookkeeping table: exempt from RLS, but the runtime role must not touch it. */
  migrationsTable?: string;
  /** Columns the runtime role must never read; skipped when the table or column is absent. */
  secretColumns?: readonly { table: string; column: string }[];
}

const DEFAULT_SECRET_COLUMNS = [
  { table: 'users', column: 'password_hash' },
  { table: 'partner_clients', column: 'secret_hash' },
  { table: 'partner_api_keys', column: 'key_hash' },
  { table: 'invitations', column: 'token_hash' },
] as const;

/**
 * The operator functions of the internal listener, by name: `internal_*`, and `metrics_credential_*`
 * (the internal gate's scrape-credential checks). Only the internal role may execute them; the
 * runtime role of the public listener and the worker, and PUBLIC, may not (invariant 4).
 */
const OPERATOR_FUNCTION_PREFIXES = ['internal_', 'metrics_credential_'] as const;

/** The wording every policy message uses, so a reader knows what would satisfy the check. */
const TENANT_PREDICATE = "tenant_id = (select nullif(current_setting('app.tenant_id', true), ''))::uuid";

type Command = 'SELECT' | 'INSERT' | 'UPDATE' | 'DELETE';
const COMMANDS: readonly Command[] = ['SELECT', 'INSERT', 'UPDATE', 'DELETE'];
const POLICY_COMMANDS: Record<string, { label: string; commands: readonly Command[] }> = {
  '*': { label: 'ALL', commands: COMMANDS },
  r: { label: 'SELECT', commands: ['SELECT'] },
  a: { label: 'INSERT', commands: ['INSERT'] },
  w: { label: 'UPDATE', commands: ['UPDATE'] },
  d: { label: 'DELETE', commands: ['DELETE'] },
};

interface TableRow {
  oid: number;
  name: string;
  rls: boolean;
  forced: boolean;
  has_tenant_id: boolean;
  tenant_id_not_null: boolean | null;
}

interface PolicyRow {
  table_oid: number;
  name: string;
  cmd: string;
  permissive: boolean;
  using_expr: string | null;
  check_expr: string | null;
  applies_to_runtime: boolean | null;
}

interface ConstraintRow {
  table_oid: number;
  name: string;
  type: 'p' | 'f';
  columns: string[];
  ref_table: string | null;
  ref_columns: string[] | null;
  ref_has_tenant_id: boolean | null;
}

interface IndexRow {
  table_oid: number;
  first_column: string | null;
}

interface RoleRow {
  oid: number;
  rolsuper: boolean;
  rolbypassrls: boolean;
  rolcreaterole: boolean;
  rolcreatedb: boolean;
}

export async function catalogViolations(client: Queryable, schema: string, options: CatalogOptions = {}): Promise<string[]> {
  const runtimeRole = options.runtimeRole ?? RUNTIME_ROLE;
  const internalRole = options.internalRole ?? INTERNAL_ROLE;
  const migrationsTable = options.migrationsTable ?? '_prisma_migrations';
  const secretColumns = options.secretColumns ?? DEFAULT_SECRET_COLUMNS;

  const violations: string[] = [];
  const role = await runtimeRoleViolations(client, runtimeRole, violations);

  const { rows: tables } = await client.query<TableRow>(
    `SELECT c.oid::int AS oid, c.relname AS name, c.relrowsecurity AS rls, c.relforcerowsecurity AS forced,
            a.attnum IS NOT NULL AS has_tenant_id, a.attnotnull AS tenant_id_not_null
       FROM pg_class c
       JOIN pg_namespace n ON n.oid = c.relnamespace
       LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
      WHERE n.nspname = $1 AND c.relkind IN ('r', 'p')
      ORDER BY c.relname`,
    [schema],
  );
  const oids = tables.map((t) => t.oid);

  const { rows: policies } = await client.query<PolicyRow>(
    `SELECT p.polrelid::int AS table_oid, p.polname AS name, p.polcmd AS cmd, p.polpermissive AS permissive,
            pg_get_expr(p.polqual, p.polrelid) AS using_expr,
            pg_get_expr(p.polwithcheck, p.polrelid) AS check_expr,
            -- polroles {0} means PUBLIC; otherwise the policy reaches the runtime role through membership.
            (0::oid = ANY (p.polroles) OR EXISTS (
               SELECT 1 FROM unnest(p.polroles) AS r(oid)
                WHERE pg_has_role((SELECT oid FROM pg_roles WHERE rolname = $2), r.oid, 'MEMBER'))) AS applies_to_runtime
       FROM pg_policy p
      WHERE p.polrelid = ANY ($1::oid[])
      ORDER BY p.polname`,
    [oids, runtimeRole],
  );

  const { rows: constraints } = await client.query<ConstraintRow>(
    `SELECT con.conrelid::int AS table_oid, con.conname AS name, con.contype AS type,
            ARRAY(SELECT a.attname::text FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, ord)
                    JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord) AS columns,
            CASE WHEN con.contype = 'f' THEN con.confrelid::regclass::text END AS ref_table,
            CASE WHEN con.contype = 'f' THEN
              ARRAY(SELECT a.attname::text FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, ord)
                      JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord) END AS ref_columns,
            CASE WHEN con.contype = 'f' THEN EXISTS (
              SELECT 1 FROM pg_attribute a WHERE a.attrelid = con.confrelid AND a.attname = 'tenant_id' AND NOT a.attisdropped) END AS ref_has_tenant_id
       FROM pg_constraint con
      WHERE con.conrelid = ANY ($1::oid[]) AND con.contype IN ('p', 'f')
      ORDER BY con.conname`,
    [oids],
  );

  const { rows: indexes } = await client.query<IndexRow>(
    `SELECT i.indrelid::int AS table_oid, a.attname::text AS first_column
       FROM pg_index i
       LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0]
      WHERE i.indrelid = ANY ($1::oid[])`,
    [oids],
  );

  for (const table of tables) {
    const at = `${schema}.${table.name}`;
    const own = <T extends { table_oid: number }>(rows: T[]) => rows.filter((r) => r.table_oid === table.oid);
    if (table.name === migrationsTable) {
      if (role) violations.push(...(await migrationsTableViolations(client, at, table.oid, runtimeRole)));
    } else if (!table.has_tenant_id) {
      // Platform tables (tenants, users) are administered by the owner, so RLS is enabled but not
      // forced; without it the runtime role would see every tenant's row.
      if (!table.rls) violations.push(`${at}: platform table without row-level security (ENABLE ROW LEVEL SECURITY)`);
    } else {
      violations.push(
        ...tenantTableViolations(at, table, own(policies), own(constraints), own(indexes)),
      );
    }
  }

  if (role) violations.push(...(await secretColumnViolations(client, schema, runtimeRole, secretColumns)));
  violations.push(...(await bypassViolations(client, schema, runtimeRole)));
  // The internal role is held to the runtime role's rules (no superuser, BYPASSRLS, ownership) too.
  if (internalRole !== runtimeRole) await runtimeRoleViolations(client, internalRole, violations);
  violations.push(...(await operatorFunctionViolations(client, schema, runtimeRole, internalRole)));
  return violations;
}

/**
 * Operator functions (OPERATOR_FUNCTION_PREFIXES) that the runtime role may execute, directly, by
 * membership or through PUBLIC, or that the internal role may not (the internal listener would
 * break). A compromised public API process must not be able to suspend a tenant.
 */
async function operatorFunctionViolations(client: Queryable, schema: string, runtimeRole: string, internalRole: string): Promise<string[]> {
  const { rows } = await client.query<{ signature: string; by_public: boolean; by_runtime: boolean; by_internal: boolean }>(
    `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature,
            EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                     WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE') AS by_public,
            coalesce((SELECT has_function_privilege(r.oid, p.oid, 'EXECUTE') FROM pg_roles r WHERE r.rolname = $2), false) AS by_runtime,
            coalesce((SELECT has_function_privilege(r.oid, p.oid, 'EXECUTE') FROM pg_roles r WHERE r.rolname = $3), false) AS by_internal
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND EXISTS (SELECT 1 FROM unnest($4::text[]) AS prefix WHERE starts_with(p.proname, prefix))
      ORDER BY 1`,
    [schema, runtimeRole, internalRole, [...OPERATOR_FUNCTION_PREFIXES]],
  );
  const violations: string[] = [];
  for (const fn of rows) {
    const at = `${schema}.${fn.signature}`;
    if (fn.by_public) violations.push(`${at}: operator function executable by PUBLIC (only ${internalRole} may execute it)`);
    else if (fn.by_runtime) violations.push(`${at}: operator function executable by ${runtimeRole} (only ${internalRole} may execute it)`);
    if (!fn.by_internal) violations.push(`${at}: operator function not executable by ${internalRole} (the internal listener)`);
  }
  return violations;
}

/**
 * Objects that read tables with their owner's rights and so step around RLS: views without
 * security_invoker, materialized views the runtime role can read, and SECURITY DEFINER functions
 * that anyone may execute (PUBLIC gets EXECUTE on new functions by default). Cross-tenant paths
 * must be named, narrow functions granted to a named role (docs/architecture.md, invariant 4).
 */
async function bypassViolations(client: Queryable, schema: string, runtimeRole: string): Promise<string[]> {
  const violations: string[] = [];
  const { rows: views } = await client.query<{ name: string; kind: string; invoker: boolean; readable: boolean }>(
    `SELECT c.relname AS name, c.relkind AS kind,
            coalesce(c.reloptions @> ARRAY['security_invoker=true'] OR c.reloptions @> ARRAY['security_invoker=on'], false) AS invoker,
            EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = $2) AND has_table_privilege($2, c.oid, 'SELECT') AS readable
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = $1 AND c.relkind IN ('v', 'm')
      ORDER BY c.relname`,
    [schema, runtimeRole],
  );
  for (const view of views) {
    const at = `${schema}.${view.name}`;
    if (view.kind === 'v' && !view.invoker) violations.push(`${at}: view without security_invoker runs with its owner's rights and bypasses RLS`);
    if (view.kind === 'm' && view.readable) violations.push(`${at}: materialized view readable by ${runtimeRole} (materialized views have no RLS)`);
  }
  const { rows: functions } = await client.query<{ signature: string }>(
    `SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')' AS signature
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = $1 AND p.prosecdef
        AND EXISTS (SELECT 1 FROM aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                     WHERE a.grantee = 0 AND a.privilege_type = 'EXECUTE')
      ORDER BY 1`,
    [schema],
  );
  for (const fn of functions) violations.push(`${schema}.${fn.signature}: SECURITY DEFINER function executable by PUBLIC`);
  return violations;
}

function tenantTableViolations(
  at: string,
  table: TableRow,
  policies: PolicyRow[],
  constraints: ConstraintRow[],
  indexes: IndexRow[],
): string[] {
  const violations: string[] = [];
  if (!table.rls) violations.push(`${at}: row-level security is not enabled`);
  else if (!table.forced) violations.push(`${at}: row-level security is enabled but not forced (FORCE ROW LEVEL SECURITY), so the table owner bypasses the tenant policy`);
  if (!table.tenant_id_not_null) violations.push(`${at}: tenant_id is nullable`);

  violations.push(...policyViolations(at, policies));

  const pk = constraints.find((c) => c.type === 'p');
  if (!pk) violations.push(`${at}: no primary key`);
  else {
    if (pk.columns[0] !== 'tenant_id') violations.push(`${at}: primary key (${pk.columns.join(', ')}) does not start with tenant_id`);
    if (!pk.columns.includes('id')) violations.push(`${at}: primary key (${pk.columns.join(', ')}) does not include id`);
  }

  // FK checks run with the owner's rights and ignore RLS: a key without tenant_id would let one
  // tenant point at, or probe for, another tenant's row.
  for (const fk of constraints.filter((c) => c.type === 'f' && c.ref_has_tenant_id)) {
    const refColumns = fk.ref_columns ?? [];
    const pairedOnTenant = fk.columns.some((column, i) => column === 'tenant_id' && refColumns[i] === 'tenant_id');
    if (fk.columns.length < 2 || !pairedOnTenant) {
      violations.push(
        `${at}: foreign key ${fk.name} (${fk.columns.join(', ')}) -> ${fk.ref_table} (${refColumns.join(', ')}) ` +
          'references a tenant table but does not pair tenant_id with tenant_id',
      );
    }
  }

  if (!indexes.some((i) => i.first_column === 'tenant_id')) violations.push(`${at}: no index leads with tenant_id`);
  return violations;
}

function isTenantPredicate(expr: string | null): boolean {
  if (!expr) return false;
  // The setting's name contains "tenant_id" too; drop it before looking for the column.
  const withoutSetting = expr.replaceAll("'app.tenant_id'", "''");
  return (
    expr.includes("current_setting('app.tenant_id'") &&
    /\bnullif\s*\(/i.test(expr) &&
    /\btenant_id\b/.test(withoutSetting)
  );
}

/**
 * Does this policy, on its own, keep `command` inside the current tenant? `explicit` demands a
 * written WITH CHECK (the invariant); otherwise PostgreSQL's fallback to USING for ALL and UPDATE
 * policies counts, which is what decides whether a policy actually leaks.
 */
function keepsToTenant(policy: PolicyRow, command: Command, explicit: boolean): boolean {
  const usingOk = isTenantPredicate(policy.using_expr);
  const check = explicit || policy.cmd === 'a' ? policy.check_expr : (policy.check_expr ?? policy.using_expr);
  const checkOk = isTenantPredicate(check);
  if (command === 'INSERT') return checkOk;
  if (command === 'UPDATE') return usingOk && checkOk;
  return usingOk;
}

function policyViolations(at: string, policies: PolicyRow[]): string[] {
  const violations: string[] = [];
  const covered = new Set<Command>();
  const narrowedByRestrictive = new Set<Command>();
  for (const policy of policies) {
    const kind = POLICY_COMMANDS[policy.cmd] ?? { label: policy.cmd, commands: [] };
    // PostgreSQL reuses USING as WITH CHECK when the latter is missing, but the invariant asks for
    // an explicit WITH CHECK so the write rule is visible and cannot drift from the read rule.
    if ((policy.cmd === '*' || policy.cmd === 'w') && isTenantPredicate(policy.using_expr) && !policy.check_expr) {
      violations.push(`${at}: policy "${policy.name}" (${kind.label}) has no WITH CHECK clause`);
    }
    for (const command of kind.commands.filter((c) => keepsToTenant(policy, c, true))) {
      covered.add(command);
      if (!policy.permissive) narrowedByRestrictive.add(command);
    }
  }
  const missing = COMMANDS.filter((c) => !covered.has(c));
  if (missing.length > 0) {
    violations.push(`${at}: no policy restricts ${missing.join(', ')} to the current tenant (USING and WITH CHECK on ${TENANT_PREDICATE})`);
  }

  // Permissive policies are OR-ed: one that reaches the runtime role without the tenant predicate
  // opens the table to every tenant, unless a restrictive tenant policy (AND-ed) narrows it back.
  for (const policy of policies.filter((p) => p.permissive && p.applies_to_runtime)) {
    const kind = POLICY_COMMANDS[policy.cmd] ?? { label: policy.cmd, commands: [] };
    const open = kind.commands.filter((c) => !narrowedByRestrictive.has(c) && !keepsToTenant(policy, c, false));
    if (open.length > 0) {
      violations.push(
        `${at}: permissive policy "${policy.name}" (${kind.label}) lets the runtime role ${open.join(', ')} rows of every tenant`,
      );
    }
  }
  return violations;
}

async function migrationsTableViolations(client: Queryable, at: string, oid: number, runtimeRole: string): Promise<string[]> {
  // has_*_privilege also counts grants to PUBLIC, which a plain look at relacl would miss.
  const { rows } = await client.query<{ privilege: string }>(
    `SELECT p AS privilege
       FROM unnest(ARRAY['SELECT', 'INSERT', 'UPDATE', 'DELETE', 'TRUNCATE', 'REFERENCES', 'TRIGGER']) AS p
      WHERE has_table_privilege($1, $2::oid, p)
         OR (p IN ('SELECT', 'INSERT', 'UPDATE', 'REFERENCES') AND has_any_column_privilege($1, $2::oid, p))`,
    [runtimeRole, oid],
  );
  return rows.length > 0 ? [`${at}: runtime role ${runtimeRole} has ${rows.map((r) => r.privilege).join(', ')} (it must have no privilege on it)`] : [];
}

async function secretColumnViolations(
  client: Queryable,
  schema: string,
  runtimeRole: string,
  secretColumns: readonly { table: string; column: string }[],
): Promise<string[]> {
  const violations: string[] = [];
  for (const { table, column } of secretColumns) {
    const { rows } = await client.query<{ readable: boolean }>(
      `SELECT has_column_privilege($1, c.oid, a.attname, 'SELECT') AS readable
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $4 AND NOT a.attisdropped
        WHERE n.nspname = $2 AND c.relname = $3`,
      [runtimeRole, schema, table, column],
    );
    if (rows[0]?.readable) violations.push(`${schema}.${table}: runtime role ${runtimeRole} can SELECT secret column ${column}`);
  }
  return violations;
}

/** Returns the role row, or undefined (with a violation) when the role is missing. */
async function runtimeRoleViolations(client: Queryable, runtimeRole: string, violations: string[]): Promise<RoleRow | undefined> {
  const at = `role ${runtimeRole}`;
  const { rows } = await client.query<RoleRow>(
    'SELECT oid::int AS oid, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = $1',
    [runtimeRole],
  );
  const role = rows[0];
  if (!role) {
    violations.push(`${at}: does not exist`);
    return undefined;
  }
  if (role.rolsuper) violations.push(`${at}: is a superuser`);
  if (role.rolbypassrls) violations.push(`${at}: has BYPASSRLS`);
  if (role.rolcreaterole) violations.push(`${at}: has CREATEROLE`);
  if (role.rolcreatedb) violations.push(`${at}: has CREATEDB`);

  // An owner bypasses RLS on tables that are not forced and can ALTER or DROP what it owns.
  // Indexes, TOAST tables, row types and array types follow their table, so they would only repeat it.
  const { rows: owned } = await client.query<{ object: string }>(
    `SELECT CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'S' THEN 'sequence' WHEN 'v' THEN 'view'
                           WHEN 'm' THEN 'materialized view' WHEN 'f' THEN 'foreign table' WHEN 'c' THEN 'composite type'
                           ELSE 'relation' END || ' ' || c.oid::regclass::text AS object
       FROM pg_class c WHERE c.relowner = $1::oid AND c.relkind NOT IN ('i', 'I', 't')
     UNION ALL SELECT 'function ' || p.oid::regprocedure::text FROM pg_proc p WHERE p.proowner = $1::oid
     UNION ALL SELECT 'type ' || t.oid::regtype::text FROM pg_type t
                WHERE t.typowner = $1::oid AND t.typrelid = 0
                  AND NOT EXISTS (SELECT 1 FROM pg_type e WHERE e.typarray = t.oid)
     UNION ALL SELECT 'schema ' || n.nspname FROM pg_namespace n WHERE n.nspowner = $1::oid
     UNION ALL SELECT 'database ' || d.datname FROM pg_database d WHERE d.datdba = $1::oid AND d.datname = current_database()
     ORDER BY 1`,
    [role.oid],
  );
  for (const { object } of owned) violations.push(`${at}: owns ${object}`);

  // Membership is checked whether or not the role inherits: a member can always SET ROLE. Owning
  // roles count too: through them the runtime role would be the owner of the tables.
  const { rows: privileged } = await client.query<{ rolname: string; why: string }>(
    `SELECT r.rolname,
            concat_ws(', ',
              CASE WHEN r.rolsuper THEN 'superuser' END,
              CASE WHEN r.rolbypassrls THEN 'BYPASSRLS' END,
              CASE WHEN r.rolname IN ('pg_read_all_data', 'pg_write_all_data') THEN 'ignores table privileges' END,
              CASE WHEN EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p'))
                     OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema')
                   THEN 'owns tables or schemas' END) AS why
       FROM pg_roles r
      WHERE r.oid <> $1::oid
        AND pg_has_role($1::oid, r.oid, 'MEMBER')
        AND (r.rolsuper OR r.rolbypassrls OR r.rolname IN ('pg_read_all_data', 'pg_write_all_data')
             OR EXISTS (SELECT 1 FROM pg_class c WHERE c.relowner = r.oid AND c.relkind IN ('r', 'p'))
             OR EXISTS (SELECT 1 FROM pg_namespace n WHERE n.nspowner = r.oid AND n.nspname !~ '^pg_' AND n.nspname <> 'information_schema'))
      ORDER BY r.rolname`,
    [role.oid],
  );
  for (const { rolname, why } of privileged) violations.push(`${at}: is a member of ${rolname} (${why})`);
  return role;
}

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { INTERNAL_ROLE, RUNTIME_ROLE } from '@benteng/config';
import { appPool, ownerPool } from '../support/db.js';
import { catalogViolations } from '../support/catalog.js';

// One pool each for the file, so the probe schema is dropped before the pools close.
const owner = ownerPool();
const app = appPool(1);

// docs/architecture.md, invariant 3, read from pg_catalog: no table list, so every table a migration
// adds is checked as soon as it exists.
describe('database catalog (invariant 3)', () => {

  it('the public schema has no violation', async () => {
    expect(await catalogViolations(owner, 'public')).toEqual([]);
  });

  it('the check is not vacuous: public has tenant tables and platform tables', async () => {
    // If the schema name or the tenant_id detection broke, the test above would pass on nothing.
    const { rows } = await owner.query<{ tenant: number; platform: number }>(
      `SELECT count(*) FILTER (WHERE a.attname IS NOT NULL)::int AS tenant,
              count(*) FILTER (WHERE a.attname IS NULL AND c.relname <> '_prisma_migrations')::int AS platform
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' AND NOT a.attisdropped
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')`,
    );
    expect(rows[0]!.tenant).toBeGreaterThan(0);
    expect(rows[0]!.platform).toBeGreaterThan(0);
  });

  it('the check is not vacuous: public has operator functions, each executable by the internal role alone (invariant 4)', async () => {
    const { rows } = await owner.query<{ name: string; runtime: boolean; internal: boolean }>(
      `SELECT p.proname AS name, has_function_privilege($1, p.oid, 'EXECUTE') AS runtime, has_function_privilege($2, p.oid, 'EXECUTE') AS internal
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND (p.proname LIKE 'internal\\_%' OR p.proname LIKE 'metrics\\_credential\\_%')
        ORDER BY 1`,
      [RUNTIME_ROLE, INTERNAL_ROLE],
    );
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(['internal_operator_lookup', 'internal_set_tenant_status', 'metrics_credential_lookup', 'metrics_credential_used']));
    expect(rows.length).toBeGreaterThanOrEqual(16);
    expect(rows.filter((r) => r.runtime || !r.internal)).toEqual([]);
  });

  it('the runtime connection is neither superuser nor BYPASSRLS', async () => {
    const { rows } = await app.query(
      'SELECT current_user AS role, rolsuper, rolbypassrls FROM pg_roles WHERE rolname = current_user',
    );
    expect(rows).toEqual([{ role: RUNTIME_ROLE, rolsuper: false, rolbypassrls: false }]);
  });

  it('the runtime connection cannot read users.password_hash', async () => {
    await expect(app.query('SELECT password_hash FROM users LIMIT 1')).rejects.toMatchObject({ code: '42501' });
  });
});

// Each probe table breaks one rule (or none), in a scratch schema, so the checker is shown to
// fail for the right reason and only for it.
describe('catalogViolations detects broken tables', () => {
  const schema = `catalog_probe_${randomBytes(4).toString('hex')}`;
  const predicate = "tenant_id = (select nullif(current_setting('app.tenant_id', true), ''))::uuid";
  const isolate = (table: string, { force = true, withCheck = true } = {}) => `
    ALTER TABLE ${schema}.${table} ENABLE ROW LEVEL SECURITY;
    ${force ? `ALTER TABLE ${schema}.${table} FORCE ROW LEVEL SECURITY;` : ''}
    CREATE POLICY tenant_isolation ON ${schema}.${table} USING (${predicate}) ${withCheck ? `WITH CHECK (${predicate})` : ''};`;
  const tenantTable = (table: string, extra = '', primaryKey = '(tenant_id, id)') => `
    CREATE TABLE ${schema}.${table} (tenant_id uuid NOT NULL, id uuid NOT NULL${extra}, PRIMARY KEY ${primaryKey});`;

  // A throwaway role stands in for a misconfigured runtime role (roles are cluster-wide, hence
  // the random name; needs the superuser owner that test machines have).
  const probeRole = `catalog_probe_role_${randomBytes(4).toString('hex')}`;

  let violations: string[] = [];
  let probeRoleViolations: string[] = [];
  const about = (table: string) => violations.filter((v) => v.startsWith(`${schema}.${table}:`));

  beforeAll(async () => {
    await owner.query(`
      CREATE SCHEMA ${schema};

      -- Compliant, apart from UNIQUE (id), which exists only so single_fk below can reference it.
      ${tenantTable('parents', ', UNIQUE (id)')}
      ${isolate('parents')}

      ${tenantTable('no_force')}
      ${isolate('no_force', { force: false })}

      ${tenantTable('single_fk', `, parent_id uuid NOT NULL, CONSTRAINT single_fk_parent_fkey FOREIGN KEY (parent_id) REFERENCES ${schema}.parents (id)`)}
      ${isolate('single_fk')}

      ${tenantTable('pk_not_tenant', '', '(id, tenant_id)')}
      CREATE INDEX ON ${schema}.pk_not_tenant (tenant_id);
      ${isolate('pk_not_tenant')}

      ${tenantTable('no_with_check')}
      ${isolate('no_with_check', { withCheck: false })}

      ${tenantTable('open_policy')}
      ${isolate('open_policy')}
      CREATE POLICY everyone ON ${schema}.open_policy FOR SELECT USING (true);

      CREATE TABLE ${schema}.platform_no_rls (id uuid PRIMARY KEY);

      CREATE TABLE ${schema}.users (id uuid PRIMARY KEY, password_hash text);
      ALTER TABLE ${schema}.users ENABLE ROW LEVEL SECURITY;
      GRANT SELECT ON ${schema}.users TO ${RUNTIME_ROLE};

      CREATE TABLE ${schema}._prisma_migrations (id varchar(36) PRIMARY KEY);
      GRANT SELECT ON ${schema}._prisma_migrations TO ${RUNTIME_ROLE};

      CREATE VIEW ${schema}.owner_rights_view AS SELECT id FROM ${schema}.parents;
      CREATE VIEW ${schema}.invoker_view WITH (security_invoker = true) AS SELECT id FROM ${schema}.parents;
      CREATE MATERIALIZED VIEW ${schema}.snapshot AS SELECT id FROM ${schema}.parents;
      GRANT SELECT ON ${schema}.snapshot TO ${RUNTIME_ROLE};
      CREATE FUNCTION ${schema}.lookup_anything(uuid) RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM ${schema}.parents';
      GRANT EXECUTE ON FUNCTION ${schema}.lookup_anything(uuid) TO PUBLIC;
      -- No grant at all: the init migration's ALTER DEFAULT PRIVILEGES keeps PUBLIC out.
      CREATE FUNCTION ${schema}.narrow_lookup(uuid) RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM ${schema}.parents';

      -- Operator functions (invariant 4): granted as the migrations do, to the runtime role, to
      -- PUBLIC, to no one.
      CREATE FUNCTION ${schema}.internal_probe_granted(uuid) RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM ${schema}.parents';
      GRANT EXECUTE ON FUNCTION ${schema}.internal_probe_granted(uuid) TO ${INTERNAL_ROLE};
      CREATE FUNCTION ${schema}.internal_probe_runtime(uuid) RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM ${schema}.parents';
      GRANT EXECUTE ON FUNCTION ${schema}.internal_probe_runtime(uuid) TO ${RUNTIME_ROLE}, ${INTERNAL_ROLE};
      CREATE FUNCTION ${schema}.metrics_credential_probe_public() RETURNS int LANGUAGE sql AS 'SELECT 1';
      GRANT EXECUTE ON FUNCTION ${schema}.metrics_credential_probe_public() TO PUBLIC;
      CREATE FUNCTION ${schema}.internal_probe_forgotten() RETURNS int LANGUAGE sql AS 'SELECT 1';

      CREATE ROLE ${probeRole} NOLOGIN BYPASSRLS CREATEDB CREATEROLE;
      GRANT pg_read_all_data TO ${probeRole};
      CREATE TABLE ${schema}.owned_by_probe_role (id uuid PRIMARY KEY);
      ALTER TABLE ${schema}.owned_by_probe_role ENABLE ROW LEVEL SECURITY;
      ALTER TABLE ${schema}.owned_by_probe_role OWNER TO ${probeRole};
    `);
    violations = await catalogViolations(owner, schema);
    probeRoleViolations = (await catalogViolations(owner, schema, { runtimeRole: probeRole })).filter((v) =>
      v.startsWith(`role ${probeRole}:`),
    );
  });

  afterAll(async () => {
    // CASCADE also drops the grants to the runtime role and the probe role's table.
    await owner.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
    await owner.query(`DROP ROLE IF EXISTS ${probeRole}`);
  });

  it('accepts a compliant tenant table', () => {
    expect(about('parents')).toEqual([]);
  });

  it('reports RLS that is enabled but not forced', () => {
    expect(about('no_force')).toEqual([
      `${schema}.no_force: row-level security is enabled but not forced (FORCE ROW LEVEL SECURITY), so the table owner bypasses the tenant policy`,
    ]);
  });

  it('reports a single-column foreign key to another tenant table', () => {
    expect(about('single_fk')).toEqual([
      `${schema}.single_fk: foreign key single_fk_parent_fkey (parent_id) -> ${schema}.parents (id) references a tenant table but does not pair tenant_id with tenant_id`,
    ]);
  });

  it('reports a primary key not led by tenant_id', () => {
    expect(about('pk_not_tenant')).toEqual([`${schema}.pk_not_tenant: primary key (id, tenant_id) does not start with tenant_id`]);
  });

  it('reports a tenant policy without WITH CHECK', () => {
    expect(about('no_with_check')).toEqual([
      `${schema}.no_with_check: policy "tenant_isolation" (ALL) has no WITH CHECK clause`,
      `${schema}.no_with_check: no policy restricts INSERT, UPDATE to the current tenant (USING and WITH CHECK on ${predicate})`,
    ]);
  });

  it('reports a permissive policy that opens the table to every tenant', () => {
    expect(about('open_policy')).toEqual([
      `${schema}.open_policy: permissive policy "everyone" (SELECT) lets the runtime role SELECT rows of every tenant`,
    ]);
  });

  it('reports a platform table without RLS', () => {
    expect(about('platform_no_rls')).toEqual([
      `${schema}.platform_no_rls: platform table without row-level security (ENABLE ROW LEVEL SECURITY)`,
    ]);
  });

  it('reports a secret column the runtime role can read', () => {
    expect(about('users')).toEqual([`${schema}.users: runtime role ${RUNTIME_ROLE} can SELECT secret column password_hash`]);
  });

  it('reports a runtime role with too many rights', () => {
    expect(probeRoleViolations).toEqual([
      `role ${probeRole}: has BYPASSRLS`,
      `role ${probeRole}: has CREATEROLE`,
      `role ${probeRole}: has CREATEDB`,
      `role ${probeRole}: owns table ${schema}.owned_by_probe_role`,
      `role ${probeRole}: is a member of pg_read_all_data (ignores table privileges)`,
    ]);
  });

  it('reports views and functions that step around RLS, and accepts the safe forms', () => {
    expect(about('owner_rights_view')).toEqual([`${schema}.owner_rights_view: view without security_invoker runs with its owner's rights and bypasses RLS`]);
    expect(about('invoker_view')).toEqual([]);
    expect(about('snapshot')).toEqual([`${schema}.snapshot: materialized view readable by ${RUNTIME_ROLE} (materialized views have no RLS)`]);
    expect(about('lookup_anything(uuid)')).toEqual([`${schema}.lookup_anything(uuid): SECURITY DEFINER function executable by PUBLIC`]);
    expect(violations.filter((v) => v.includes('narrow_lookup'))).toEqual([]);
  });

  it('reports operator functions the runtime role or PUBLIC may execute, or the internal role may not, and accepts the granted form', () => {
    expect(about('internal_probe_granted(uuid)')).toEqual([]);
    expect(about('internal_probe_runtime(uuid)')).toEqual([
      `${schema}.internal_probe_runtime(uuid): operator function executable by ${RUNTIME_ROLE} (only ${INTERNAL_ROLE} may execute it)`,
    ]);
    expect(about('metrics_credential_probe_public()')).toEqual([
      `${schema}.metrics_credential_probe_public(): operator function executable by PUBLIC (only ${INTERNAL_ROLE} may execute it)`,
    ]);
    expect(about('internal_probe_forgotten()')).toEqual([
      `${schema}.internal_probe_forgotten(): operator function not executable by ${INTERNAL_ROLE} (the internal listener)`,
    ]);
  });

  it('reports a grant on the migrations table', () => {
    expect(about('_prisma_migrations')).toEqual([
      `${schema}._prisma_migrations: runtime role ${RUNTIME_ROLE} has SELECT (it must have no privilege on it)`,
    ]);
  });
});

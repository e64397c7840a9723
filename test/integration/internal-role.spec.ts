import { Test } from '@nestjs/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigModule, INTERNAL_ROLE, RUNTIME_ROLE } from '@benteng/config';
import { DatabaseModule, InternalDatabaseModule, PrismaService } from '@benteng/database';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { appPool, internalPool, ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';

/**
 * The internal listener's own database role (docs/architecture.md, "Database roles" and invariant 4;
 * prisma/migrations/20261207140000_internal_role): the operator functions are executable by
 * benteng_internal alone, so a compromised public API process or worker, which log in as
 * benteng_app, cannot call them. test/integration/catalog.spec.ts checks every grant in the catalog;
 * this file calls the functions.
 */
const owner = ownerPool();
const app = appPool(1);
const internal = internalPool(1);

const status = async (tenantId: string): Promise<string> =>
  (await owner.query<{ status: string }>('SELECT status::text AS status FROM tenants WHERE id = $1', [tenantId])).rows[0]!.status;

describe('benteng_internal: the operator functions, for the internal listener only', () => {
  let tenant: TestTenant;

  beforeAll(async () => {
    tenant = await createTenant(owner, 'internal-role');
  });

  it('the runtime role gets "permission denied" calling internal_set_tenant_status, and the tenant stays active', async () => {
    await expect(app.query("SELECT previous_status FROM internal_set_tenant_status($1::uuid, 'suspended')", [tenant.id])).rejects.toMatchObject({
      code: '42501',
      message: 'permission denied for function internal_set_tenant_status',
    });
    expect(await status(tenant.id)).toBe('active');
  });

  it('the internal role may: it suspends and reactivates the tenant', async () => {
    const suspend = await internal.query("SELECT previous_status::text AS previous_status FROM internal_set_tenant_status($1::uuid, 'suspended')", [tenant.id]);
    expect(suspend.rows).toEqual([{ previous_status: 'active' }]);
    expect(await status(tenant.id)).toBe('suspended');
    const reactivate = await internal.query("SELECT previous_status::text AS previous_status FROM internal_set_tenant_status($1::uuid, 'active')", [tenant.id]);
    expect(reactivate.rows).toEqual([{ previous_status: 'suspended' }]);
    expect(await status(tenant.id)).toBe('active');
  });

  it('every operator function refuses the runtime role before it runs', async () => {
    const { rows } = await owner.query<{ name: string; args: string }>(
      `SELECT p.proname AS name, oidvectortypes(p.proargtypes) AS args
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
        WHERE n.nspname = 'public' AND (p.proname LIKE 'internal\\_%' OR p.proname LIKE 'metrics\\_credential\\_%')
        ORDER BY 1`,
    );
    expect(rows.length).toBeGreaterThanOrEqual(16);
    for (const { name, args } of rows) {
      const nulls = args === '' ? '' : args.split(', ').map((type) => `NULL::${type}`).join(', ');
      const refused = await app.query(`SELECT ${name}(${nulls})`).then(
        () => undefined,
        (error: { code?: string }) => error.code,
      );
      expect({ name, refused }).toEqual({ name, refused: '42501' });
    }
  });

  it('is otherwise the runtime role: a member of benteng_app, without BYPASSRLS, bound by the same policies and column grants', async () => {
    const { rows } = await internal.query(
      `SELECT current_user AS who, r.rolsuper, r.rolbypassrls, pg_has_role(current_user, $1, 'USAGE') AS inherits_runtime,
              (SELECT count(*)::int FROM tenants) AS visible_tenants
         FROM pg_roles r WHERE r.rolname = current_user`,
      [RUNTIME_ROLE],
    );
    expect(rows).toEqual([{ who: INTERNAL_ROLE, rolsuper: false, rolbypassrls: false, inherits_runtime: true, visible_tenants: 0 }]);
    await expect(internal.query('SELECT password_hash FROM users LIMIT 1')).rejects.toMatchObject({ code: '42501' });
    // One way only: the runtime role is not a member of the internal role.
    const reverse = await owner.query("SELECT pg_has_role($1, $2, 'MEMBER') AS member", [RUNTIME_ROLE, INTERNAL_ROLE]);
    expect(reverse.rows).toEqual([{ member: false }]);
  });
});

describe('which role each application logs in as', () => {
  let pub: TestApi;
  let internalApp: TestApi;

  beforeAll(async () => {
    pub = await buildApi();
    internalApp = await buildInternalApi();
  });

  afterAll(async () => {
    await pub?.close();
    await internalApp?.close();
  });

  const currentUser = async (prisma: PrismaService): Promise<string> =>
    (await prisma.client.$queryRaw<{ who: string }[]>`SELECT current_user::text AS who`)[0]!.who;

  it('the public listener as benteng_app, the internal listener as benteng_internal', async () => {
    expect(await currentUser(pub.app.get(PrismaService))).toBe(RUNTIME_ROLE);
    expect(await currentUser(internalApp.app.get(PrismaService))).toBe(INTERNAL_ROLE);
  });

  it("the worker as benteng_app: it imports DatabaseModule, never the internal listener's", async () => {
    // Compiling WorkerModule itself would start its BullMQ consumers; its imports say enough.
    const imports = Reflect.getMetadata('imports', WorkerModule) as unknown[];
    expect(imports).toContain(DatabaseModule);
    expect(imports).not.toContain(InternalDatabaseModule);
    const module = await Test.createTestingModule({ imports: [ConfigModule, DatabaseModule] }).compile();
    try {
      expect(await currentUser(module.get(PrismaService))).toBe(RUNTIME_ROLE);
    } finally {
      await module.close();
    }
  });
});

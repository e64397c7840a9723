import { randomUUID } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import { AccessLog, AuditLog } from '@benteng/audit';
import { RUNTIME_ROLE } from '@benteng/config';
import { PartnerSigningKeysRepository } from '@benteng/partners';
import { Scope } from '@benteng/tenancy';
import { appPool, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient } from '../support/partners.js';
import { insertSigningKey, newSigningKey, requireSignatures } from '../support/request-signing.js';
import { tag } from '../security/support/controls.js';

/**
 * Every tenant function (a function named tenant_*: one statement that sets app.tenant_id itself,
 * prisma/migrations/20261207158000_tenant_read_functions and 20261207177000_hot_path_functions)
 * and the two of the request path's hot writes and reads that go through one: the access record
 * written after each answer on a personal-data route (AccessLog.record) and the partner signing
 * state the gate asks on every /partner/v1 request (PartnerSigningKeysRepository.signingState).
 * Checked as the runtime role, on a Prisma pool of one connection, so the next use is provably the
 * same connection.
 */
describe(tag('TENANT-RLS', 'tenant functions of the hot path: RLS applied, nothing left on the pooled connection'), () => {
  const owner = ownerPool();
  const app = appPool(1);
  const single = tenantDatabase(1);
  let a: TestTenant;
  let b: TestTenant;

  /** What the next use of the one-connection pool sees: the setting, and the access records RLS shows. */
  const leftOnConnection = async () => {
    const [row] = await single.prisma.client.$queryRaw<{ setting: string | null; visible: bigint }[]>`SELECT current_setting('app.tenant_id', true) AS setting, (SELECT count(*) FROM access_records) AS visible`;
    return { setting: row!.setting ?? '', visible: Number(row!.visible) };
  };
  const recordsOf = async (tenantId: string) =>
    (await owner.query<{ tenant_id: string; principal: string; record_id: string | null; id: string }>('SELECT tenant_id, principal, record_id, id FROM access_records WHERE tenant_id = $1 ORDER BY occurred_at', [tenantId])).rows;

  beforeAll(async () => {
    [a, b] = [await createTenant(owner, 'hot-a'), await createTenant(owner, 'hot-b')];
  });

  it('every tenant_* function is SECURITY INVOKER (never DEFINER) with a SET app.tenant_id clause, executable by the runtime role, not by PUBLIC', async () => {
    const { rows } = await owner.query<{ name: string; definer: boolean; config: string[] | null; runtime: boolean; public: boolean }>(
      `SELECT p.proname AS name, p.prosecdef AS definer, p.proconfig AS config, has_function_privilege($1, p.oid, 'EXECUTE') AS runtime,
              EXISTS (SELECT 1 FROM aclexplode(p.proacl) acl WHERE acl.grantee = 0) AS public
         FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace WHERE n.nspname = 'public' AND p.proname LIKE 'tenant\\_%' ORDER BY p.proname`,
      [RUNTIME_ROLE],
    );
    expect(rows.map((r) => r.name)).toEqual(expect.arrayContaining(['tenant_invoice_by_id', 'tenant_partner_signing_state', 'tenant_record_access']));
    expect(rows.filter((r) => r.definer || JSON.stringify(r.config) !== JSON.stringify(['app.tenant_id=']) || !r.runtime || r.public)).toEqual([]);
  });

  describe('AccessLog.record through tenant_record_access', () => {
    const entry = (principal: string, recordId: string | null) => ({
      principal,
      credential: `session:${randomUUID()}`,
      ip: '203.0.113.7',
      requestId: 'req-1',
      action: 'read' as const,
      method: 'GET',
      route: '/v1/invoices/:id',
      recordType: 'invoice' as const,
      recordId,
      status: 200,
    });

    it('writes the record in the scope’s tenant, with a time-ordered UUIDv7 id, and leaves no tenant on the connection', async () => {
      const log = new AccessLog(single.db);
      const recordId = randomUUID();
      await log.record(a.scope('owner'), entry(`user:${a.users.owner.id}`, recordId));
      await log.record(a.scope('owner'), entry(`user:${a.users.owner.id}`, null));
      const rows = await recordsOf(a.id);
      expect(rows.map((r) => [r.tenant_id, r.principal, r.record_id])).toEqual([
        [a.id, `user:${a.users.owner.id}`, recordId],
        [a.id, `user:${a.users.owner.id}`, null],
      ]);
      expect(rows.every((r) => /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(r.id))).toBe(true);
      expect(await recordsOf(b.id)).toEqual([]);
      expect(await leftOnConnection()).toEqual({ setting: '', visible: 0 });
    });

    it('a record the table refuses (a principal of the wrong form) fails, and still leaves nothing on the connection', async () => {
      const log = new AccessLog(single.db);
      await expect(log.record(a.scope('owner'), entry('nobody', null))).rejects.toThrow(/access_records_principal_format|23514/);
      expect(await leftOnConnection()).toEqual({ setting: '', visible: 0 });
    });

    it('inside a caller’s transaction of tenant A, a record for tenant B is confined to the call: the caller sees A again after it', async () => {
      const client = await app.connect();
      try {
        await client.query('BEGIN');
        await client.query("SELECT set_config('app.tenant_id', $1, true)", [a.id]);
        await client.query(
          "SELECT tenant_record_access($1, $2, now(), $3, NULL, NULL, NULL, 'read', 'GET', '/v1/tickets', 'ticket', NULL, 200)",
          [b.id, randomUUID(), `user:${b.users.owner.id}`],
        );
        const after = await client.query<{ setting: string; tenants: string[] | null }>("SELECT current_setting('app.tenant_id', true) AS setting, (SELECT array_agg(DISTINCT tenant_id::text) FROM access_records) AS tenants");
        expect(after.rows[0]).toEqual({ setting: a.id, tenants: [a.id] });
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      expect((await recordsOf(b.id)).map((r) => r.principal)).toEqual([`user:${b.users.owner.id}`]);
    });
  });

  describe('PartnerSigningKeysRepository.signingState through tenant_partner_signing_state', () => {
    const repository = () => new PartnerSigningKeysRepository(single.db, new AuditLog(single.db));
    const partnerAuth = (tenant: TestTenant) => Scope.for(tenant.id, { kind: 'system', name: 'partner-auth' });

    it('answers the client’s flag, its active key and the named key in its own tenant; in another tenant the client is not there, which fails closed', async () => {
      const client = await createPartnerClient(owner, a.id, a.users.owner.id);
      const plain = await createPartnerClient(owner, a.id, a.users.owner.id);
      const [active, revoked] = [await newSigningKey(), await newSigningKey()];
      await insertSigningKey(owner, a.id, client.clientId, a.users.owner.id, active);
      await insertSigningKey(owner, a.id, client.clientId, a.users.owner.id, revoked, { revokedAt: new Date() });
      await requireSignatures(owner, a.id, client.clientId);

      const state = await repository().signingState(partnerAuth(a), client.clientId, active.keyid);
      expect({ require: state.requireSignatures, active: state.hasActiveKey, key: state.key && { clientId: state.key.clientId, keyid: state.key.keyid, revoked: state.key.revokedAt } }).toEqual({
        require: true,
        active: true,
        key: { clientId: client.clientId, keyid: active.keyid, revoked: null },
      });
      expect(state.key!.publicKey).toBe(active.publicPem);
      expect((await repository().signingState(partnerAuth(a), client.clientId, revoked.keyid)).key!.revokedAt).toBeInstanceOf(Date);
      expect(await repository().signingState(partnerAuth(a), plain.clientId, undefined)).toEqual({ requireSignatures: false, hasActiveKey: false, key: null });
      // Asked in tenant B (RLS): neither the client nor the key exists there. The client's flag is then
      // taken as "signatures required", never as "not required".
      expect(await repository().signingState(partnerAuth(b), client.clientId, active.keyid)).toEqual({ requireSignatures: true, hasActiveKey: false, key: null });
      expect(await leftOnConnection()).toEqual({ setting: '', visible: 0 });
    });
  });
});

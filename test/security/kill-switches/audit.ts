import type pg from 'pg';
import { decodeJwt } from 'jose';
import { AccessLog, AuditLog, AuditVerifier, type ChainVerification } from '@benteng/audit';
import { AccessRecorder } from '../../../apps/api/src/http/access-recorder.js';
import { buildApi, type TestApi } from '../../support/api.js';
import { ownerPool, tenantDatabase } from '../../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../../support/factories.js';
import { arranged, PublicClient, setPasswords, testPassword } from '../../support/public-api.js';
import { SilentAccessLog, SilentAuditLog } from '../../../apps/lab/src/removals.js';
import { exchange, scenario, type KillSwitchScenario, type Target } from '../support/kill-switch.js';

const auditTypes = async (owner: pg.Pool, tenantId: string, type: string): Promise<number> =>
  Number((await owner.query<{ n: string }>('SELECT count(*)::text AS n FROM audit_events WHERE tenant_id = $1 AND type = $2', [tenantId, type])).rows[0]!.n);

interface DenialFixtures {
  owner: pg.Pool;
  tenant: TestTenant;
  password: string;
}

interface ChainTarget extends Target {
  verifier: Pick<AuditVerifier, 'verify'>;
}

export const AUDIT_SCENARIOS: KillSwitchScenario[] = [
  scenario<TestApi, DenialFixtures>({
    control: 'AUDIT-TRAIL',
    attack: 'a viewer probes an owner-only function and leaves no trace',
    removal: 'AuditLog is replaced by a writer that records nothing',
    async fixtures() {
      const owner = ownerPool();
      const tenant = await createTenant(owner, 'ks-audit');
      const password = testPassword();
      await setPasswords(owner, [tenant.users.viewer.id], password);
      return { owner, tenant, password };
    },
    target: (intact) => buildApi(intact ? {} : { overrides: [{ token: AuditLog, useClass: SilentAuditLog }] }),
    async run(api, { owner, tenant, password }) {
      const client = new PublicClient(api);
      const { accessToken } = await client.login(tenant.users.viewer.email, password);
      const before = await auditTypes(owner, tenant.id, 'authz.denied');
      const body = { name: 'Exfiltration bot', scopes: ['invoices:read'], tier: 'free', environment: 'live' };
      const res = arranged(await client.call('POST', '/v1/partner-clients', { token: accessToken, body }), 403, 'the viewer is refused');
      const recorded = (await auditTypes(owner, tenant.id, 'authz.denied')) - before;
      return {
        succeeded: recorded === 0,
        observed: `POST /v1/partner-clients answered ${res.status}; authz.denied events recorded: ${recorded}`,
        exchanges: [exchange({ method: 'POST', url: '/v1/partner-clients', headers: { authorization: `Bearer ${accessToken}` }, body }, res)],
      };
    },
  }),
  scenario<ChainTarget, { owner: pg.Pool; tenant: TestTenant }>({
    control: 'AUDIT-TRAIL',
    attack: 'someone with database rights rewrites an audit event and nobody notices',
    removal: 'AuditVerifier is replaced by one that reports every chain intact',
    async fixtures() {
      const owner = ownerPool();
      const tenant = await createTenant(owner, 'ks-chain');
      const { db } = tenantDatabase();
      const audit = new AuditLog(db);
      const scope = tenant.scope('owner');
      for (const n of [1, 2, 3]) await audit.record(scope, { type: 'auth.login', outcome: 'success', actor: `user:${tenant.users.owner.id}`, subject: `session:${n}`, data: { n } });
      await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
      // The tamper: replica mode skips the append-only trigger for this transaction only, as a DBA could.
      const client = await owner.connect();
      try {
        await client.query('BEGIN');
        await client.query('SET LOCAL session_replication_role = replica');
        await client.query(`UPDATE audit_events SET data = '{"n": 42}'::jsonb WHERE tenant_id = $1 AND seq = 2`, [tenant.id]);
        await client.query('COMMIT');
      } finally {
        client.release();
      }
      return { owner, tenant };
    },
    target(intact) {
      const { db } = tenantDatabase();
      const real = new AuditVerifier(db);
      const trusting = { verify: (): Promise<ChainVerification> => Promise.resolve({ ok: true, count: 3, head: null }) };
      return Promise.resolve({ verifier: intact ? real : trusting, close: () => Promise.resolve() });
    },
    async run({ verifier }, { tenant }) {
      const result = await verifier.verify(tenant.id);
      return {
        succeeded: result.ok,
        observed: result.ok ? `the chain verifies as intact (${result.count} rows)` : `the chain breaks at seq ${result.seq}: ${result.problem}`,
        exchanges: [],
      };
    },
  }),
  scenario<TestApi, DenialFixtures & { invoiceId: string }>({
    control: 'ACCESS-RECORD',
    attack: 'a stolen session reads a customer’s invoice, and breach scoping cannot name the customer',
    removal: 'AccessLog is replaced by a writer that records nothing',
    async fixtures() {
      const owner = ownerPool();
      const tenant = await createTenant(owner, 'ks-access');
      const password = testPassword();
      await setPasswords(owner, [tenant.users.member.id], password);
      const invoiceId = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
      return { owner, tenant, password, invoiceId };
    },
    target: (intact) => buildApi(intact ? {} : { overrides: [{ token: AccessLog, useClass: SilentAccessLog }] }),
    async run(api, { owner, tenant, password, invoiceId }) {
      const client = new PublicClient(api);
      const { accessToken } = await client.login(tenant.users.member.email, password);
      const sessionId = String(decodeJwt(accessToken).sid);
      const res = arranged(await client.call('GET', `/v1/invoices/${invoiceId}`, { token: accessToken }), 200, 'the stolen session reads the invoice');
      await api.app.get(AccessRecorder).settled();
      const { rows } = await owner.query<{ n: string }>(
        `SELECT count(*)::text AS n FROM access_records WHERE tenant_id = $1 AND credential = $2 AND record_type = 'invoice' AND record_id = $3`,
        [tenant.id, `session:${sessionId}`, invoiceId],
      );
      const recorded = Number(rows[0]!.n);
      return {
        succeeded: recorded === 0,
        observed: `GET /v1/invoices/:id answered ${res.status}; access records of that session for the invoice: ${recorded}`,
        exchanges: [exchange({ method: 'GET', url: `/v1/invoices/${invoiceId}`, headers: { authorization: `Bearer ${accessToken}` } }, res)],
      };
    },
  }),
];

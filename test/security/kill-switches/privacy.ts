import type pg from 'pg';
import { RevocationStore } from '@benteng/auth';
import { SilentRevocationStore } from '../../../apps/lab/src/removals.js';
import { buildApi, type TestApi } from '../../support/api.js';
import { ownerPool } from '../../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../../support/factories.js';
import { arranged, PublicClient, setPasswords, testPassword } from '../../support/public-api.js';
import { exchange, scenario, type KillSwitchScenario } from '../support/kill-switch.js';

interface ErasureFixtures {
  owner: pg.Pool;
  password: string;
}

/** A fresh tenant per run: the attack erases its member, so the intact and the removed run each need their own. */
async function tenantWithInvoice(owner: pg.Pool, password: string): Promise<{ tenant: TestTenant; invoiceNumber: string }> {
  const tenant = await createTenant(owner, 'ks-privacy');
  await setPasswords(owner, [tenant.users.owner.id, tenant.users.member.id], password);
  const invoiceNumber = `KS-${tenant.slug}`;
  await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id, number: invoiceNumber });
  return { tenant, invoiceNumber };
}

export const PRIVACY_SCENARIOS: KillSwitchScenario[] = [
  scenario<TestApi, ErasureFixtures>({
    control: 'PRIVACY-ERASURE',
    attack: 'an erased member keeps reading the tenant with the access token they still hold',
    removal: "RevocationStore.publish does nothing, so the erased person's sessions are never announced as revoked",
    fixtures: () => Promise.resolve({ owner: ownerPool(), password: testPassword() }),
    target: (intact) => buildApi(intact ? {} : { overrides: [{ token: RevocationStore, useClass: SilentRevocationStore }] }),
    async run(api, { owner, password }) {
      const { tenant, invoiceNumber } = await tenantWithInvoice(owner, password);
      const client = new PublicClient(api);
      const member = await client.login(tenant.users.member.email, password);
      const { accessToken: ownerToken } = await client.login(tenant.users.owner.email, password);
      const { rows } = await owner.query<{ id: string }>('SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenant.id, tenant.users.member.id]);
      arranged(await client.call('POST', '/v1/privacy/requests', { token: ownerToken, body: { kind: 'erasure', subject: rows[0]!.id } }), 202, 'the owner erases the member');
      const res = await client.call('GET', '/v1/invoices', { token: member.accessToken });
      const leaked = res.status === 200 && res.text.includes(invoiceNumber);
      return {
        succeeded: leaked,
        observed: `GET /v1/invoices with the erased member's token answered ${res.status}${leaked ? ', listing the tenant invoices' : ''}`,
        exchanges: [exchange({ method: 'GET', url: '/v1/invoices', headers: { authorization: `Bearer ${member.accessToken}` } }, res)],
      };
    },
  }),
];

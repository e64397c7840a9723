import { randomUUID } from 'node:crypto';
import { PartnerRequestSignatures } from '@benteng/partners';
import { NoSignatureCheck } from '../../../apps/lab/src/removals.js';
import { buildApi, type TestApi } from '../../support/api.js';
import { createTenant } from '../../support/factories.js';
import { createPartnerClient, createPartnerKey } from '../../support/partners.js';
import { insertSigningKey, newSigningKey, requireSignatures, signatureHeaders, signedCall, type TestSigningKey } from '../../support/request-signing.js';
import { withOwner } from '../support/fixtures.js';
import { exchange, scenario, type KillSwitchScenario } from '../support/kill-switch.js';

interface SigningFixture {
  tenantId: string;
  apiKey: string;
  signingKey: TestSigningKey;
}

/** A tenant, a partner client with an API key and a registered signing key; `required`: the client requires signatures. */
const signingClient = (label: string, required: boolean) =>
  withOwner(async (owner): Promise<SigningFixture> => {
    const tenant = await createTenant(owner, label);
    const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read', 'invoices:write'] });
    const { key } = await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id);
    const signingKey = await newSigningKey();
    await insertSigningKey(owner, tenant.id, client.clientId, tenant.users.owner.id, signingKey);
    if (required) await requireSignatures(owner, tenant.id, client.clientId);
    return { tenantId: tenant.id, apiKey: key, signingKey };
  });

const storedInvoice = (tenantId: string, number: string) =>
  withOwner(async (owner) => (await owner.query<{ total_minor: string }>('SELECT total_minor::text FROM invoices WHERE tenant_id = $1 AND number = $2', [tenantId, number])).rows[0]);

const target = (intact: boolean) => buildApi(intact ? {} : { overrides: [{ token: PartnerRequestSignatures, useClass: NoSignatureCheck }] });
const REMOVAL = 'PartnerRequestSignatures is replaced by a verifier that asks for no signature and checks none';
const URL = '/partner/v1/invoices';
const invoice = (number: string, unitPriceMinor: number) => ({ number, customer: { name: 'PT Mitra', email: 'ap@mitra.example' }, lines: [{ description: 'Langganan', quantity: 1, unitPriceMinor }] });

export const SIGNING_SCENARIOS: KillSwitchScenario[] = [
  scenario<TestApi, SigningFixture>({
    control: 'PARTNER-REQUEST-SIGNING',
    attack: 'a stolen API key of a client that requires signatures creates an invoice in the tenant without the signing key',
    removal: REMOVAL,
    fixtures: () => signingClient('ks-sig-stolen', true),
    target,
    async run(api, { tenantId, apiKey }) {
      const number = `KS-${randomUUID().slice(0, 8)}`;
      const body = invoice(number, 990_000);
      const res = await signedCall(api, 'POST', URL, { credential: apiKey, body });
      const stored = await storedInvoice(tenantId, number);
      return {
        succeeded: stored !== undefined,
        observed: `POST ${URL} with the API key alone answered ${res.status}; invoice ${number} ${stored ? 'was stored' : 'was not stored'}`,
        exchanges: [exchange({ method: 'POST', url: URL, headers: { authorization: 'Bearer <stolen API key>', 'content-type': 'application/json' }, body }, res)],
      };
    },
  }),

  scenario<TestApi, SigningFixture>({
    control: 'PARTNER-REQUEST-SIGNING',
    attack: 'a signed invoice creation is altered on the way (the price of its line raised a hundredfold) and stored as the partner’s',
    removal: REMOVAL,
    fixtures: () => signingClient('ks-sig-tamper', false),
    target,
    async run(api, { tenantId, apiKey, signingKey }) {
      const number = `KS-${randomUUID().slice(0, 8)}`;
      const signedBody = invoice(number, 100_000);
      const tampered = JSON.stringify(invoice(number, 10_000_000));
      const headers = await signatureHeaders('POST', URL, JSON.stringify(signedBody), { key: signingKey });
      const res = await signedCall(api, 'POST', URL, { credential: apiKey, body: signedBody, sign: { key: signingKey }, sentBody: tampered });
      const stored = await storedInvoice(tenantId, number);
      return {
        succeeded: stored?.total_minor === '10000000',
        observed: `POST ${URL} with the partner's signature over a 100000 line and a 10000000 body answered ${res.status}; stored total: ${stored?.total_minor ?? 'none'}`,
        exchanges: [exchange({ method: 'POST', url: URL, headers: { authorization: 'Bearer <API key>', 'content-type': 'application/json', ...headers }, body: JSON.parse(tampered) as unknown }, res)],
      };
    },
  }),
];

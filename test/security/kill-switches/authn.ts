import { randomUUID } from 'node:crypto';
import { decodeJwt } from 'jose';
import { AccessTokens, type AccessClaims } from '@benteng/auth';
import { buildApi, type TestApi } from '../../support/api.js';
import { ownerPool } from '../../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../../support/factories.js';
import { PublicClient } from '../../support/public-api.js';
import { exchange, scenario, type KillSwitchScenario } from '../support/kill-switch.js';

/** An unsigned JWT (`alg: none`) with whatever claims the attacker likes. */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'at+jwt' })}.${part(claims)}.`;
}

/** AccessTokens without verification: the payload is believed as it is (the removed control). */
class UnverifiedAccessTokens extends AccessTokens {
  override verify(token: string): Promise<AccessClaims> {
    return Promise.resolve(decodeJwt(token) as unknown as AccessClaims);
  }
}

export const AUTHN_SCENARIOS: KillSwitchScenario[] = [
  scenario<TestApi, { tenant: TestTenant; invoiceId: string }>({
    control: 'AUTHN-ACCESS-TOKEN',
    attack: 'an unsigned token (alg "none") naming the tenant owner reads an invoice',
    removal: 'AccessTokens.verify is replaced by a decoder that checks nothing',
    async fixtures() {
      const owner = ownerPool();
      try {
        const tenant = await createTenant(owner, 'ks-alg-none');
        const invoiceId = await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
        return { tenant, invoiceId };
      } finally {
        await owner.end();
      }
    },
    target: (intact) => buildApi(intact ? {} : { overrides: [{ token: AccessTokens, useClass: UnverifiedAccessTokens }] }),
    async run(api, { tenant, invoiceId }) {
      const now = Math.floor(Date.now() / 1000);
      const token = unsignedJwt({ sub: tenant.users.owner.id, tid: tenant.id, sid: randomUUID(), role: 'owner', iat: now, exp: now + 300 });
      const url = `/v1/invoices/${invoiceId}`;
      const res = await new PublicClient(api).call('GET', url, { token });
      return {
        succeeded: res.status === 200 && (res.body as { id?: string } | undefined)?.id === invoiceId,
        observed: `GET /v1/invoices/:id answered ${res.status}`,
        exchanges: [exchange({ method: 'GET', url, headers: { authorization: `Bearer ${token}` } }, res)],
      };
    },
  }),
];

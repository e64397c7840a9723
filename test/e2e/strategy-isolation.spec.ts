import { afterAll, describe, expect, it } from 'vitest';
import { buildApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey, partnerCall } from '../support/partners.js';

/**
 * Two applications in one process authenticate each with its own configuration. Passport keeps
 * strategies in a process-wide registry by name, where the last application built wins; AccessGuard
 * therefore runs its own application's strategy instance (authenticateWith in apps/api/src/http/gate/authenticate.stage.ts).
 * Here the second app accepts only live partner keys: if the first app borrowed the second's
 * strategy, its test key would be refused.
 */
describe('authentication strategies per application', () => {
  const owner = ownerPool();

  it('keeps authenticating with its own configuration after another app with another configuration is built, and after that app is closed', async () => {
    const tenant = await createTenant(owner, 'strategy-isolation');
    const { clientId } = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, { scopes: ['invoices:read'] });
    const { key } = await createPartnerKey(owner, tenant.id, clientId, tenant.users.owner.id);

    const testApp = await buildApi({ env: { PARTNER_ENVIRONMENT: 'test' } });
    afterAll(() => testApp.close());
    expect((await partnerCall(testApp, 'get', '/partner/v1/invoices', { credential: key })).status).toBe(200);

    const liveApp = await buildApi({ env: { PARTNER_ENVIRONMENT: 'live' } });
    try {
      // The live deployment refuses the test key; the test deployment still accepts it.
      expect((await partnerCall(liveApp, 'get', '/partner/v1/invoices', { credential: key })).status).toBe(401);
      expect((await partnerCall(testApp, 'get', '/partner/v1/invoices', { credential: key })).status).toBe(200);
    } finally {
      await liveApp.close();
    }
    expect((await partnerCall(testApp, 'get', '/partner/v1/invoices', { credential: key })).status).toBe(200);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { authGraph, SettableClock } from '../support/auth-services.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey } from '../support/partners.js';
import { ready, testRedis } from '../support/redis.js';

/**
 * A partner key's last use is written to that key only (PartnerCredentialsRepository.touchKey): the
 * other keys of the same client, of another client and of another tenant keep theirs. The key list
 * answers each key's `lastUsedAt` (docs/api.md); if one key's use stamped every key of the tenant,
 * a key nobody uses any more (a leaked or forgotten one) would look in use and never be revoked.
 */
const owner = ownerPool();
const database = tenantDatabase();
const redis = testRedis('partner-key-use-spec');
let tenant: TestTenant;
let other: TestTenant;

beforeAll(async () => {
  await ready(redis);
  tenant = await createTenant(owner, 'partner-key-use');
  other = await createTenant(owner, 'partner-key-use-other');
});

afterAll(() => {
  redis.disconnect();
});

const T0 = new Date('2031-05-06T07:08:09.123Z');
const lastUsed = async (t: TestTenant) =>
  Object.fromEntries(
    (await ownerInTenant(owner, t.id, (c) => c.query<{ id: string; last_used_at: Date | null }>('SELECT id, last_used_at FROM partner_api_keys WHERE tenant_id = $1', [t.id]))).rows.map((r) => [r.id, r.last_used_at]),
  );

describe('partner API key use is recorded on the key that was used', () => {
  it('one key used: its last use is the clock\'s time; its sibling, another client\'s key and another tenant\'s key stay unused', async () => {
    const g = await authGraph({ clock: new SettableClock(new Date(T0)), redis, db: database });
    const client = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, {});
    const secondClient = await createPartnerClient(owner, tenant.id, tenant.users.owner.id, {});
    const foreignClient = await createPartnerClient(owner, other.id, other.users.owner.id, {});
    const used = await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id, {});
    const sibling = await createPartnerKey(owner, tenant.id, client.clientId, tenant.users.owner.id, {});
    const neighbour = await createPartnerKey(owner, tenant.id, secondClient.clientId, tenant.users.owner.id, {});
    const foreign = await createPartnerKey(owner, other.id, foreignClient.clientId, other.users.owner.id, {});

    await g.partnerAuth.authenticate(used.key, { ip: '10.1.2.3' });

    const mine = await lastUsed(tenant);
    expect(mine[used.keyId]).toEqual(T0);
    expect(mine[sibling.keyId]).toBeNull();
    expect(mine[neighbour.keyId]).toBeNull();
    expect((await lastUsed(other))[foreign.keyId]).toBeNull();
  });
});

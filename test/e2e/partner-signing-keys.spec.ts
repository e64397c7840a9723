import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type request from 'supertest';
import { buildAuthApi, Caller, SecretLedger } from '../support/auth-client.js';
import type { TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createPartnerKey } from '../support/partners.js';
import { newSigningKey, signedCall } from '../support/request-signing.js';
import { problemOf } from '../support/public-api.js';
import { createLoggedInTenant, type LoggedInTenant } from '../support/tenants.js';
import { tag } from '../security/support/controls.js';

/**
 * Request-signing keys of partner clients on /v1/partner-clients/:id/signing-keys
 * (docs/request-signing.md): owners and admins register Ed25519 public keys (JWK or PEM), list and
 * revoke them; the keyid is the RFC 7638 thumbprint; a private key is refused; rotation is
 * register-then-revoke with both keys verifying in between; every change is audited. The
 * `requireSignatures` flag of a client is set on the client itself.
 */
interface SigningKeyBody {
  id: string;
  keyid: string;
  alg: string;
  jwk: { kty: string; crv: string; x: string };
  label: string | null;
  status: 'active' | 'revoked';
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}
const KEY_FIELDS = ['alg', 'createdAt', 'id', 'jwk', 'keyid', 'label', 'lastUsedAt', 'revokedAt', 'status'];

describe(tag('PARTNER-REQUEST-SIGNING', 'partner request-signing keys'), () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  let api: TestApi;
  let caller: Caller;
  let a: LoggedInTenant;
  let b: LoggedInTenant;

  beforeAll(async () => {
    api = ledger.watch(await buildAuthApi());
    caller = new Caller(api, ledger);
    a = await createLoggedInTenant(owner, caller, 'signkeys-a');
    b = await createLoggedInTenant(owner, caller, 'signkeys-b');
  });
  afterAll(() => api.close());

  const call = (method: 'get' | 'post' | 'patch', path: string, token: string, body?: object) => caller.call(method, path, { token, ...(body === undefined ? {} : { body }) });
  const body = <T>(res: request.Response) => res.body as T;
  async function newClient(t: LoggedInTenant = a): Promise<string> {
    const res = await call('post', '/v1/partner-clients', t.tokens.owner, { name: 'Signer', environment: 'test', scopes: ['invoices:read', 'invoices:write'] });
    expect(res.status).toBe(201);
    ledger.add(body<{ clientSecret: string }>(res).clientSecret);
    return body<{ id: string }>(res).id;
  }
  const auditRows = async (tenantId: string, type: string) =>
    (await owner.query<{ actor: string; subject: string; data: Record<string, unknown> }>('SELECT actor, subject, data FROM audit_events WHERE tenant_id = $1 AND type = $2 ORDER BY seq', [tenantId, type])).rows;

  it('registers a JWK and a PEM public key: keyid is the RFC 7638 thumbprint, the response holds the public key only', async () => {
    const clientId = await newClient();
    const jwkKey = await newSigningKey();
    const res = await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.admin, { jwk: jwkKey.publicJwk, label: 'billing service' });
    expect(res.status).toBe(201);
    const registered = body<SigningKeyBody>(res);
    expect(Object.keys(registered).sort()).toEqual(KEY_FIELDS);
    expect(registered).toMatchObject({ keyid: jwkKey.keyid, alg: 'ed25519', jwk: jwkKey.publicJwk, label: 'billing service', status: 'active', revokedAt: null, lastUsedAt: null });

    const pemKey = await newSigningKey();
    const fromPem = body<SigningKeyBody>(await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { pem: pemKey.publicPem }));
    expect(fromPem).toMatchObject({ keyid: pemKey.keyid, jwk: pemKey.publicJwk, label: null });

    const listed = body<{ items: SigningKeyBody[] }>(await call('get', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner));
    expect(listed.items.map((k) => k.keyid).sort()).toEqual([jwkKey.keyid, pemKey.keyid].sort());
    expect(await auditRows(a.tenant.id, 'partner.signing_key_registered')).toEqual(
      expect.arrayContaining([{ actor: `user:${a.tenant.users.admin.id}`, subject: `partner_signing_key:${registered.id}`, data: { clientId, thumbprint: jwkKey.keyid, alg: 'ed25519', label: 'billing service' } }]),
    );
  });

  it('refuses a private key (JWK with d, PEM private key), another curve, both or neither form, and a key already registered in the tenant', async () => {
    const clientId = await newClient();
    const { privateKey } = generateKeyPairSync('ed25519');
    const privateJwk = privateKey.export({ format: 'jwk' });
    const withD = await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { jwk: privateJwk });
    expect(withD.status).toBe(400);
    const privatePem = await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { pem: privateKey.export({ format: 'pem', type: 'pkcs8' }).toString() });
    expect(problemOf(privatePem)).toMatchObject({ status: 400, code: 'partner.invalid_signing_key' });
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(problemOf(await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { pem: ec }))).toMatchObject({ status: 400, code: 'partner.invalid_signing_key' });
    const key = await newSigningKey();
    expect(problemOf(await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { jwk: key.publicJwk, pem: key.publicPem }))).toMatchObject({ status: 400, code: 'partner.invalid_signing_key' });
    expect(problemOf(await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, {}))).toMatchObject({ status: 400, code: 'partner.invalid_signing_key' });
    expect((await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { jwk: key.publicJwk })).status).toBe(201);
    const otherClient = await newClient();
    expect(problemOf(await call('post', `/v1/partner-clients/${otherClient}/signing-keys`, a.tokens.owner, { jwk: key.publicJwk }))).toMatchObject({ status: 409, code: 'partner.signing_key_exists' });
    expect((await owner.query('SELECT count(*)::int AS n FROM partner_signing_keys WHERE tenant_id = $1 AND client_id = $2', [a.tenant.id, clientId])).rows[0]).toEqual({ n: 1 });
  });

  it('is for owners and admins only (403 for members and viewers); another tenant’s client or key is 404', async () => {
    const clientId = await newClient();
    const key = await newSigningKey();
    for (const role of ['member', 'viewer'] as const) {
      expect((await call('get', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens[role])).status).toBe(403);
      expect((await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens[role], { jwk: key.publicJwk })).status).toBe(403);
    }
    const registered = body<SigningKeyBody>(await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { jwk: key.publicJwk }));
    expect(problemOf(await call('get', `/v1/partner-clients/${clientId}/signing-keys`, b.tokens.owner))).toMatchObject({ status: 404, code: 'partner.client_not_found' });
    expect(problemOf(await call('post', `/v1/partner-clients/${clientId}/signing-keys`, b.tokens.owner, { jwk: (await newSigningKey()).publicJwk }))).toMatchObject({ status: 404, code: 'partner.client_not_found' });
    expect(problemOf(await call('post', `/v1/partner-clients/${clientId}/signing-keys/${registered.id}/revoke`, b.tokens.owner))).toMatchObject({ status: 404, code: 'partner.client_not_found' });
    const bClient = await newClient(b);
    expect(problemOf(await call('post', `/v1/partner-clients/${bClient}/signing-keys/${registered.id}/revoke`, b.tokens.owner))).toMatchObject({ status: 404, code: 'partner.signing_key_not_found' });
    expect(body<{ items: SigningKeyBody[] }>(await call('get', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner)).items.map((k) => k.status)).toEqual(['active']);
  });

  it('rotates without downtime: the new key verifies beside the old one, then the old one is revoked (audited) and refused', async () => {
    const clientId = await newClient();
    const { key: apiKey } = await createPartnerKey(owner, a.tenant.id, clientId, a.tenant.users.owner.id);
    ledger.add(apiKey);
    const patched = await call('patch', `/v1/partner-clients/${clientId}`, a.tokens.owner, { requireSignatures: true });
    expect([patched.status, body<{ requireSignatures: boolean }>(patched).requireSignatures]).toEqual([200, true]);
    const old = await newSigningKey();
    const next = await newSigningKey();
    const oldRow = body<SigningKeyBody>(await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { jwk: old.publicJwk }));
    const read = (key: typeof old) => signedCall(api, 'GET', '/partner/v1/invoices', { credential: apiKey, sign: { key } });
    expect((await read(old)).status).toBe(200);
    expect((await read(next)).status).toBe(401);
    await call('post', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner, { jwk: next.publicJwk });
    expect([(await read(old)).status, (await read(next)).status]).toEqual([200, 200]);
    const revoked = await call('post', `/v1/partner-clients/${clientId}/signing-keys/${oldRow.id}/revoke`, a.tokens.owner);
    expect([revoked.status, body<SigningKeyBody>(revoked).status]).toEqual([200, 'revoked']);
    const refused = await read(old);
    expect([refused.status, body<{ code: string }>(refused).code]).toEqual([401, 'signature.key_revoked']);
    expect((await read(next)).status).toBe(200);
    expect(body<{ items: SigningKeyBody[] }>(await call('get', `/v1/partner-clients/${clientId}/signing-keys`, a.tokens.owner)).items.find((k) => k.id === oldRow.id)?.lastUsedAt).not.toBeNull();
    // Revoking again changes nothing and is not audited twice.
    expect((await call('post', `/v1/partner-clients/${clientId}/signing-keys/${oldRow.id}/revoke`, a.tokens.owner)).status).toBe(200);
    expect(await auditRows(a.tenant.id, 'partner.signing_key_revoked')).toEqual([{ actor: `user:${a.tenant.users.owner.id}`, subject: `partner_signing_key:${oldRow.id}`, data: { clientId, thumbprint: old.keyid } }]);
    // The flag can be switched off again: unsigned reads work, unsigned invoice creation still needs a signature (high trust).
    await call('patch', `/v1/partner-clients/${clientId}`, a.tokens.owner, { requireSignatures: false });
    expect((await signedCall(api, 'GET', '/partner/v1/invoices', { credential: apiKey })).status).toBe(200);
  });
});

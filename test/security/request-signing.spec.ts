import { randomUUID } from 'node:crypto';
import type request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ACCEPT_SIGNATURE } from '@benteng/partners';
import { buildApi, type TestApi } from '../support/api.js';
import { PROBLEM_JSON } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey, partnerToken, type TestPartnerClient } from '../support/partners.js';
import { contentDigest, insertSigningKey, newSigningKey, requireSignatures, signatureHeaders, signedCall, signingOrigin, type SignOptions, type TestSigningKey } from '../support/request-signing.js';
import { tag } from './support/controls.js';

/**
 * PARTNER-REQUEST-SIGNING, attacked (docs/request-signing.md): a stolen API key without the
 * signing key, a signature by the wrong key, another client's or tenant's key, a tampered body,
 * digest, method or URI, a replayed nonce, a stale or future `created`, a revoked key. Each
 * attack aims at POST /partner/v1/invoices (high trust) and is judged by the invoices table, not
 * only by the status: nothing may be stored.
 */
const invoiceBody = (number: string) => ({ number, customer: { name: 'PT Mitra', email: 'ap@mitra.example' }, lines: [{ description: 'Langganan', quantity: 1, unitPriceMinor: 100000 }] });
const PATH = '/partner/v1/invoices';

describe(tag('PARTNER-REQUEST-SIGNING', 'signed partner requests'), () => {
  const owner = ownerPool();
  let api: TestApi;
  let tenant: TestTenant;
  let other: TestTenant;
  let client: TestPartnerClient;
  let apiKey: string;
  let signingKey: TestSigningKey;

  async function newClientWithKey(on: TestTenant = tenant): Promise<{ client: TestPartnerClient; apiKey: string; signingKey: TestSigningKey; signingKeyRowId: string }> {
    const c = await createPartnerClient(owner, on.id, on.users.owner.id);
    const { key } = await createPartnerKey(owner, on.id, c.clientId, on.users.owner.id);
    const s = await newSigningKey();
    const signingKeyRowId = await insertSigningKey(owner, on.id, c.clientId, on.users.owner.id, s);
    return { client: c, apiKey: key, signingKey: s, signingKeyRowId };
  }

  const stored = async (number: string) => Number((await owner.query<{ n: string }>('SELECT count(*) AS n FROM invoices WHERE number = $1', [number])).rows[0]!.n);

  /** POSTs one invoice; returns the answer and whether the invoice was stored. */
  async function create(options: { sign?: SignOptions; sentBody?: (body: string) => string; sentPath?: string; credential?: string; extraHeaders?: Record<string, string> }): Promise<{ res: request.Response; stored: boolean }> {
    const number = `S-${randomUUID().slice(0, 8)}`;
    const body = invoiceBody(number);
    const res = await signedCall(api, 'POST', PATH, {
      credential: options.credential ?? apiKey,
      body,
      ...(options.sign ? { sign: options.sign } : {}),
      ...(options.sentBody ? { sentBody: options.sentBody(JSON.stringify(body)) } : {}),
      ...(options.sentPath ? { sentPath: options.sentPath } : {}),
      ...(options.extraHeaders ? { extraHeaders: options.extraHeaders } : {}),
    });
    return { res, stored: (await stored(number)) > 0 };
  }

  /** What an attack achieved: the answer, and whether the invoice was stored. */
  const outcomeOf = (outcome: { res: request.Response; stored: boolean }) => ({
    status: outcome.res.status,
    problem: PROBLEM_JSON.test(String(outcome.res.headers['content-type'])),
    code: (outcome.res.body as { code?: string }).code,
    acceptSignature: outcome.res.headers['accept-signature'],
    stored: outcome.stored,
  });
  const refusedWith = (code: string) => ({ status: 401, problem: true, code, acceptSignature: ACCEPT_SIGNATURE, stored: false });

  beforeAll(async () => {
    api = await buildApi();
    tenant = await createTenant(owner, 'sig');
    other = await createTenant(owner, 'sig-other');
    ({ client, apiKey, signingKey } = await newClientWithKey());
  });
  afterAll(() => api.close());

  it('a correctly signed invoice creation is stored (the baseline every attack below departs from)', async () => {
    const outcome = await create({ sign: { key: signingKey } });
    expect(outcome.res.status).toBe(201);
    expect(outcome.stored).toBe(true);
  });

  it('the same request with a client-credentials token is accepted too: the signature is bound to the client, not the credential kind', async () => {
    const token = await partnerToken(api, client);
    const outcome = await create({ credential: token, sign: { key: signingKey } });
    expect([outcome.res.status, outcome.stored]).toEqual([201, true]);
  });

  it('sha-512 and both digests together verify; an unknown digest algorithm alone does not', async () => {
    for (const digest of [(b: string) => contentDigest(b, 'sha-512'), (b: string) => `${contentDigest(b, 'sha-256')}, ${contentDigest(b, 'sha-512')}`]) {
      const number = `S-${randomUUID().slice(0, 8)}`;
      const body = JSON.stringify(invoiceBody(number));
      const res = await signedCall(api, 'POST', PATH, { credential: apiKey, body: JSON.parse(body) as object, sign: { key: signingKey, digest: digest(body) } });
      expect([res.status, await stored(number)]).toEqual([201, 1]);
    }
    expect(outcomeOf(await create({ sign: { key: signingKey, digest: 'md5=:AAAAAAAAAAAAAAAAAAAAAA==:' } }))).toEqual(refusedWith('signature.digest_mismatch'));
  });

  it('a stolen API key without the signing key cannot create an invoice (high-trust route, client with a key)', async () => {
    expect(outcomeOf(await create({}))).toEqual(refusedWith('signature.missing'));
  });

  it('a signature by a key nobody registered is refused', async () => {
    const stranger = await newSigningKey();
    expect(outcomeOf(await create({ sign: { key: stranger } }))).toEqual(refusedWith('signature.unknown_key'));
  });

  it('a signature by a key naming the registered keyid but made with another private key does not verify', async () => {
    const stranger = await newSigningKey();
    expect(outcomeOf(await create({ sign: { key: stranger, keyid: signingKey.keyid } }))).toEqual(refusedWith('signature.invalid'));
  });

  it("another client's key of the same tenant, and a key of another tenant, are unknown to this client", async () => {
    const sibling = await newClientWithKey();
    expect(outcomeOf(await create({ sign: { key: sibling.signingKey } }))).toEqual(refusedWith('signature.unknown_key'));
    const foreign = await newClientWithKey(other);
    expect(outcomeOf(await create({ sign: { key: foreign.signingKey } }))).toEqual(refusedWith('signature.unknown_key'));
    // And the other way round: the foreign client's own key still works for itself.
    expect((await create({ credential: foreign.apiKey, sign: { key: foreign.signingKey } })).res.status).toBe(201);
  });

  it('a tampered body (digest of the original) is refused', async () => {
    expect(outcomeOf(await create({ sign: { key: signingKey }, sentBody: (b) => b.replace('100000', '1') }))).toEqual(refusedWith('signature.digest_mismatch'));
  });

  it('a tampered body with a recomputed Content-Digest breaks the signature', async () => {
    const tampered = (b: string) => b.replace('100000', '1');
    const number = `S-${randomUUID().slice(0, 8)}`;
    const original = JSON.stringify(invoiceBody(number));
    const headers = { 'content-digest': contentDigest(tampered(original)) };
    const res = await signedCall(api, 'POST', PATH, { credential: apiKey, body: JSON.parse(original) as object, sign: { key: signingKey }, sentBody: tampered(original), extraHeaders: headers });
    expect([res.status, (res.body as { code?: string }).code, await stored(number)]).toEqual([401, 'signature.invalid', 0]);
  });

  it('a signature that leaves content-digest out of the covered components is refused', async () => {
    expect(outcomeOf(await create({ sign: { key: signingKey, components: ['@method', '@target-uri'] } }))).toEqual(refusedWith('signature.insufficient'));
  });

  it('a signature made for another URI or another method is refused', async () => {
    expect(outcomeOf(await create({ sign: { key: signingKey, signedUri: `${signingOrigin()}/partner/v1/tickets` } }))).toEqual(refusedWith('signature.invalid'));
    expect(outcomeOf(await create({ sign: { key: signingKey, signedUri: `https://other.example${PATH}` } }))).toEqual(refusedWith('signature.invalid'));
    expect(outcomeOf(await create({ sign: { key: signingKey, signedMethod: 'PUT' } }))).toEqual(refusedWith('signature.invalid'));
    expect(outcomeOf(await create({ sign: { key: signingKey }, sentPath: `${PATH}?dryRun=1` }))).toEqual(refusedWith('signature.invalid'));
  });

  it('a replayed request (same nonce) is refused, and stores nothing the second time', async () => {
    const number = `S-${randomUUID().slice(0, 8)}`;
    const body = invoiceBody(number);
    const sign = { key: signingKey, nonce: `replay-${randomUUID()}` };
    const first = await signedCall(api, 'POST', PATH, { credential: apiKey, body, sign });
    expect(first.status).toBe(201);
    const replay = await signedCall(api, 'POST', PATH, { credential: apiKey, body, sign });
    expect([replay.status, (replay.body as { code?: string }).code, await stored(number)]).toEqual([401, 'signature.replayed', 1]);
  });

  it('a stale or future `created` (beyond the tolerance) is refused; within it, accepted', async () => {
    // A few seconds beyond the 300 s tolerance, read afresh for each request: the server reads its
    // clock later than the test does, and on a loaded CI machine a whole second passed between them,
    // so "now + 301" computed before the first request arrived as an accepted +300.
    const nowS = () => Math.floor(Date.now() / 1000);
    expect(outcomeOf(await create({ sign: { key: signingKey, created: nowS() - 305 } }))).toEqual(refusedWith('signature.expired'));
    expect(outcomeOf(await create({ sign: { key: signingKey, created: nowS() + 305 } }))).toEqual(refusedWith('signature.expired'));
    expect((await create({ sign: { key: signingKey, created: nowS() - 200 } })).res.status).toBe(201);
  });

  it('a revoked key is refused', async () => {
    const c = await newClientWithKey();
    await owner.query('UPDATE partner_signing_keys SET revoked_at = now() WHERE id = $1', [c.signingKeyRowId]);
    // Another active key keeps the high-trust requirement on.
    await insertSigningKey(owner, tenant.id, c.client.clientId, tenant.users.owner.id, await newSigningKey());
    expect(outcomeOf(await create({ credential: c.apiKey, sign: { key: c.signingKey } }))).toEqual(refusedWith('signature.key_revoked'));
  });

  it('a wrong `alg`, a missing nonce and two signatures at once are refused', async () => {
    expect(outcomeOf(await create({ sign: { key: signingKey, alg: 'hmac-sha256' } }))).toEqual(refusedWith('signature.algorithm'));
    expect((await create({ sign: { key: signingKey, alg: null } })).res.status).toBe(201);
    const number = `S-${randomUUID().slice(0, 8)}`;
    const res = await signedCall(api, 'POST', PATH, {
      credential: apiKey,
      body: invoiceBody(number),
      extraHeaders: { signature: 'sig1=:AAAA:', 'signature-input': 'sig1=("@method" "@target-uri");created=1;keyid="x"' },
    });
    expect([res.status, (res.body as { code?: string }).code, await stored(number)]).toEqual([401, 'signature.insufficient', 0]);
    expect(outcomeOf(await create({ extraHeaders: { signature: 'sig1=:AAAA:' } }))).toEqual(refusedWith('signature.malformed'));
    // Two valid signatures of the same request (a second label added): which one authorizes it would be ambiguous.
    const twice = `S-${randomUUID().slice(0, 8)}`;
    const body = JSON.stringify(invoiceBody(twice));
    const first = await signatureHeaders('POST', PATH, body, { key: signingKey });
    const second = await signatureHeaders('POST', PATH, body, { key: signingKey });
    const both = await signedCall(api, 'POST', PATH, {
      credential: apiKey,
      body: JSON.parse(body) as object,
      extraHeaders: {
        'content-digest': first['content-digest']!,
        'signature-input': `${first['signature-input']!}, ${second['signature-input']!.replace(/^sig=/, 'sig2=')}`,
        signature: `${first['signature']!}, ${second['signature']!.replace(/^sig=/, 'sig2=')}`,
      },
    });
    expect([both.status, (both.body as { code?: string }).code, await stored(twice)]).toEqual([401, 'signature.malformed', 0]);
  });

  it('a client that requires signatures is refused unsigned on every route, reads included, with a key or a token', async () => {
    const c = await newClientWithKey();
    await requireSignatures(owner, tenant.id, c.client.clientId);
    const token = await partnerToken(api, c.client);
    for (const credential of [c.apiKey, token]) {
      const unsigned = await signedCall(api, 'GET', '/partner/v1/invoices', { credential });
      expect([unsigned.status, (unsigned.body as { code?: string }).code, unsigned.headers['accept-signature']]).toEqual([401, 'signature.missing', ACCEPT_SIGNATURE]);
      const signed = await signedCall(api, 'GET', '/partner/v1/invoices?limit=5', { credential, sign: { key: c.signingKey } });
      expect(signed.status).toBe(200);
    }
  });

  it('a client without any signing key and without the flag is not asked for a signature (nothing changes for it)', async () => {
    const plain = await createPartnerClient(owner, tenant.id, tenant.users.owner.id);
    const { key } = await createPartnerKey(owner, tenant.id, plain.clientId, tenant.users.owner.id);
    expect((await create({ credential: key })).res.status).toBe(201);
    // Reads of a client with a key but without the flag are not high trust.
    expect((await signedCall(api, 'GET', '/partner/v1/invoices', { credential: apiKey })).status).toBe(200);
  });

  it('refusals are audited in the client’s tenant with their code', async () => {
    await create({});
    const rows = await owner.query<{ data: { code: string } }>("SELECT data FROM audit_events WHERE tenant_id = $1 AND type = 'partner.signature_refused' AND actor = $2", [tenant.id, `partner:${client.clientId}`]);
    expect(rows.rows.map((r) => r.data.code)).toContain('signature.missing');
  });
});

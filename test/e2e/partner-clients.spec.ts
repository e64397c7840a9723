import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type request from 'supertest';
import { PartnerCredentials } from '@benteng/auth';
import { Clock } from '@benteng/common';
import type { TestApi } from '../support/api.js';
import { buildAuthApi, Caller, SecretLedger, withoutRequestId } from '../support/auth-client.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { createLoggedInTenant, type LoggedInTenant } from '../support/tenants.js';
import { problemOf } from '../support/public-api.js';

/**
 * Partner client management on /v1 (libs/partners, libs/authz/src/rules/partner.rules.ts): owners
 * and admins register clients and mint their credentials. A client secret or API key is returned
 * once, by the call that made it, and exists nowhere else afterwards: not in reads, lists, audit
 * rows, idempotency replays or logs; the database holds only an HMAC of it. Another tenant's client
 * or key is 404 on every route. The app runs on a FakeClock, so expiry arithmetic is exact.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CLIENT_SECRET = /^bt_cs_[A-Za-z0-9_-]{43}$/;
const API_KEY = /^bt_(live|test)_([a-z2-7]{12})_[A-Za-z0-9_-]{43}$/;
const CLIENT_KEYS = ['createdAt', 'environment', 'expiresAt', 'id', 'ipAllowlist', 'name', 'requireSignatures', 'revokedAt', 'scopes', 'status', 'tier', 'updatedAt', 'version'];
const KEY_KEYS = ['createdAt', 'environment', 'expiresAt', 'id', 'lastUsedAt', 'prefix', 'replacedById', 'revokedAt'];
const OVERLAP_S = 86_400;

interface ClientBody {
  id: string;
  name: string;
  environment: 'live' | 'test';
  scopes: string[];
  tier: string;
  ipAllowlist: string[];
  expiresAt: string | null;
  revokedAt: string | null;
  status: 'active' | 'revoked' | 'expired';
  createdAt: string;
  updatedAt: string;
  version: number;
}
interface CreatedClient extends ClientBody {
  clientId: string;
  clientSecret: string | null;
}
interface KeyBody {
  id: string;
  prefix: string;
  environment: 'live' | 'test';
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
  revokedAt: string | null;
  replacedById: string | null;
}
interface CreatedKey extends KeyBody {
  key: string | null;
}

describe('partner clients', () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  const clock = new FakeClock();
  let api: TestApi;
  let caller: Caller;
  let credentials: PartnerCredentials;

  beforeAll(async () => {
    api = ledger.watch(await buildAuthApi({ overrides: [{ token: Clock, value: clock }] }));
    caller = new Caller(api, ledger);
    credentials = api.app.get(PartnerCredentials);
  });
  afterAll(() => api.close());

  const loggedInTenant = (label: string) => createLoggedInTenant(owner, caller, label);

  const call = (method: 'get' | 'post' | 'patch' | 'delete', path: string, token: string, body?: object, headers?: Record<string, string>) =>
    caller.call(method, path, { token, ...(body === undefined ? {} : { body }), ...(headers ? { headers } : {}) });
  const requestId = (res: request.Response) => String(res.headers['x-request-id']);
  const replayed = (res: request.Response) => res.headers['idempotent-replayed'] === 'true';
  const inFuture = (seconds: number) => new Date(clock.now().getTime() + seconds * 1000).toISOString();

  const clientBody = (overrides: Record<string, unknown> = {}) => ({ name: `Mitra ${randomBytes(3).toString('hex')}`, environment: 'test', scopes: ['invoices:read'], ...overrides });

  /** Creates a client; its secret goes into the ledger (it must never show up in a log). */
  async function createClient(token: string, body: object = clientBody(), headers?: Record<string, string>): Promise<CreatedClient> {
    const res = await call('post', '/v1/partner-clients', token, body, headers);
    if (res.status !== 201) throw new Error(`create client: expected 201, got ${res.status} ${res.text}`);
    const created = res.body as CreatedClient;
    ledger.add(created.clientSecret ?? undefined);
    return created;
  }
  async function createKey(token: string, clientId: string, body: object = {}, headers?: Record<string, string>): Promise<CreatedKey> {
    const res = await call('post', `/v1/partner-clients/${clientId}/keys`, token, body, headers);
    if (res.status !== 201) throw new Error(`create key: expected 201, got ${res.status} ${res.text}`);
    const created = res.body as CreatedKey;
    ledger.add(created.key ?? undefined);
    return created;
  }
  async function rotateKey(token: string, clientId: string, keyId: string): Promise<request.Response> {
    const res = await call('post', `/v1/partner-clients/${clientId}/keys/${keyId}/rotate`, token);
    if (res.status === 200) ledger.add((res.body as CreatedKey).key ?? undefined);
    return res;
  }
  async function rotateSecret(token: string, clientId: string): Promise<request.Response> {
    const res = await call('post', `/v1/partner-clients/${clientId}/secret`, token);
    if (res.status === 200) ledger.add((res.body as CreatedClient).clientSecret ?? undefined);
    return res;
  }

  /** The stored rows, as the owner connection sees them (hashes included): the ground truth. */
  async function clientRow(tenantId: string, id: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await owner.query('SELECT * FROM partner_clients WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0];
  }
  async function keyRow(tenantId: string, id: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await owner.query('SELECT * FROM partner_api_keys WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0];
  }
  async function clientCount(tenantId: string): Promise<number> {
    const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM partner_clients WHERE tenant_id = $1', [tenantId]);
    return rows[0]!.n;
  }
  async function keyCount(tenantId: string): Promise<number> {
    const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM partner_api_keys WHERE tenant_id = $1', [tenantId]);
    return rows[0]!.n;
  }
  async function auditRows(tenantId: string, type: string): Promise<{ actor: string; subject: string; outcome: string; data: Record<string, unknown>; request_id: string }[]> {
    const { rows } = await owner.query('SELECT actor, subject, outcome, data, request_id FROM audit_events WHERE tenant_id = $1 AND type = $2 ORDER BY seq', [tenantId, type]);
    return rows;
  }
  /** Everything the tenant's audit trail and stored idempotent responses say, as text. */
  async function storedText(tenantId: string): Promise<string> {
    const audit = await owner.query('SELECT to_jsonb(a)::text AS t FROM audit_events a WHERE tenant_id = $1', [tenantId]);
    const idem = await owner.query('SELECT to_jsonb(k)::text AS t FROM idempotency_keys k WHERE tenant_id = $1', [tenantId]);
    return [...audit.rows, ...idem.rows].map((r: { t: string }) => r.t).join('\n');
  }

  describe('creating a client', () => {
    it('answers 201 with the client, its id as clientId and the secret once; stores only an HMAC of the secret', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-create');
      const res = await call('post', '/v1/partner-clients', tokens.owner, {
        name: 'Mitra Logistik',
        environment: 'live',
        scopes: ['tickets:read', 'invoices:read', 'invoices:write'],
        tier: 'premium',
        ipAllowlist: ['203.0.113.7/32', '2001:DB8:0:0::/32', '203.0.113.7/32'],
        expiresAt: inFuture(3600),
      });
      expect(res.status, `${res.text}`).toBe(201);
      const created = res.body as CreatedClient;
      ledger.add(created.clientSecret ?? undefined);
      expect(Object.keys(created).sort()).toEqual([...CLIENT_KEYS, 'clientId', 'clientSecret'].sort());
      expect(created).toEqual({
        id: expect.stringMatching(UUID),
        clientId: created.id,
        clientSecret: expect.stringMatching(CLIENT_SECRET),
        name: 'Mitra Logistik',
        environment: 'live',
        // Canonical order, normalized ranges, duplicates dropped.
        scopes: ['invoices:read', 'invoices:write', 'tickets:read'],
        tier: 'premium',
        ipAllowlist: ['203.0.113.7/32', '2001:db8::/32'],
        requireSignatures: false,
        expiresAt: inFuture(3600),
        revokedAt: null,
        status: 'active',
        createdAt: clock.now().toISOString(),
        updatedAt: clock.now().toISOString(),
        version: 1,
      });
      expect(res.headers.location).toBe(`/v1/partner-clients/${created.id}`);
      expect(res.headers.etag).toBe('"1"');
      expect(res.headers['cache-control']).toBe('no-store');

      const stored = await clientRow(tenant.id, created.id);
      expect(stored).toMatchObject({ tenant_id: tenant.id, created_by_id: tenant.users.owner.id, version: 1 });
      const secretHash = String(stored!['secret_hash']);
      expect(secretHash).toMatch(/^[0-9a-f]{64}$/);
      expect(secretHash).not.toContain(created.clientSecret!);
      expect(credentials.clientSecretMatches(created.clientSecret!, secretHash)).toBe(true);
      expect(credentials.clientSecretMatches(`bt_cs_${randomBytes(32).toString('base64url')}`, secretHash)).toBe(false);

      expect(await auditRows(tenant.id, 'partner.client_created')).toEqual([
        {
          actor: `user:${tenant.users.owner.id}`,
          subject: `partner_client:${created.id}`,
          outcome: 'success',
          data: { environment: 'live', tier: 'premium', scopes: 'invoices:read invoices:write tickets:read', ipRanges: 2, requireSignatures: false, expiresAt: inFuture(3600) },
          request_id: requestId(res),
        },
      ]);
    });

    it('defaults: tier standard, no allowlist, no expiry; admins may create too', async () => {
      const { tokens } = await loggedInTenant('pc-defaults');
      const created = await createClient(tokens.admin, clientBody());
      expect(created).toMatchObject({ tier: 'standard', ipAllowlist: [], expiresAt: null, environment: 'test', status: 'active' });
    });

    it('never shows the secret again: not in GET, the list, the audit trail or stored responses', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-once');
      const created = await createClient(tokens.owner, clientBody(), { 'idempotency-key': `k-${randomBytes(6).toString('hex')}` });
      const secret = created.clientSecret!;
      const get = await call('get', `/v1/partner-clients/${created.id}`, tokens.owner);
      expect(get.status, `${get.text}`).toBe(200);
      expect(Object.keys(get.body as object).sort()).toEqual(CLIENT_KEYS);
      const list = await call('get', '/v1/partner-clients', tokens.owner);
      expect(list.status, `${list.text}`).toBe(200);
      for (const res of [get, list]) {
        expect(res.text).not.toContain(secret);
        expect(res.text).not.toContain('secret');
        expect(res.text).not.toContain('Hash');
      }
      expect(await storedText(tenant.id)).not.toContain(secret);
    });

    it('honours Idempotency-Key: a replay is the same client with the secret null, and the secret is not stored for it', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-idem');
      const headers = { 'idempotency-key': `k-${randomBytes(6).toString('hex')}` };
      const body = clientBody();
      const first = await call('post', '/v1/partner-clients', tokens.owner, body, headers);
      expect(first.status, `${first.text}`).toBe(201);
      const created = first.body as CreatedClient;
      ledger.add(created.clientSecret ?? undefined);
      expect(created.clientSecret).toMatch(CLIENT_SECRET);

      const retry = await call('post', '/v1/partner-clients', tokens.owner, body, headers);
      expect(retry.status, `${retry.text}`).toBe(201);
      expect(replayed(retry)).toBe(true);
      expect(retry.body).toEqual({ ...created, clientSecret: null });
      expect(retry.headers.location).toBe(first.headers.location);
      expect(retry.text).not.toContain(created.clientSecret!);
      expect(await clientCount(tenant.id)).toBe(1);

      const { rows } = await owner.query<{ t: string }>('SELECT response_body::text AS t FROM idempotency_keys WHERE tenant_id = $1', [tenant.id]);
      expect(rows).toHaveLength(1);
      expect(rows[0]!.t).toContain(created.id);
      expect(rows[0]!.t).not.toContain(created.clientSecret!);

      const other = await call('post', '/v1/partner-clients', tokens.owner, clientBody(), headers);
      expect(problemOf(other)).toEqual({ status: 422, problemJson: true, code: 'idempotency.key_reused' });
    });
  });

  describe('validation', () => {
    const invalid: [string, Record<string, unknown>, string[]][] = [
      ['a malformed CIDR', { ipAllowlist: ['10.0.0.0/33'] }, ['/ipAllowlist']],
      ['an address without a prefix', { ipAllowlist: ['10.0.0.1'] }, ['/ipAllowlist']],
      ['a legacy IPv4 form (octal)', { ipAllowlist: ['012.0.0.1/8'] }, ['/ipAllowlist']],
      ['a short IPv4 form', { ipAllowlist: ['10.1/16'] }, ['/ipAllowlist']],
      ['an IPv6 zone id', { ipAllowlist: ['fe80::1%eth0/64'] }, ['/ipAllowlist']],
      ['a host name', { ipAllowlist: ['example.com/32'] }, ['/ipAllowlist']],
      ['51 ranges', { ipAllowlist: Array.from({ length: 51 }, (_, i) => `10.0.${i}.0/24`) }, ['/ipAllowlist']],
      ['an unknown scope', { scopes: ['invoices:read', 'members:write'] }, ['/scopes']],
      ['empty scopes', { scopes: [] }, ['/scopes']],
      ['duplicate scopes', { scopes: ['invoices:read', 'invoices:read'] }, ['/scopes']],
      ['no scopes', { scopes: undefined }, ['/scopes']],
      ['an unknown environment', { environment: 'staging' }, ['/environment']],
      ['an unknown tier', { tier: 'platinum' }, ['/tier']],
      ['an empty name', { name: '' }, ['/name']],
      ['a 101-character name', { name: 'x'.repeat(101) }, ['/name']],
      ['a date without a time', { expiresAt: '2099-01-01' }, ['/expiresAt']],
      ['a time without an offset', { expiresAt: '2099-01-01T00:00:00' }, ['/expiresAt']],
      ['a client-sent tenantId', { tenantId: randomUUID() }, ['/tenantId']],
      ['a client-sent secretHash', { secretHash: '0'.repeat(64) }, ['/secretHash']],
      ['a client-sent clientSecret', { clientSecret: `bt_cs_${'a'.repeat(43)}` }, ['/clientSecret']],
      ['a client-sent id and status', { id: randomUUID(), status: 'active' }, ['/id', '/status']],
    ];
    let v: LoggedInTenant;
    beforeAll(async () => {
      v = await loggedInTenant('pc-invalid');
    });

    it.each(invalid)('refuses %s with 400 problem+json naming the field, and creates nothing', async (_, overrides, pointers) => {
      const { tenant, tokens } = v;
      const res = await call('post', '/v1/partner-clients', tokens.owner, clientBody(overrides));
      expect(problemOf(res)).toMatchObject({ status: 400, problemJson: true });
      expect((res.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer).sort()).toEqual(pointers);
      expect(await clientCount(tenant.id)).toBe(0);
    });

    it('refuses an expiry that is not in the future (400 partner.expiry_in_past), for clients and keys', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-past');
      for (const expiresAt of [clock.now().toISOString(), new Date(clock.now().getTime() - 1000).toISOString(), '2001-01-01T00:00:00Z']) {
        const res = await call('post', '/v1/partner-clients', tokens.owner, clientBody({ expiresAt }));
        expect(problemOf(res), `${expiresAt}`).toEqual({ status: 400, problemJson: true, code: 'partner.expiry_in_past' });
      }
      expect(await clientCount(tenant.id)).toBe(0);
      const client = await createClient(tokens.owner);
      const key = await call('post', `/v1/partner-clients/${client.id}/keys`, tokens.owner, { expiresAt: '2001-01-01T00:00:00Z' });
      expect(problemOf(key)).toEqual({ status: 400, problemJson: true, code: 'partner.expiry_in_past' });
      const patch = await call('patch', `/v1/partner-clients/${client.id}`, tokens.owner, { expiresAt: '2001-01-01T00:00:00Z' });
      expect(problemOf(patch)).toEqual({ status: 400, problemJson: true, code: 'partner.expiry_in_past' });
      expect(await keyCount(tenant.id)).toBe(0);
    });

    it('refuses unknown fields on every body: PATCH, new keys, and routes that take none', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-unknown');
      const client = await createClient(tokens.owner);
      const key = await createKey(tokens.owner, client.id);
      const before = { client: await clientRow(tenant.id, client.id), key: await keyRow(tenant.id, key.id) };
      const attempts: [string, string, object, string[]][] = [
        ['patch', `/v1/partner-clients/${client.id}`, { name: 'ok', revokedAt: null, environment: 'live' }, ['/environment', '/revokedAt']],
        ['patch', `/v1/partner-clients/${client.id}`, { name: null, scopes: null, tier: null, ipAllowlist: null }, ['/ipAllowlist', '/name', '/scopes', '/tier']],
        ['post', `/v1/partner-clients/${client.id}/keys`, { environment: 'live', prefix: 'aaaaaaaaaaaa' }, ['/environment', '/prefix']],
        ['post', `/v1/partner-clients/${client.id}/revoke`, { revokedAt: null }, ['/revokedAt']],
        ['post', `/v1/partner-clients/${client.id}/secret`, { clientSecret: 'mine' }, ['/clientSecret']],
        ['post', `/v1/partner-clients/${client.id}/keys/${key.id}/rotate`, { expiresAt: inFuture(60) }, ['/expiresAt']],
        ['post', `/v1/partner-clients/${client.id}/keys/${key.id}/revoke`, { replacedById: null }, ['/replacedById']],
      ];
      for (const [method, path, body, pointers] of attempts) {
        const res = await call(method as 'post' | 'patch', path, tokens.owner, body);
        expect(problemOf(res), `${method} ${path}`).toMatchObject({ status: 400, problemJson: true });
        expect((res.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer).sort(), `${method} ${path}`).toEqual(pointers);
      }
      expect({ client: await clientRow(tenant.id, client.id), key: await keyRow(tenant.id, key.id) }).toEqual(before);
      expect(await keyCount(tenant.id)).toBe(1);
    });
  });

  describe('reading', () => {
    it('GET answers the client with its ETag; lists are newest first and walk by cursor', async () => {
      const a = await loggedInTenant('pc-list');
      const b = await loggedInTenant('pc-list-other');
      const made: CreatedClient[] = [];
      for (let i = 0; i < 5; i++) {
        made.push(await createClient(a.tokens.owner, clientBody({ name: `Mitra ${i}` })));
        clock.advance(1);
      }
      const foreign = await createClient(b.tokens.owner);

      const get = await call('get', `/v1/partner-clients/${made[0]!.id}`, a.tokens.admin);
      expect(get.status, `${get.text}`).toBe(200);
      expect(get.headers.etag).toBe('"1"');
      const { clientId: _clientId, clientSecret: _clientSecret, ...plain } = made[0]!;
      expect(get.body).toEqual(plain);

      const seen: ClientBody[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const res = await call('get', `/v1/partner-clients?limit=2${cursor ? `&cursor=${cursor}` : ''}`, a.tokens.owner);
        expect(res.status, `${res.text}`).toBe(200);
        const page = res.body as { items: ClientBody[]; nextCursor: string | null };
        for (const item of page.items) expect(Object.keys(item).sort()).toEqual(CLIENT_KEYS);
        expect(res.text).not.toContain(foreign.id);
        seen.push(...page.items);
        cursor = page.nextCursor;
        if (++pages > 5) throw new Error('the cursor walk does not end');
      } while (cursor);
      expect(seen.map((c) => c.id)).toEqual(made.map((c) => c.id).reverse());
    });

    it('refuses an unknown query parameter and a forged cursor with 400', async () => {
      const { tokens } = await loggedInTenant('pc-list-bad');
      for (const query of ['sort=name', 'limit=0', 'limit=101', 'cursor=bm90LWEtY3Vyc29y']) {
        const res = await call('get', `/v1/partner-clients?${query}`, tokens.owner);
        expect(problemOf(res), `${query}`).toMatchObject({ status: 400, problemJson: true });
      }
    });

    it('status says expired once expiresAt has passed', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-expired');
      const client = await createClient(tokens.owner, clientBody({ expiresAt: inFuture(60) }));
      await owner.query("UPDATE partner_clients SET expires_at = $3::timestamptz - interval '1 second' WHERE tenant_id = $1 AND id = $2", [tenant.id, client.id, clock.now()]);
      const res = await call('get', `/v1/partner-clients/${client.id}`, tokens.owner);
      expect(res.body).toMatchObject({ status: 'expired', revokedAt: null });
    });
  });

  describe('updating', () => {
    it('PATCH with If-Match changes metadata, bumps the version and audits the changed fields', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-patch');
      const client = await createClient(tokens.owner, clientBody({ expiresAt: inFuture(3600) }));
      clock.advance(1);
      const res = await call(
        'patch',
        `/v1/partner-clients/${client.id}`,
        tokens.admin,
        { name: 'Mitra Baru', scopes: ['tickets:write', 'invoices:read'], ipAllowlist: ['198.51.100.0/24'], expiresAt: null, tier: 'standard' },
        { 'if-match': '"1"' },
      );
      expect(res.status, `${res.text}`).toBe(200);
      expect(res.headers.etag).toBe('"2"');
      expect(res.body).toMatchObject({
        name: 'Mitra Baru',
        scopes: ['invoices:read', 'tickets:write'],
        ipAllowlist: ['198.51.100.0/24'],
        expiresAt: null,
        tier: 'standard',
        version: 2,
        createdAt: client.createdAt,
        updatedAt: clock.now().toISOString(),
      });
      // tier was already standard: not a change.
      expect((await auditRows(tenant.id, 'partner.client_updated')).map((r) => [r.actor, r.subject, r.data, r.request_id])).toEqual([
        [`user:${tenant.users.admin.id}`, `partner_client:${client.id}`, { changed: 'expiresAt ipAllowlist name scopes' }, requestId(res)],
      ]);
      // The secret is untouched by metadata changes.
      expect(credentials.clientSecretMatches(client.clientSecret!, String((await clientRow(tenant.id, client.id))!['secret_hash']))).toBe(true);
    });

    it('a stale If-Match is 412 and changes nothing; a patch that changes nothing is not versioned or audited', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-patch-stale');
      const client = await createClient(tokens.owner);
      expect((await call('patch', `/v1/partner-clients/${client.id}`, tokens.owner, { name: 'Satu' }, { 'if-match': '"1"' })).status).toBe(200);
      const before = await clientRow(tenant.id, client.id);
      for (const ifMatch of ['"1"', 'W/"2"', 'garbage']) {
        const stale = await call('patch', `/v1/partner-clients/${client.id}`, tokens.owner, { name: 'Dua' }, { 'if-match': ifMatch });
        expect(problemOf(stale), `${ifMatch}`).toEqual({ status: 412, problemJson: true, code: 'partner.version_mismatch' });
      }
      expect(await clientRow(tenant.id, client.id)).toEqual(before);

      const same = await call('patch', `/v1/partner-clients/${client.id}`, tokens.owner, { name: 'Satu', scopes: [...client.scopes] });
      expect(same.status, `${same.text}`).toBe(200);
      expect(same.body).toMatchObject({ version: 2 });
      expect(await clientRow(tenant.id, client.id)).toEqual(before);
      expect(await auditRows(tenant.id, 'partner.client_updated')).toHaveLength(1);
    });
  });

  describe('revoking a client', () => {
    it('sets revokedAt once: a second revoke is 200 with the same state and is not audited again', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-revoke');
      const client = await createClient(tokens.owner);
      const first = await call('post', `/v1/partner-clients/${client.id}/revoke`, tokens.owner);
      expect(first.status, `${first.text}`).toBe(200);
      expect(first.body).toMatchObject({ id: client.id, status: 'revoked', revokedAt: clock.now().toISOString(), version: 2 });
      expect(first.headers.etag).toBe('"2"');
      const second = await call('post', `/v1/partner-clients/${client.id}/revoke`, tokens.admin);
      expect(second.status, `${second.text}`).toBe(200);
      expect(second.body).toEqual(first.body);
      expect((await auditRows(tenant.id, 'partner.client_revoked')).map((r) => [r.actor, r.subject, r.request_id])).toEqual([
        [`user:${tenant.users.owner.id}`, `partner_client:${client.id}`, requestId(first)],
      ]);
    });

    it('concurrent revokes: one change, one audit row', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-revoke-race');
      const client = await createClient(tokens.owner);
      const results = await Promise.all(Array.from({ length: 4 }, () => call('post', `/v1/partner-clients/${client.id}/revoke`, tokens.owner)));
      expect(results.map((r) => r.status)).toEqual([200, 200, 200, 200]);
      expect(new Set(results.map((r) => JSON.stringify(r.body))).size).toBe(1);
      expect(await auditRows(tenant.id, 'partner.client_revoked')).toHaveLength(1);
    });

    it('a revoked client cannot be updated, get a new secret or new keys (409 partner.client_revoked); its keys can still be revoked', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-revoked');
      const client = await createClient(tokens.owner);
      const key = await createKey(tokens.owner, client.id);
      expect((await call('post', `/v1/partner-clients/${client.id}/revoke`, tokens.owner)).status).toBe(200);
      const before = await clientRow(tenant.id, client.id);
      const refusals = [
        await call('patch', `/v1/partner-clients/${client.id}`, tokens.owner, { name: 'Hidup lagi' }),
        await rotateSecret(tokens.owner, client.id),
        await call('post', `/v1/partner-clients/${client.id}/keys`, tokens.owner, {}),
        await rotateKey(tokens.owner, client.id, key.id),
      ];
      for (const res of refusals) expect(problemOf(res), `${res.text}`).toEqual({ status: 409, problemJson: true, code: 'partner.client_revoked' });
      expect(await clientRow(tenant.id, client.id)).toEqual(before);
      expect(await keyCount(tenant.id)).toBe(1);
      const revokeKey = await call('post', `/v1/partner-clients/${client.id}/keys/${key.id}/revoke`, tokens.owner);
      expect(revokeKey.status, `${revokeKey.text}`).toBe(200);
    });
  });

  describe('rotating the client secret', () => {
    it('returns a new secret once; the old one stops matching at once; audited without the secret', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-secret');
      const client = await createClient(tokens.owner);
      const res = await rotateSecret(tokens.admin, client.id);
      expect(res.status, `${res.text}`).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const rotated = res.body as CreatedClient;
      expect(rotated).toMatchObject({ id: client.id, clientId: client.id, clientSecret: expect.stringMatching(CLIENT_SECRET), version: 2 });
      expect(rotated.clientSecret).not.toBe(client.clientSecret);
      const hash = String((await clientRow(tenant.id, client.id))!['secret_hash']);
      expect(credentials.clientSecretMatches(rotated.clientSecret!, hash)).toBe(true);
      expect(credentials.clientSecretMatches(client.clientSecret!, hash)).toBe(false);
      expect((await auditRows(tenant.id, 'partner.secret_rotated')).map((r) => [r.actor, r.subject, r.data, r.request_id])).toEqual([
        [`user:${tenant.users.admin.id}`, `partner_client:${client.id}`, {}, requestId(res)],
      ]);
      const get = await call('get', `/v1/partner-clients/${client.id}`, tokens.owner);
      expect(get.text).not.toContain(rotated.clientSecret!);
      expect(await storedText(tenant.id)).not.toContain(rotated.clientSecret!);
    });
  });

  describe('API keys', () => {
    it("creates a key in the client's environment: the key once, only its HMAC stored, the prefix audited", async () => {
      const { tenant, tokens } = await loggedInTenant('pc-key');
      const client = await createClient(tokens.owner, clientBody({ environment: 'live' }));
      const res = await call('post', `/v1/partner-clients/${client.id}/keys`, tokens.owner, { expiresAt: inFuture(7200) });
      expect(res.status, `${res.text}`).toBe(201);
      expect(res.headers['cache-control']).toBe('no-store');
      const created = res.body as CreatedKey;
      ledger.add(created.key ?? undefined);
      expect(Object.keys(created).sort()).toEqual([...KEY_KEYS, 'key'].sort());
      const match = API_KEY.exec(created.key!);
      expect(match?.[1]).toBe('live');
      expect(created).toEqual({
        id: expect.stringMatching(UUID),
        key: created.key,
        prefix: match![2],
        environment: 'live',
        createdAt: clock.now().toISOString(),
        expiresAt: inFuture(7200),
        lastUsedAt: null,
        revokedAt: null,
        replacedById: null,
      });

      const stored = await keyRow(tenant.id, created.id);
      expect(stored).toMatchObject({ client_id: client.id, prefix: created.prefix, environment: 'live', created_by_id: tenant.users.owner.id });
      const keyHash = String(stored!['key_hash']);
      expect(keyHash).toMatch(/^[0-9a-f]{64}$/);
      expect(keyHash).not.toBe(created.key);
      expect(credentials.keyMatches(created.key!, keyHash)).toBe(true);
      expect(credentials.parseKey(created.key!)).toEqual({ environment: 'live', prefix: created.prefix });

      expect(await auditRows(tenant.id, 'partner.key_created')).toEqual([
        {
          actor: `user:${tenant.users.owner.id}`,
          subject: `partner_key:${created.id}`,
          outcome: 'success',
          data: { clientId: client.id, credentialPrefix: created.prefix, environment: 'live', expiresAt: inFuture(7200) },
          request_id: requestId(res),
        },
      ]);

      const list = await call('get', `/v1/partner-clients/${client.id}/keys`, tokens.admin);
      expect(list.status, `${list.text}`).toBe(200);
      const { key: _key, ...metadata } = created;
      expect(list.body).toEqual({ items: [metadata] });
      expect(list.text).not.toContain(created.key!);
      expect(await storedText(tenant.id)).not.toContain(created.key!);
    });

    it('a body is optional; Idempotency-Key replays the key metadata with the key null, and stores no key', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-key-idem');
      const client = await createClient(tokens.owner);
      const bare = await caller.call('post', `/v1/partner-clients/${client.id}/keys`, { token: tokens.owner });
      expect(bare.status, `${bare.text}`).toBe(201);
      ledger.add((bare.body as CreatedKey).key ?? undefined);
      expect(bare.body).toMatchObject({ expiresAt: null, environment: 'test' });

      const headers = { 'idempotency-key': `k-${randomBytes(6).toString('hex')}` };
      const first = await createKey(tokens.owner, client.id, {}, headers);
      const retry = await call('post', `/v1/partner-clients/${client.id}/keys`, tokens.owner, {}, headers);
      expect(retry.status, `${retry.text}`).toBe(201);
      expect(replayed(retry)).toBe(true);
      expect(retry.body).toEqual({ ...first, key: null });
      expect(await keyCount(tenant.id)).toBe(2);
      expect(await storedText(tenant.id)).not.toContain(first.key!);
    });

    it('lists keys newest first, only those of that client', async () => {
      const { tokens } = await loggedInTenant('pc-key-list');
      const client = await createClient(tokens.owner);
      const sibling = await createClient(tokens.owner);
      const keys: CreatedKey[] = [];
      for (let i = 0; i < 3; i++) {
        keys.push(await createKey(tokens.owner, client.id));
        clock.advance(1);
      }
      const siblingKey = await createKey(tokens.owner, sibling.id);
      const res = await call('get', `/v1/partner-clients/${client.id}/keys`, tokens.owner);
      const items = (res.body as { items: KeyBody[] }).items;
      expect(items.map((k) => k.id)).toEqual(keys.map((k) => k.id).reverse());
      for (const item of items) expect(Object.keys(item).sort()).toEqual(KEY_KEYS);
      expect(res.text).not.toContain(siblingKey.id);
    });

    it('rotation: a new key with the old expiry; the old key names it and expires after the overlap, exactly', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-rotate');
      const client = await createClient(tokens.owner);
      const old = await createKey(tokens.owner, client.id);
      clock.advance(5);
      const res = await rotateKey(tokens.admin, client.id, old.id);
      expect(res.status, `${res.text}`).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      const fresh = res.body as CreatedKey;
      expect(fresh).toMatchObject({ key: expect.stringMatching(API_KEY), environment: 'test', expiresAt: null, replacedById: null, createdAt: clock.now().toISOString() });
      expect(fresh.id).not.toBe(old.id);
      expect(fresh.prefix).not.toBe(old.prefix);

      const overlapEnd = new Date(clock.now().getTime() + OVERLAP_S * 1000);
      const list = (await call('get', `/v1/partner-clients/${client.id}/keys`, tokens.owner)).body as { items: KeyBody[] };
      expect(list.items.find((k) => k.id === old.id)).toEqual({ ...old, key: undefined, replacedById: fresh.id, expiresAt: overlapEnd.toISOString() });
      expect(list.items.map((k) => k.id)).toEqual([fresh.id, old.id]);
      // Both keys verify until the overlap ends (the partner surface checks expiry and revocation).
      expect(credentials.keyMatches(old.key!, String((await keyRow(tenant.id, old.id))!['key_hash']))).toBe(true);
      expect(credentials.keyMatches(fresh.key!, String((await keyRow(tenant.id, fresh.id))!['key_hash']))).toBe(true);

      expect(await auditRows(tenant.id, 'partner.key_rotated')).toEqual([
        {
          actor: `user:${tenant.users.admin.id}`,
          subject: `partner_key:${old.id}`,
          outcome: 'success',
          data: { clientId: client.id, replacedById: fresh.id, credentialPrefix: fresh.prefix, previousPrefix: old.prefix, previousExpiresAt: overlapEnd.toISOString() },
          request_id: requestId(res),
        },
      ]);
      expect(await storedText(tenant.id)).not.toContain(fresh.key!);

      // Already rotated: rotate its replacement instead.
      const again = await rotateKey(tokens.owner, client.id, old.id);
      expect(problemOf(again)).toEqual({ status: 409, problemJson: true, code: 'partner.key_replaced' });
    });

    it('rotation never extends a key: an old key expiring before the overlap ends keeps its expiry, and the new key inherits it', async () => {
      const { tokens } = await loggedInTenant('pc-rotate-short');
      const client = await createClient(tokens.owner);
      const expiresAt = inFuture(600);
      const old = await createKey(tokens.owner, client.id, { expiresAt });
      const res = await rotateKey(tokens.owner, client.id, old.id);
      expect(res.status, `${res.text}`).toBe(200);
      expect(res.body).toMatchObject({ expiresAt });
      const list = (await call('get', `/v1/partner-clients/${client.id}/keys`, tokens.owner)).body as { items: KeyBody[] };
      expect(list.items.find((k) => k.id === old.id)).toMatchObject({ expiresAt, replacedById: (res.body as CreatedKey).id });
    });

    it('revoked and expired keys cannot be rotated (409); revoking is audited once', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-key-revoke');
      const client = await createClient(tokens.owner);
      const key = await createKey(tokens.owner, client.id);
      const first = await call('post', `/v1/partner-clients/${client.id}/keys/${key.id}/revoke`, tokens.owner);
      expect(first.status, `${first.text}`).toBe(200);
      expect(first.body).toEqual({ ...key, key: undefined, revokedAt: clock.now().toISOString() });
      const second = await call('post', `/v1/partner-clients/${client.id}/keys/${key.id}/revoke`, tokens.admin);
      expect(second.body).toEqual(first.body);
      expect((await auditRows(tenant.id, 'partner.key_revoked')).map((r) => [r.subject, r.data, r.request_id])).toEqual([
        [`partner_key:${key.id}`, { clientId: client.id, credentialPrefix: key.prefix }, requestId(first)],
      ]);
      expect(problemOf(await rotateKey(tokens.owner, client.id, key.id))).toEqual({ status: 409, problemJson: true, code: 'partner.key_revoked' });

      const expiring = await createKey(tokens.owner, client.id, { expiresAt: inFuture(60) });
      await owner.query("UPDATE partner_api_keys SET expires_at = $3::timestamptz - interval '1 second' WHERE tenant_id = $1 AND id = $2", [tenant.id, expiring.id, clock.now()]);
      expect(problemOf(await rotateKey(tokens.owner, client.id, expiring.id))).toEqual({ status: 409, problemJson: true, code: 'partner.key_expired' });
      expect(await keyCount(tenant.id)).toBe(2);
    });
  });

  describe('roles', () => {
    it('members and viewers get 403 on every route, audited as authz.denied; nothing changes', async () => {
      const { tenant, tokens } = await loggedInTenant('pc-roles');
      const client = await createClient(tokens.owner);
      const key = await createKey(tokens.owner, client.id);
      const before = { client: await clientRow(tenant.id, client.id), keys: await keyCount(tenant.id) };
      const routes: ['get' | 'post' | 'patch', string, object | undefined][] = [
        ['get', '/v1/partner-clients', undefined],
        ['post', '/v1/partner-clients', clientBody()],
        ['get', `/v1/partner-clients/${client.id}`, undefined],
        ['patch', `/v1/partner-clients/${client.id}`, { name: 'Nope' }],
        ['post', `/v1/partner-clients/${client.id}/revoke`, undefined],
        ['post', `/v1/partner-clients/${client.id}/secret`, undefined],
        ['get', `/v1/partner-clients/${client.id}/keys`, undefined],
        ['post', `/v1/partner-clients/${client.id}/keys`, {}],
        ['post', `/v1/partner-clients/${client.id}/keys/${key.id}/rotate`, undefined],
        ['post', `/v1/partner-clients/${client.id}/keys/${key.id}/revoke`, undefined],
      ];
      for (const role of ['member', 'viewer'] as const) {
        for (const [method, path, body] of routes) {
          const res = await call(method, path, tokens[role], body);
          expect(problemOf(res), `${role} ${method} ${path}`).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
          expect(res.text).not.toContain(client.name);
          const { rows } = await owner.query('SELECT actor, outcome FROM audit_events WHERE tenant_id = $1 AND type = $2 AND request_id = $3', [tenant.id, 'authz.denied', requestId(res)]);
          expect(rows, `${role} ${method} ${path}`).toEqual([{ actor: `user:${tenant.users[role].id}`, outcome: 'denied' }]);
        }
      }
      expect({ client: await clientRow(tenant.id, client.id), keys: await keyCount(tenant.id) }).toEqual(before);
      expect(await clientCount(tenant.id)).toBe(1);
    });
  });

  describe('tenant isolation', () => {
    it("another tenant's client and key ids are 404 on every route, exactly like random ids, and nothing changes", async () => {
      const a = await loggedInTenant('pc-iso-a');
      const b = await loggedInTenant('pc-iso-b');
      const aClient = await createClient(a.tokens.owner);
      const aKey = await createKey(a.tokens.owner, aClient.id);
      const bClient = await createClient(b.tokens.owner);
      const before = { client: await clientRow(a.tenant.id, aClient.id), key: await keyRow(a.tenant.id, aKey.id), keys: await keyCount(a.tenant.id) };

      const clientRoutes: ['get' | 'post' | 'patch', (client: string) => string, object | undefined][] = [
        ['get', (c) => `/v1/partner-clients/${c}`, undefined],
        ['patch', (c) => `/v1/partner-clients/${c}`, { name: 'Dibajak' }],
        ['post', (c) => `/v1/partner-clients/${c}/revoke`, undefined],
        ['post', (c) => `/v1/partner-clients/${c}/secret`, undefined],
        ['get', (c) => `/v1/partner-clients/${c}/keys`, undefined],
        ['post', (c) => `/v1/partner-clients/${c}/keys`, {}],
      ];
      const keyRoutes = ['rotate', 'revoke'].map((action) => (c: string, k: string) => `/v1/partner-clients/${c}/keys/${k}/${action}`);
      /** The refusal of `target` is byte-identical to the refusal of `control`, which names nothing that exists. */
      async function sameAsMissing(role: 'owner' | 'admin', method: 'get' | 'post' | 'patch', target: string, control: string, body?: object): Promise<void> {
        const missing = await call(method, control, b.tokens[role], body);
        const res = await call(method, target, b.tokens[role], body);
        expect(problemOf(res), `${role} ${method} ${target}`).toMatchObject({ status: 404, problemJson: true });
        expect(withoutRequestId(res.body), `${role} ${method} ${target}`).toEqual(withoutRequestId(missing.body));
        expect(res.text).not.toContain(aClient.name);
      }
      for (const role of ['owner', 'admin'] as const) {
        for (const [method, path, body] of clientRoutes) await sameAsMissing(role, method, path(aClient.id), path(randomUUID()), body);
        for (const path of keyRoutes) {
          await sameAsMissing(role, 'post', path(aClient.id, aKey.id), path(randomUUID(), randomUUID()));
          // A's key under B's own client: as missing as a random key id there.
          await sameAsMissing(role, 'post', path(bClient.id, aKey.id), path(bClient.id, randomUUID()));
        }
      }
      expect({ client: await clientRow(a.tenant.id, aClient.id), key: await keyRow(a.tenant.id, aKey.id), keys: await keyCount(a.tenant.id) }).toEqual(before);
      expect(await keyCount(b.tenant.id)).toBe(0);

      const list = await call('get', '/v1/partner-clients', b.tokens.owner);
      expect((list.body as { items: ClientBody[] }).items.map((c) => c.id)).toEqual([bClient.id]);
      expect(list.text).not.toContain(aClient.id);
    });

    it("a key is reached only through its own client: another client's key id is 404 (partner.key_not_found)", async () => {
      const { tokens } = await loggedInTenant('pc-iso-sibling');
      const client = await createClient(tokens.owner);
      const sibling = await createClient(tokens.owner);
      const key = await createKey(tokens.owner, client.id);
      for (const action of ['rotate', 'revoke']) {
        const res = await call('post', `/v1/partner-clients/${sibling.id}/keys/${key.id}/${action}`, tokens.owner);
        expect(problemOf(res), `${action}`).toEqual({ status: 404, problemJson: true, code: 'partner.key_not_found' });
      }
      const keys = await call('get', `/v1/partner-clients/${sibling.id}/keys`, tokens.owner);
      expect(keys.body).toEqual({ items: [] });
    });
  });

  it('no secret, key, password or token this file saw ever reached a log line', () => {
    expect(ledger.counts.secrets).toBeGreaterThan(30);
    expect(ledger.counts.logLines).toBeGreaterThan(0);
    expect(ledger.leaks()).toEqual([]);
    // Nor anything shaped like a partner credential, whichever call it came from.
    const raw = api.logs.raw;
    expect(raw).not.toMatch(/bt_cs_[A-Za-z0-9_-]{43}/);
    expect(raw).not.toMatch(/bt_(live|test)_[a-z2-7]{12}_[A-Za-z0-9_-]{43}/);
    // The audit lines did reach the log (AuditLog copies every event there), just without secrets.
    expect(raw).toContain('partner.key_rotated');
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { AuthError, AuthErrorCode } from '../../libs/auth/src/auth.errors.js';
import { ipAllowed } from '../../libs/auth/src/partner-auth.service.js';
import { auditOf, authGraph, setStatus, SettableClock, type LogLine } from '../support/auth-services.js';
import { ownerInTenant, ownerPool, tenantDatabase } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey, type PartnerClientSeed, type TestPartnerClient } from '../support/partners.js';
import { ready, testRedis } from '../support/redis.js';
import { tag } from '../security/support/controls.js';

/**
 * PartnerAuthService and PartnerCredentialsRepository on the real PostgreSQL (AUTHN-PARTNER-CREDENTIALS):
 * the client-credentials grant (issueToken) and the verification of both partner credential kinds
 * (authenticate: an API key, a client-credentials access token). For every refusal: the one error
 * the caller gets, the log line with its reason, and the audit row in the client's tenant when the
 * credential was genuine; for every success: what is answered, the token's claims, the audit row,
 * and the key's last use as stored.
 */
const owner = ownerPool();
const database = tenantDatabase();
const redis = testRedis('partner-auth-spec');
let tenant: TestTenant;

beforeAll(async () => {
  await ready(redis);
  tenant = await createTenant(owner, 'partner-auth');
});

afterAll(() => {
  redis.disconnect();
});

/** Milliseconds only: the columns are timestamptz(3), so a boundary set here is stored exactly. */
const T0 = new Date('2031-05-06T07:08:09.123Z');
const graph = (clock = new SettableClock(new Date(T0)), env: Record<string, string> = {}) => authGraph({ clock, redis, db: database, env });
const ALL_SCOPES = ['invoices:read', 'invoices:write', 'tickets:read', 'tickets:write', 'documents:read'];
const randomIp = () => `10.${[...randomBytes(3)].join('.')}`;
const meta = (requestId?: string) => ({ ip: randomIp(), ...(requestId ? { requestId } : {}) });
const failure = async (promise: Promise<unknown>): Promise<AuthError> => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(AuthError);
  return error as AuthError;
};
const client = (seed: PartnerClientSeed = {}, t: TestTenant = tenant) => createPartnerClient(owner, t.id, t.users.owner.id, seed);
const key = (c: TestPartnerClient, seed: Parameters<typeof createPartnerKey>[4] = {}, t: TestTenant = tenant) => createPartnerKey(owner, t.id, c.clientId, t.users.owner.id, seed);
const refusedLine = (reason: string, via: string, m: { ip: string; requestId?: string }): LogLine => ({
  level: 'info',
  fields: { event: 'partner.auth_refused', reason, via, ip: m.ip, requestId: m.requestId },
  message: 'partner credential refused',
});
const genuineLine = (reason: string, via: string, m: { ip: string; requestId?: string }, ids: { tenantId: string; clientId: string; keyId?: string }): LogLine => ({
  level: 'warn',
  fields: { event: 'partner.auth_refused', reason, via, tenantId: ids.tenantId, clientId: ids.clientId, keyId: ids.keyId, ip: m.ip, requestId: m.requestId },
  message: 'partner credential refused',
});
/** The audit rows about a client or one of its keys. */
const auditAbout = async (subject: string, t: TestTenant = tenant) => (await auditOf(owner, t.id)).filter((a) => a.subject === subject);
const lastUsedAt = async (keyId: string, t: TestTenant = tenant) =>
  (await ownerInTenant(owner, t.id, (c) => c.query<{ last_used_at: Date | null }>('SELECT last_used_at FROM partner_api_keys WHERE tenant_id = $1 AND id = $2', [t.id, keyId]))).rows[0]!.last_used_at;
const setLastUsedAt = (keyId: string, at: Date, t: TestTenant = tenant) =>
  ownerInTenant(owner, t.id, (c) => c.query('UPDATE partner_api_keys SET last_used_at = $3 WHERE tenant_id = $1 AND id = $2', [t.id, keyId, at]));
const setScopes = (clientId: string, scopes: string[], t: TestTenant = tenant) =>
  ownerInTenant(owner, t.id, (c) => c.query('UPDATE partner_clients SET scopes = $3 WHERE tenant_id = $1 AND id = $2', [t.id, clientId, scopes]));

describe(tag('AUTHN-PARTNER-CREDENTIALS', 'PartnerAuthService.issueToken (client credentials) on the database'), () => {
  it('issues a token for the client with every granted scope: claims, lifetime, answer and audit row', async () => {
    const g = await graph();
    expect(g.contexts).toContain('PartnerAuthService');
    const c = await client({ tier: 'premium' });
    const m = meta('req-token-1');
    const answer = await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret }, m);
    expect(answer).toStrictEqual({ accessToken: answer.accessToken, expiresIn: g.config.PARTNER_TOKEN_TTL_S, scopes: ALL_SCOPES });
    const claims = decodeJwt(answer.accessToken);
    expect(decodeProtectedHeader(answer.accessToken)).toMatchObject({ typ: 'at+jwt' });
    expect(claims).toMatchObject({ sub: c.clientId, client_id: c.clientId, tid: tenant.id, scope: ALL_SCOPES.join(' '), aud: 'benteng-partner', iat: Math.floor(T0.getTime() / 1000) });
    expect(claims.exp! - claims.iat!).toBe(g.config.PARTNER_TOKEN_TTL_S);
    expect(await g.accessTokens.verifyPartner(answer.accessToken)).toMatchObject({ client_id: c.clientId, tid: tenant.id, scope: ALL_SCOPES });
    expect(await auditAbout(`partner_client:${c.clientId}`)).toEqual([
      {
        type: 'partner.token_issued',
        outcome: 'success',
        actor: `partner:${c.clientId}`,
        subject: `partner_client:${c.clientId}`,
        ip: m.ip,
        request_id: 'req-token-1',
        data: { scope: ALL_SCOPES.join(' '), expiresIn: g.config.PARTNER_TOKEN_TTL_S },
      },
    ]);
    expect(g.lines).toEqual([]);
  });

  it('a requested scope narrows the token to it (spaces collapse, no request id stored as none); the token lifetime follows PARTNER_TOKEN_TTL_S', async () => {
    const g = await graph(undefined, { PARTNER_TOKEN_TTL_S: '120' });
    const c = await client();
    const m = meta();
    const answer = await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret, scope: '  tickets:read   invoices:read ' }, m);
    expect(answer).toStrictEqual({ accessToken: answer.accessToken, expiresIn: 120, scopes: ['tickets:read', 'invoices:read'] });
    const claims = decodeJwt(answer.accessToken);
    expect(claims.scope).toBe('tickets:read invoices:read');
    expect(claims.exp! - claims.iat!).toBe(120);
    expect(await auditAbout(`partner_client:${c.clientId}`)).toEqual([
      { type: 'partner.token_issued', outcome: 'success', actor: `partner:${c.clientId}`, subject: `partner_client:${c.clientId}`, ip: m.ip, request_id: null, data: { scope: 'tickets:read invoices:read', expiresIn: 120 } },
    ]);
  });

  it('an empty scope asks for nothing and gets a token with no scope', async () => {
    const g = await graph();
    const c = await client();
    const answer = await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret, scope: '' }, meta());
    expect(answer.scopes).toEqual([]);
    expect(decodeJwt(answer.accessToken).scope).toBe('');
  });

  it('a scope beyond the client\'s grant (or unknown) is invalid_scope: no token, no audit, no log', async () => {
    const g = await graph();
    const c = await client({ scopes: ['invoices:read', 'tickets:read'] });
    for (const scope of ['invoices:read invoices:write', 'documents:read', 'admin:all', 'invoices:read tickets:read x']) {
      expect((await failure(g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret, scope }, meta()))).code).toBe(AuthErrorCode.InvalidScope);
    }
    expect(await auditAbout(`partner_client:${c.clientId}`)).toEqual([]);
    expect(g.lines).toEqual([]);
    // Exactly the grant is fine; without a scope the token carries the grant only.
    expect((await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret, scope: 'tickets:read invoices:read' }, meta())).scopes).toEqual(['tickets:read', 'invoices:read']);
    expect((await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret }, meta())).scopes).toEqual(['invoices:read', 'tickets:read']);
  });

  it('an id that is no canonical UUID is not looked up, and is compared against the dummy hash: invalid_client, logged as unknown', async () => {
    const g = await graph();
    const c = await client();
    const lookup = vi.spyOn(g.partnerRepository, 'partnerClientLookup');
    const compare = vi.spyOn(g.partnerCredentials, 'clientSecretMatches');
    const m = meta('req-bad-id');
    for (const clientId of ['not-a-uuid', c.clientId.toUpperCase(), ` ${c.clientId}`]) {
      expect((await failure(g.partnerAuth.issueToken({ clientId, clientSecret: c.clientSecret }, m))).code).toBe(AuthErrorCode.InvalidClient);
    }
    expect(lookup).not.toHaveBeenCalled();
    expect(compare.mock.calls).toEqual([0, 1, 2].map(() => [c.clientSecret, '0'.repeat(64)]));
    expect(g.lines).toEqual([0, 1, 2].map(() => refusedLine('unknown_credential', 'client_credentials', m)));
    expect(await auditAbout(`partner_client:${c.clientId}`)).toEqual([]);
  });

  it('an unknown client id: looked up, compared against the dummy hash, invalid_client, logged as unknown (nothing to audit)', async () => {
    const g = await graph();
    const compare = vi.spyOn(g.partnerCredentials, 'clientSecretMatches');
    const m = meta();
    const secret = `bt_cs_${randomBytes(32).toString('base64url')}`;
    expect((await failure(g.partnerAuth.issueToken({ clientId: randomUUID(), clientSecret: secret }, m))).code).toBe(AuthErrorCode.InvalidClient);
    expect(compare.mock.calls).toEqual([[secret, '0'.repeat(64)]]);
    expect(g.lines).toEqual([refusedLine('unknown_credential', 'client_credentials', m)]);
  });

  it('a wrong secret of a known client: invalid_client, logged as bad_secret, not audited (the secret did not match)', async () => {
    const g = await graph();
    const c = await client();
    const other = await client();
    const m = meta('req-bad-secret');
    for (const clientSecret of [other.clientSecret, '', c.clientSecret.slice(0, -1)]) {
      expect((await failure(g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret }, m))).code).toBe(AuthErrorCode.InvalidClient);
    }
    expect(g.lines).toEqual([0, 1, 2].map(() => refusedLine('bad_secret', 'client_credentials', m)));
    expect(await auditAbout(`partner_client:${c.clientId}`)).toEqual([]);
  });

  describe('a genuine client whose state refuses it: invalid_client, a warning and an audit row with the reason', () => {
    /** Asserts the error, the warning and the audit row; answers the reason they carry. */
    async function refusedFor(seed: PartnerClientSeed, options: { t?: TestTenant; ip?: string; env?: Record<string, string>; requestId?: string } = {}): Promise<string> {
      const t = options.t ?? tenant;
      const g = await graph(undefined, options.env);
      const c = await client(seed, t);
      const m = { ip: options.ip ?? randomIp(), ...(options.requestId ? { requestId: options.requestId } : {}) };
      expect((await failure(g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret }, m))).code).toBe(AuthErrorCode.InvalidClient);
      const reason = String((g.lines[0]?.fields as { reason?: unknown } | undefined)?.reason);
      expect(g.lines).toEqual([genuineLine(reason, 'client_credentials', m, { tenantId: t.id, clientId: c.clientId })]);
      expect(await auditAbout(`partner_client:${c.clientId}`, t)).toEqual([
        { type: 'partner.auth_refused', outcome: 'denied', actor: `partner:${c.clientId}`, subject: `partner_client:${c.clientId}`, ip: m.ip, request_id: options.requestId ?? null, data: { reason, via: 'client_credentials' } },
      ]);
      return reason;
    }

    it('a client of the other environment (checked before anything else)', async () => {
      expect(await refusedFor({ environment: 'live' }, { requestId: 'req-env' })).toBe('wrong_environment');
      expect(await refusedFor({ environment: 'live', revokedAt: new Date(T0.getTime() - 1000) })).toBe('wrong_environment');
      // PARTNER_ENVIRONMENT=live: a test client is the other environment.
      expect(await refusedFor({ environment: 'test' }, { env: { PARTNER_ENVIRONMENT: 'live' } })).toBe('wrong_environment');
    });

    it('a revoked client', async () => {
      expect(await refusedFor({ revokedAt: new Date(T0.getTime() + 3_600_000) })).toBe('client_revoked');
      expect(await refusedFor({ revokedAt: new Date(T0.getTime() - 1000), expiresAt: new Date(T0.getTime() - 1000) })).toBe('client_revoked');
    });

    it('an expired client: refused exactly at its expiry', async () => {
      expect(await refusedFor({ expiresAt: new Date(T0) })).toBe('client_expired');
      expect(await refusedFor({ expiresAt: new Date(T0.getTime() - 1) })).toBe('client_expired');
    });

    it('a client of a suspended tenant', async () => {
      const suspended = await createTenant(owner, 'partner-suspended');
      await setStatus(owner, 'tenants', suspended.id, 'suspended');
      expect(await refusedFor({}, { t: suspended })).toBe('tenant_suspended');
    });

    it('a call from outside the allowlist', async () => {
      expect(await refusedFor({ ipAllowlist: ['192.0.2.0/24'] }, { ip: '198.51.100.7' })).toBe('ip_not_allowed');
      expect(await refusedFor({ ipAllowlist: ['192.0.2.0/24'] }, { ip: 'not-an-address' })).toBe('ip_not_allowed');
    });
  });

  it('the state checks let through: an expiry one millisecond ahead, an address inside the allowlist, a live client on a live deployment', async () => {
    const g = await graph();
    const soon = await client({ expiresAt: new Date(T0.getTime() + 1) });
    expect((await g.partnerAuth.issueToken({ clientId: soon.clientId, clientSecret: soon.clientSecret }, meta())).expiresIn).toBe(g.config.PARTNER_TOKEN_TTL_S);
    const listed = await client({ ipAllowlist: ['198.51.100.0/24', '192.0.2.0/24'] });
    expect((await g.partnerAuth.issueToken({ clientId: listed.clientId, clientSecret: listed.clientSecret }, { ip: '192.0.2.200' })).scopes).toEqual(ALL_SCOPES);
    const live = await graph(undefined, { PARTNER_ENVIRONMENT: 'live' });
    const liveClient = await client({ environment: 'live' });
    expect((await live.partnerAuth.issueToken({ clientId: liveClient.clientId, clientSecret: liveClient.clientSecret }, meta())).scopes).toEqual(ALL_SCOPES);
    expect([...g.lines, ...live.lines]).toEqual([]);
  });
});

describe(tag('AUTHN-PARTNER-CREDENTIALS', 'PartnerAuthService.authenticate with an API key on the database'), () => {
  it('a valid key: the client\'s identity, scopes and tier; its last use is stored at the clock\'s time', async () => {
    const clock = new SettableClock(new Date(T0));
    const g = await graph(clock);
    const c = await client({ tier: 'free', scopes: ['tickets:write', 'invoices:read'] });
    const k = await key(c);
    expect(await g.partnerAuth.authenticate(k.key, meta())).toStrictEqual({ tenantId: tenant.id, clientId: c.clientId, keyId: k.keyId, scopes: ['tickets:write', 'invoices:read'], tier: 'free', via: 'api_key' });
    expect(await lastUsedAt(k.keyId)).toEqual(T0);
    expect(g.lines).toEqual([]);
    expect(await auditAbout(`partner_key:${k.keyId}`)).toEqual([]);
  });

  it('the last use is written at most once a minute: 59.999 s later it stays, 60 s later it moves', async () => {
    const clock = new SettableClock(new Date(T0));
    const g = await graph(clock);
    const c = await client();
    const k = await key(c);
    const write = vi.spyOn(g.partnerRepository, 'touchKey');
    await setLastUsedAt(k.keyId, new Date(T0.getTime() - 59_999));
    await g.partnerAuth.authenticate(k.key, meta());
    expect(await lastUsedAt(k.keyId)).toEqual(new Date(T0.getTime() - 59_999));
    expect(write).not.toHaveBeenCalled();
    await setLastUsedAt(k.keyId, new Date(T0.getTime() - 60_000));
    await g.partnerAuth.authenticate(k.key, meta());
    expect(await lastUsedAt(k.keyId)).toEqual(T0);
    expect(write).toHaveBeenCalledTimes(1);
    // A last use in the future (another instance's clock ahead) is not written back either.
    await setLastUsedAt(k.keyId, new Date(T0.getTime() + 5_000));
    await g.partnerAuth.authenticate(k.key, meta());
    expect(await lastUsedAt(k.keyId)).toEqual(new Date(T0.getTime() + 5_000));
  });

  it('malformed keys are refused before any lookup: one error, logged as malformed', async () => {
    const g = await graph();
    const lookup = vi.spyOn(g.partnerRepository, 'partnerKeyLookup');
    const m = meta('req-malformed');
    for (const credential of ['bt_', 'bt_test_short_x', `bt_prod_abcdefghijkl_${'a'.repeat(43)}`, `bt_test_ABCDEFGHIJKL_${'a'.repeat(43)}`]) {
      expect((await failure(g.partnerAuth.authenticate(credential, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    }
    expect(lookup).not.toHaveBeenCalled();
    expect(g.lines).toEqual([0, 1, 2, 3].map(() => refusedLine('malformed', 'api_key', m)));
  });

  it('a key of the other environment is refused on sight (no lookup), even a genuine one', async () => {
    const g = await graph();
    const lookup = vi.spyOn(g.partnerRepository, 'partnerKeyLookup');
    const c = await client({ environment: 'live' });
    const k = await key(c, { environment: 'live' });
    const m = meta();
    expect((await failure(g.partnerAuth.authenticate(k.key, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect(lookup).not.toHaveBeenCalled();
    expect(g.lines).toEqual([refusedLine('wrong_environment', 'api_key', m)]);
    expect(await auditAbout(`partner_key:${k.keyId}`)).toEqual([]);
    // On a live deployment the same key is accepted, and a test key is the other environment.
    const live = await graph(undefined, { PARTNER_ENVIRONMENT: 'live' });
    expect((await live.partnerAuth.authenticate(k.key, meta())).keyId).toBe(k.keyId);
    const testKey = await key(await client());
    expect((await failure(live.partnerAuth.authenticate(testKey.key, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect(live.lines).toEqual([refusedLine('wrong_environment', 'api_key', m)]);
  });

  it('an unknown prefix is compared against the dummy hash and logged as unknown; a known prefix with another secret as bad_secret', async () => {
    const g = await graph();
    const compare = vi.spyOn(g.partnerCredentials, 'keyMatches');
    const unknown = g.partnerCredentials.mintKey('test').key;
    const m = meta('req-unknown-key');
    expect((await failure(g.partnerAuth.authenticate(unknown, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect(compare.mock.calls).toEqual([[unknown, '0'.repeat(64)]]);
    const k = await key(await client());
    const forged = `bt_test_${k.prefix}_${randomBytes(32).toString('base64url')}`;
    expect((await failure(g.partnerAuth.authenticate(forged, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect(g.lines).toEqual([refusedLine('unknown_credential', 'api_key', m), refusedLine('bad_secret', 'api_key', m)]);
    expect(await auditAbout(`partner_key:${k.keyId}`)).toEqual([]);
    expect(await lastUsedAt(k.keyId)).toBeNull();
  });

  describe('a genuine key whose state refuses it: one error, a warning and an audit row naming the key', () => {
    /** Asserts the error, the warning and the audit row; answers the reason they carry. */
    async function refusedFor(arrange: (t: TestTenant) => Promise<{ c: TestPartnerClient; k: { keyId: string; key: string } }>, options: { t?: TestTenant; ip?: string; requestId?: string } = {}): Promise<string> {
      const t = options.t ?? tenant;
      const g = await graph();
      const { c, k } = await arrange(t);
      const m = { ip: options.ip ?? randomIp(), ...(options.requestId ? { requestId: options.requestId } : {}) };
      expect((await failure(g.partnerAuth.authenticate(k.key, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
      const reason = String((g.lines[0]?.fields as { reason?: unknown } | undefined)?.reason);
      expect(g.lines).toEqual([genuineLine(reason, 'api_key', m, { tenantId: t.id, clientId: c.clientId, keyId: k.keyId })]);
      expect(await auditAbout(`partner_key:${k.keyId}`, t)).toEqual([
        { type: 'partner.auth_refused', outcome: 'denied', actor: `partner:${c.clientId}`, subject: `partner_key:${k.keyId}`, ip: m.ip, request_id: options.requestId ?? null, data: { reason, via: 'api_key' } },
      ]);
      // A refused key is not marked as used.
      expect(await lastUsedAt(k.keyId, t)).toBeNull();
      return reason;
    }
    const withKey = (clientSeed: PartnerClientSeed, keySeed: Parameters<typeof createPartnerKey>[4] = {}) => async (t: TestTenant) => {
      const c = await client(clientSeed, t);
      return { c, k: await key(c, keySeed, t) };
    };

    it('a revoked key (before its expiry is looked at)', async () => {
      expect(await refusedFor(withKey({}, { revokedAt: new Date(T0.getTime() + 60_000) }), { requestId: 'req-revoked-key' })).toBe('key_revoked');
      expect(await refusedFor(withKey({ revokedAt: new Date(T0) }, { revokedAt: new Date(T0.getTime() - 1), expiresAt: new Date(T0.getTime() - 1) }))).toBe('key_revoked');
    });

    it('an expired key: refused exactly at its expiry, before the client is looked at', async () => {
      expect(await refusedFor(withKey({}, { expiresAt: new Date(T0) }))).toBe('key_expired');
      expect(await refusedFor(withKey({ revokedAt: new Date(T0) }, { expiresAt: new Date(T0.getTime() - 1000) }))).toBe('key_expired');
    });

    it('a key stored for the other environment than its text says', async () => {
      const reason = await refusedFor(async (t) => {
        const c = await client({}, t);
        const g = await graph();
        const minted = g.partnerCredentials.mintKey('test');
        const keyId = randomUUID();
        await ownerInTenant(owner, t.id, (q) =>
          q.query(`INSERT INTO partner_api_keys (tenant_id, id, client_id, prefix, key_hash, environment, created_by_id) VALUES ($1, $2, $3, $4, $5, 'live', $6)`, [t.id, keyId, c.clientId, minted.prefix, minted.hash, t.users.owner.id]),
        );
        return { c, k: { keyId, key: minted.key } };
      });
      expect(reason).toBe('wrong_environment');
    });

    it('a key of a revoked client', async () => {
      expect(await refusedFor(withKey({ revokedAt: new Date(T0.getTime() + 60_000) }))).toBe('client_revoked');
    });

    it('a key of an expired client: refused exactly at the client\'s expiry', async () => {
      expect(await refusedFor(withKey({ expiresAt: new Date(T0) }))).toBe('client_expired');
    });

    it('a key of a suspended tenant', async () => {
      const suspended = await createTenant(owner, 'partner-key-suspended');
      await setStatus(owner, 'tenants', suspended.id, 'suspended');
      expect(await refusedFor(withKey({}), { t: suspended })).toBe('tenant_suspended');
    });

    it('a key used from outside its client\'s allowlist', async () => {
      expect(await refusedFor(withKey({ ipAllowlist: ['2001:db8::/32'] }), { ip: '192.0.2.1' })).toBe('ip_not_allowed');
    });
  });

  it('the state checks let a key through one millisecond before its own or its client\'s expiry, and from an allowed address', async () => {
    const g = await graph();
    const c = await client({ expiresAt: new Date(T0.getTime() + 1), ipAllowlist: ['10.0.0.0/8'] });
    const k = await key(c, { expiresAt: new Date(T0.getTime() + 1) });
    expect((await g.partnerAuth.authenticate(k.key, { ip: '10.1.2.3' })).keyId).toBe(k.keyId);
    expect(g.lines).toEqual([]);
  });
});

describe(tag('AUTHN-PARTNER-CREDENTIALS', 'PartnerAuthService.authenticate with a client-credentials access token on the database'), () => {
  it('a valid token: the client\'s identity and tier, the token\'s scopes still granted to the client, in the client\'s order', async () => {
    const g = await graph();
    const c = await client({ tier: 'standard', scopes: ['invoices:read', 'tickets:read', 'documents:read'] });
    const { accessToken } = await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret, scope: 'documents:read invoices:read' }, meta());
    expect(await g.partnerAuth.authenticate(accessToken, meta())).toStrictEqual({ tenantId: tenant.id, clientId: c.clientId, scopes: ['invoices:read', 'documents:read'], tier: 'standard', via: 'access_token' });
    // A scope removed from the client since the token was issued is gone at once; one added is not gained.
    await setScopes(c.clientId, ['documents:read', 'tickets:write']);
    expect((await g.partnerAuth.authenticate(accessToken, meta())).scopes).toEqual(['documents:read']);
    expect(g.lines).toEqual([]);
  });

  it('a token that does not verify: one error, logged with the verifier\'s reason (and no audit: nothing genuine)', async () => {
    const clock = new SettableClock(new Date(T0));
    const g = await graph(clock);
    const c = await client();
    const m = meta('req-bad-token');
    const { accessToken } = await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret }, meta());
    const userToken = (await g.accessTokens.issue({ sub: tenant.users.member.id, tid: tenant.id, sid: randomUUID(), role: 'member' })).token;
    expect((await failure(g.partnerAuth.authenticate('not.a.token', m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect((await failure(g.partnerAuth.authenticate(userToken, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    clock.advance(g.config.PARTNER_TOKEN_TTL_S);
    expect((await failure(g.partnerAuth.authenticate(accessToken, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    const line = (detail: string): LogLine => ({ level: 'info', fields: { event: 'partner.auth_refused', reason: 'token_invalid', detail, ip: m.ip }, message: 'partner credential refused' });
    expect(g.lines).toEqual([line('malformed'), line('wrong_audience'), line('expired')]);
  });

  it('a verified token whose client is unknown, or whose tenant is not the client\'s: token_invalid, logged, not audited', async () => {
    const g = await graph();
    const c = await client();
    const m = meta('req-forged');
    const unknown = await g.accessTokens.issuePartner({ clientId: randomUUID(), tid: tenant.id, scopes: ['invoices:read'] });
    const otherTenant = await g.accessTokens.issuePartner({ clientId: c.clientId, tid: randomUUID(), scopes: ['invoices:read'] });
    expect((await failure(g.partnerAuth.authenticate(unknown.token, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect((await failure(g.partnerAuth.authenticate(otherTenant.token, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect(g.lines).toEqual([refusedLine('token_invalid', 'access_token', m), refusedLine('token_invalid', 'access_token', m)]);
    expect(await auditAbout(`partner_client:${c.clientId}`)).toEqual([]);
  });

  it('a genuine token whose client was revoked since: one error, a warning and an audit row naming the client', async () => {
    const g = await graph();
    const c = await client();
    const { accessToken } = await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret }, meta());
    await ownerInTenant(owner, tenant.id, (q) => q.query('UPDATE partner_clients SET revoked_at = $3 WHERE tenant_id = $1 AND id = $2', [tenant.id, c.clientId, T0]));
    const m = meta('req-revoked-client');
    expect((await failure(g.partnerAuth.authenticate(accessToken, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect(g.lines).toEqual([genuineLine('client_revoked', 'access_token', m, { tenantId: tenant.id, clientId: c.clientId })]);
    expect((await auditAbout(`partner_client:${c.clientId}`)).filter((a) => a.type === 'partner.auth_refused')).toEqual([
      { type: 'partner.auth_refused', outcome: 'denied', actor: `partner:${c.clientId}`, subject: `partner_client:${c.clientId}`, ip: m.ip, request_id: 'req-revoked-client', data: { reason: 'client_revoked', via: 'access_token' } },
    ]);
  });

  it('a genuine token used from outside the allowlist set since', async () => {
    const g = await graph();
    const c = await client();
    const { accessToken } = await g.partnerAuth.issueToken({ clientId: c.clientId, clientSecret: c.clientSecret }, meta());
    await ownerInTenant(owner, tenant.id, (q) => q.query(`UPDATE partner_clients SET ip_allowlist = '{192.0.2.0/24}' WHERE tenant_id = $1 AND id = $2`, [tenant.id, c.clientId]));
    const m = { ip: '198.51.100.1' };
    expect((await failure(g.partnerAuth.authenticate(accessToken, m))).code).toBe(AuthErrorCode.PartnerUnauthenticated);
    expect(g.lines).toEqual([genuineLine('ip_not_allowed', 'access_token', m, { tenantId: tenant.id, clientId: c.clientId })]);
    expect((await g.partnerAuth.authenticate(accessToken, { ip: '192.0.2.9' })).clientId).toBe(c.clientId);
  });
});

describe('ipAllowed', () => {
  it('an empty allowlist allows every address, even one that does not parse', () => {
    expect(ipAllowed('192.0.2.1', [])).toBe(true);
    expect(ipAllowed('nonsense', [])).toBe(true);
  });

  it('IPv4 and IPv6 ranges, at their edges', () => {
    expect(ipAllowed('192.0.2.0', ['192.0.2.0/24'])).toBe(true);
    expect(ipAllowed('192.0.2.255', ['192.0.2.0/24'])).toBe(true);
    expect(ipAllowed('192.0.3.0', ['192.0.2.0/24'])).toBe(false);
    expect(ipAllowed('192.0.1.255', ['192.0.2.0/24'])).toBe(false);
    expect(ipAllowed('2001:db8:ffff::1', ['2001:db8::/32'])).toBe(true);
    expect(ipAllowed('2001:db9::1', ['2001:db8::/32'])).toBe(false);
    // Any range of the list is enough.
    expect(ipAllowed('203.0.113.9', ['192.0.2.0/24', '203.0.113.0/24'])).toBe(true);
  });

  it('an IPv4-mapped IPv6 address or range is compared as IPv4', () => {
    expect(ipAllowed('::ffff:192.0.2.7', ['192.0.2.0/24'])).toBe(true);
    expect(ipAllowed('::ffff:192.0.3.7', ['192.0.2.0/24'])).toBe(false);
    expect(ipAllowed('10.200.1.1', ['::ffff:10.0.0.0/104'])).toBe(true);
    expect(ipAllowed('11.0.0.1', ['::ffff:10.0.0.0/104'])).toBe(false);
  });

  it('an address of the other family, an unparsable address or range never matches (a bad range does not hide a good one)', () => {
    expect(ipAllowed('192.0.2.1', ['2001:db8::/32'])).toBe(false);
    expect(ipAllowed('2001:db8::1', ['0.0.0.0/0'])).toBe(false);
    expect(ipAllowed('nonsense', ['0.0.0.0/0'])).toBe(false);
    expect(ipAllowed('192.0.2.1', ['192.0.2.0/99'])).toBe(false);
    expect(ipAllowed('192.0.2.1', ['bad', '192.0.2.0/24'])).toBe(true);
  });
});

import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Clock } from '@benteng/common';
import type { MembershipRole } from '@benteng/database';
import { MAX_PENDING_INVITATIONS } from '@benteng/members';
import { buildApi, type TestApi } from '../support/api.js';
import { FakeClock } from '../support/clock.js';
import { appPool, ownerPool } from '../support/db.js';
import type { TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { arranged, problemOf, PublicClient, testPassword, type ApiResponse } from '../support/public-api.js';
import { tag } from '../security/support/controls.js';

/**
 * Invitations (issue 14, finding 6): a tenant cannot attach an account without its holder's
 * consent. An owner or admin invites an email; nothing is attached until the person behind it
 * accepts, from their own session (an existing account) or by choosing a password (a new one). The
 * token is 256 random bits, single use, expiring, revocable, stored only as an HMAC, and every
 * refusal of it looks like an unknown token. Every test makes its own tenants.
 */
const INVITATION_KEYS = ['acceptedAt', 'createdAt', 'displayName', 'email', 'expiresAt', 'id', 'revokedAt', 'role', 'status'];
const TOKEN = /^bt_inv_[A-Za-z0-9_-]{43}$/;
const TTL_S = 604_800;

interface Invitation {
  id: string;
  email: string;
  role: MembershipRole;
  displayName: string | null;
  status: 'pending' | 'accepted' | 'revoked' | 'expired';
  createdAt: string;
  expiresAt: string;
  acceptedAt: string | null;
  revokedAt: string | null;
  token?: string | null;
}

describe(tag('MEMBERSHIP-CONSENT', 'invitations: nobody is attached to a tenant without accepting'), () => {
  const owner = ownerPool();
  const app = appPool(1);
  const password = testPassword();
  const clock = new FakeClock();
  let api: TestApi;
  let client: PublicClient;

  beforeAll(async () => {
    api = await buildApi({ overrides: [{ token: Clock, value: clock }] });
    client = new PublicClient(api);
  });
  afterAll(() => api.close());

  const tenantWithLogins = (label: string): Promise<TestTenant> => createTenantWithLogins(owner, label, password);
  const token = async (tenant: TestTenant, role: MembershipRole): Promise<string> => (await client.login(tenant.users[role].email, password)).accessToken;
  const newEmail = (label: string) => `${label}.${randomBytes(5).toString('hex')}@example.test`;

  async function invite(callerToken: string, body: Record<string, unknown>): Promise<Invitation> {
    const res = arranged(await client.call('POST', '/v1/invitations', { token: callerToken, body }), 201, 'invite');
    return res.body as Invitation;
  }
  async function memberEmails(callerToken: string): Promise<string[]> {
    const res = arranged(await client.call('GET', '/v1/members?limit=100', { token: callerToken }), 200, 'list members');
    return (res.body as { items: { email: string }[] }).items.map((m) => m.email);
  }
  async function membershipsOf(tenantId: string, email: string): Promise<number> {
    const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM memberships m JOIN users u ON u.id = m.user_id WHERE m.tenant_id = $1 AND u.email = $2', [tenantId, email]);
    return rows[0]!.n;
  }
  async function auditRows(tenantId: string, type: string) {
    const { rows } = await owner.query('SELECT actor, subject, outcome, data FROM audit_events WHERE tenant_id = $1 AND type = $2 ORDER BY seq', [tenantId, type]);
    return rows;
  }
  async function invitationRow(tenantId: string, id: string) {
    const { rows } = await owner.query('SELECT * FROM invitations WHERE tenant_id = $1 AND id = $2', [tenantId, id]);
    return rows[0] as Record<string, unknown> | undefined;
  }
  /** A problem body without its request id, which is each response's own. */
  const comparable = (res: ApiResponse) => {
    const { requestId: _id, ...rest } = (res.body ?? {}) as Record<string, unknown>;
    return rest;
  };
  const randomToken = () => `bt_inv_${randomBytes(32).toString('base64url')}`;

  describe('nothing is attached before acceptance', () => {
    it("inviting another tenant's user: not a member, not assignable, not in their /v1/me; attached only once they accept", async () => {
      const tenant = await tenantWithLogins('inv-consent');
      const other = await tenantWithLogins('inv-consent-other');
      const ownerToken = await token(tenant, 'owner');
      const victim = other.users.member;

      const res = await client.call('POST', '/v1/invitations', { token: ownerToken, body: { email: victim.email.toUpperCase(), role: 'member', displayName: 'Konsultan' } });
      expect(res.status, `${res.text}`).toBe(201);
      const invitation = res.body as Invitation;
      expect(Object.keys(invitation).sort()).toEqual([...INVITATION_KEYS, 'token'].sort());
      expect(invitation).toMatchObject({ email: victim.email, role: 'member', displayName: 'Konsultan', status: 'pending', acceptedAt: null, revokedAt: null });
      expect(invitation.token).toMatch(TOKEN);
      expect(Date.parse(invitation.expiresAt) - Date.parse(invitation.createdAt)).toBe(TTL_S * 1000);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.headers.location).toBe(`/v1/invitations/${invitation.id}`);
      // Nothing about the account leaks: no user id, no name it gave itself.
      expect(res.text).not.toContain(victim.id);
      expect(res.text).not.toContain(`member ${other.slug}`);

      // Not attached: not listed, no membership row, not assignable, not in the invitee's tenants.
      expect(await memberEmails(ownerToken)).not.toContain(victim.email);
      expect(await membershipsOf(tenant.id, victim.email)).toBe(0);
      const ticket = arranged(await client.call('POST', '/v1/tickets', { token: ownerToken, body: { subject: 'Laptop', body: 'Tolong cek' } }), 201, 'open ticket');
      const ticketId = (ticket.body as { id: string }).id;
      const assign = await client.call('POST', `/v1/tickets/${ticketId}/assign`, { token: ownerToken, body: { memberId: invitation.id } });
      expect(assign.status, `${assign.text}`).toBeGreaterThanOrEqual(400);
      expect(assign.status).toBeLessThan(500);
      const victimToken = await token(other, 'member');
      const meBefore = arranged(await client.call('GET', '/v1/me', { token: victimToken }), 200, 'me');
      expect(meBefore.text).not.toContain(tenant.slug);

      // The invitee consents from their own session (in their own tenant).
      const accepted = await client.call('POST', '/v1/invitations/accept', { token: victimToken, body: { token: invitation.token } });
      expect(accepted.status, `${accepted.text}`).toBe(200);
      expect(accepted.body).toEqual({ tenant: { slug: tenant.slug, name: `Tenant ${tenant.slug}` }, role: 'member', memberId: expect.any(String) });
      const memberId = (accepted.body as { memberId: string }).memberId;
      expect(await memberEmails(ownerToken)).toContain(victim.email);
      const assigned = await client.call('POST', `/v1/tickets/${ticketId}/assign`, { token: ownerToken, body: { memberId } });
      expect(assigned.status, `${assigned.text}`).toBe(200);
      const meAfter = arranged(await client.call('GET', '/v1/me', { token: victimToken }), 200, 'me');
      expect(meAfter.text).toContain(tenant.slug);
      const switched = await client.call('POST', '/v1/auth/switch-tenant', { token: victimToken, body: { tenant: tenant.slug } });
      expect(switched.status, `${switched.text}`).toBe(200);
      expect(switched.body).toMatchObject({ role: 'member', tenantId: tenant.id });

      const get = arranged(await client.call('GET', `/v1/invitations/${invitation.id}`, { token: ownerToken }), 200, 'get invitation');
      expect(get.body).toMatchObject({ status: 'accepted', acceptedAt: expect.any(String) });
      expect(get.text).not.toContain(invitation.token!);
      expect(await auditRows(tenant.id, 'invitation.created')).toEqual([
        { actor: `user:${tenant.users.owner.id}`, subject: `invitation:${invitation.id}`, outcome: 'success', data: { role: 'member', expiresAt: invitation.expiresAt } },
      ]);
      expect(await auditRows(tenant.id, 'invitation.accepted')).toEqual([
        { actor: `user:${victim.id}`, subject: `invitation:${invitation.id}`, outcome: 'success', data: { membershipId: memberId, role: 'member' } },
      ]);
      // Outbox events carry ids and facts: no token, no email.
      const { rows: events } = await owner.query<{ type: string; payload: string }>("SELECT type, payload::text AS payload FROM domain_events WHERE tenant_id = $1 AND type LIKE 'member.%' ORDER BY occurred_at, type", [tenant.id]);
      expect(events.map((e) => e.type).sort()).toEqual(['member.invited', 'member.joined']);
      for (const event of events) {
        expect(event.payload).not.toContain(invitation.token!);
        expect(event.payload).not.toContain(victim.email);
      }
    });

    it('a new account: registering with the token creates the user with its password and the membership, in one step', async () => {
      const tenant = await tenantWithLogins('inv-register');
      const ownerToken = await token(tenant, 'owner');
      const email = newEmail('baru');
      const invitation = await invite(ownerToken, { email, role: 'viewer' });
      expect((await owner.query('SELECT 1 FROM users WHERE email = $1', [email])).rowCount).toBe(0);

      const chosen = testPassword();
      const res = await client.call('POST', '/v1/invitations/register', { body: { token: invitation.token, password: chosen, name: 'Orang Baru' } });
      expect(res.status, `${res.text}`).toBe(201);
      expect(res.body).toEqual({ tenant: { slug: tenant.slug, name: `Tenant ${tenant.slug}` }, role: 'viewer', memberId: expect.any(String) });
      expect(res.headers['cache-control']).toBe('no-store');
      const login = await client.login(email, chosen);
      expect(login).toMatchObject({ tenantId: tenant.id, role: 'viewer' });
      expect((await memberEmails(ownerToken)).filter((e) => e === email)).toHaveLength(1);
      const { rows } = await owner.query<{ actor: string }>("SELECT actor FROM audit_events WHERE tenant_id = $1 AND type = 'invitation.accepted'", [tenant.id]);
      const { rows: users } = await owner.query<{ id: string; display_name: string }>('SELECT id, display_name FROM users WHERE email = $1', [email]);
      expect(users).toEqual([{ id: expect.any(String), display_name: 'Orang Baru' }]);
      expect(rows).toEqual([{ actor: `user:${users[0]!.id}` }]);
    });

    it('refuses registration for an email that already has an account (409 invitation.sign_in_required) and changes nothing', async () => {
      const tenant = await tenantWithLogins('inv-register-existing');
      const other = await tenantWithLogins('inv-register-existing-other');
      const invitation = await invite(await token(tenant, 'owner'), { email: other.users.viewer.email, role: 'admin' });
      const hashBefore = (await owner.query('SELECT password_hash FROM users WHERE id = $1', [other.users.viewer.id])).rows[0];
      const res = await client.call('POST', '/v1/invitations/register', { body: { token: invitation.token, password: testPassword() } });
      expect(problemOf(res)).toEqual({ status: 409, problemJson: true, code: 'invitation.sign_in_required' });
      expect(res.text).not.toContain(other.users.viewer.id);
      expect(res.text).not.toContain(other.slug);
      expect((await owner.query('SELECT password_hash FROM users WHERE id = $1', [other.users.viewer.id])).rows[0]).toEqual(hashBefore);
      expect(await membershipsOf(tenant.id, other.users.viewer.email)).toBe(0);
      expect(await invitationRow(tenant.id, invitation.id)).toMatchObject({ accepted_at: null, revoked_at: null });
      expect(await auditRows(tenant.id, 'invitation.refused')).toEqual([{ actor: 'anonymous', subject: `invitation:${invitation.id}`, outcome: 'denied', data: { reason: 'account_exists' } }]);
      // The account holder can still accept it from their own session.
      const accepted = await client.call('POST', '/v1/invitations/accept', { token: await token(other, 'viewer'), body: { token: invitation.token } });
      expect(accepted.status, `${accepted.text}`).toBe(200);
    });
  });

  describe('the token', () => {
    it("another account's session gets exactly what an unknown token gets (no oracle), audited; the invitee can still accept", async () => {
      const tenant = await tenantWithLogins('inv-other-account');
      const other = await tenantWithLogins('inv-other-account-other');
      const invitation = await invite(await token(tenant, 'owner'), { email: other.users.member.email, role: 'member' });
      const intruderToken = await token(other, 'admin');
      const wrong = await client.call('POST', '/v1/invitations/accept', { token: intruderToken, body: { token: invitation.token } });
      const unknown = await client.call('POST', '/v1/invitations/accept', { token: intruderToken, body: { token: randomToken() } });
      expect(problemOf(wrong)).toEqual({ status: 404, problemJson: true, code: 'invitation.invalid' });
      expect(comparable(wrong)).toEqual(comparable(unknown));
      expect(await membershipsOf(tenant.id, other.users.admin.email)).toBe(0);
      expect(await auditRows(tenant.id, 'invitation.refused')).toEqual([
        { actor: `user:${other.users.admin.id}`, subject: `invitation:${invitation.id}`, outcome: 'denied', data: { reason: 'other_account' } },
      ]);
      const accepted = await client.call('POST', '/v1/invitations/accept', { token: await token(other, 'member'), body: { token: invitation.token } });
      expect(accepted.status, `${accepted.text}`).toBe(200);
    });

    it('is single use: a second acceptance is refused like an unknown token', async () => {
      const tenant = await tenantWithLogins('inv-single-use');
      const invitation = await invite(await token(tenant, 'owner'), { email: newEmail('sekali'), role: 'member' });
      arranged(await client.call('POST', '/v1/invitations/register', { body: { token: invitation.token, password: testPassword() } }), 201, 'register');
      const again = await client.call('POST', '/v1/invitations/register', { body: { token: invitation.token, password: testPassword() } });
      expect(problemOf(again)).toEqual({ status: 404, problemJson: true, code: 'invitation.invalid' });
      expect(await membershipsOf(tenant.id, invitation.email)).toBe(1);
    });

    it('concurrent acceptances of one token make one membership (and one account)', async () => {
      const tenant = await tenantWithLogins('inv-race');
      const other = await tenantWithLogins('inv-race-other');
      const ownerToken = await token(tenant, 'owner');

      const fresh = await invite(ownerToken, { email: newEmail('balapan'), role: 'viewer' });
      const registers = await Promise.all(Array.from({ length: 4 }, () => client.call('POST', '/v1/invitations/register', { body: { token: fresh.token, password: testPassword() } })));
      expect(registers.map((r) => r.status).sort()).toEqual([201, 404, 404, 404]);
      expect(await membershipsOf(tenant.id, fresh.email)).toBe(1);
      expect((await owner.query('SELECT 1 FROM users WHERE email = $1', [fresh.email])).rowCount).toBe(1);

      const existing = await invite(ownerToken, { email: other.users.viewer.email, role: 'viewer' });
      const viewerToken = await token(other, 'viewer');
      const accepts = await Promise.all(Array.from({ length: 4 }, () => client.call('POST', '/v1/invitations/accept', { token: viewerToken, body: { token: existing.token } })));
      expect(accepts.map((r) => r.status).sort()).toEqual([200, 404, 404, 404]);
      expect(await membershipsOf(tenant.id, other.users.viewer.email)).toBe(1);
    });

    it('expires after INVITATION_TTL_S: refused like an unknown token, listed as expired', async () => {
      const tenant = await tenantWithLogins('inv-expiry');
      const ownerToken = await token(tenant, 'owner');
      const invitation = await invite(ownerToken, { email: newEmail('kedaluwarsa'), role: 'member' });
      clock.advance(TTL_S + 1);
      try {
        const res = await client.call('POST', '/v1/invitations/register', { body: { token: invitation.token, password: testPassword() } });
        expect(problemOf(res)).toEqual({ status: 404, problemJson: true, code: 'invitation.invalid' });
        const list = arranged(await client.call('GET', '/v1/invitations', { token: await token(tenant, 'owner') }), 200, 'list');
        expect((list.body as { items: Invitation[] }).items.find((i) => i.id === invitation.id)?.status).toBe('expired');
        expect(await auditRows(tenant.id, 'invitation.refused')).toEqual([{ actor: 'anonymous', subject: `invitation:${invitation.id}`, outcome: 'denied', data: { reason: 'expired' } }]);
      } finally {
        clock.advance(-(TTL_S + 1));
      }
      expect((await owner.query('SELECT 1 FROM users WHERE email = $1', [invitation.email])).rowCount).toBe(0);
    });

    it('is revocable: a revoked invitation is refused like an unknown token; an accepted one cannot be revoked (409)', async () => {
      const tenant = await tenantWithLogins('inv-revoke');
      const other = await tenantWithLogins('inv-revoke-other');
      const adminToken = await token(tenant, 'admin');
      const invitation = await invite(adminToken, { email: other.users.member.email, role: 'viewer' });
      const revoked = await client.call('POST', `/v1/invitations/${invitation.id}/revoke`, { token: adminToken });
      expect(revoked.status, `${revoked.text}`).toBe(200);
      expect(revoked.body).toMatchObject({ id: invitation.id, status: 'revoked', revokedAt: expect.any(String) });
      expect(Object.keys(revoked.body as object).sort()).toEqual(INVITATION_KEYS);
      const again = await client.call('POST', `/v1/invitations/${invitation.id}/revoke`, { token: adminToken });
      expect(again.body).toEqual(revoked.body);
      const accept = await client.call('POST', '/v1/invitations/accept', { token: await token(other, 'member'), body: { token: invitation.token } });
      expect(problemOf(accept)).toEqual({ status: 404, problemJson: true, code: 'invitation.invalid' });
      expect(await membershipsOf(tenant.id, other.users.member.email)).toBe(0);
      expect(await auditRows(tenant.id, 'invitation.revoked')).toEqual([{ actor: `user:${tenant.users.admin.id}`, subject: `invitation:${invitation.id}`, outcome: 'success', data: {} }]);

      const joined = await invite(adminToken, { email: newEmail('jadi'), role: 'viewer' });
      arranged(await client.call('POST', '/v1/invitations/register', { body: { token: joined.token, password: testPassword() } }), 201, 'register');
      expect(problemOf(await client.call('POST', `/v1/invitations/${joined.id}/revoke`, { token: adminToken }))).toEqual({ status: 409, problemJson: true, code: 'invitation.not_pending' });
    });

    it('a new invitation of the same email replaces the pending one, whose token stops working', async () => {
      const tenant = await tenantWithLogins('inv-replace');
      const ownerToken = await token(tenant, 'owner');
      const email = newEmail('ulang');
      const first = await invite(ownerToken, { email, role: 'viewer' });
      const second = await invite(ownerToken, { email, role: 'member' });
      expect(problemOf(await client.call('POST', '/v1/invitations/register', { body: { token: first.token, password: testPassword() } }))).toEqual({ status: 404, problemJson: true, code: 'invitation.invalid' });
      const res = await client.call('POST', '/v1/invitations/register', { body: { token: second.token, password: testPassword() } });
      expect(res.status, `${res.text}`).toBe(201);
      expect(res.body).toMatchObject({ role: 'member' });
      expect(await auditRows(tenant.id, 'invitation.revoked')).toEqual([{ actor: `user:${tenant.users.owner.id}`, subject: `invitation:${first.id}`, outcome: 'success', data: { reason: 'replaced' } }]);
    });

    it('is stored only as an HMAC the runtime role cannot read; an Idempotency-Key replay answers it null', async () => {
      const tenant = await tenantWithLogins('inv-hash');
      const ownerToken = await token(tenant, 'owner');
      const body = { email: newEmail('rahasia'), role: 'viewer' };
      const headers = { authorization: `Bearer ${ownerToken}`, 'idempotency-key': `k-${randomBytes(6).toString('hex')}` };
      const send = () => api.app.getHttpAdapter().getInstance().inject({ method: 'POST', url: '/v1/invitations', headers, payload: body, remoteAddress: client.ip });
      const first = await send();
      expect(first.statusCode, `${first.body}`).toBe(201);
      const created = JSON.parse(first.body) as Invitation;
      expect(created.token).toMatch(TOKEN);
      const replay = await send();
      expect(replay.statusCode).toBe(201);
      expect(replay.headers['idempotent-replayed']).toBe('true');
      expect(JSON.parse(replay.body)).toEqual({ ...created, token: null });

      const row = await invitationRow(tenant.id, created.id);
      expect(row?.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(row)).not.toContain(created.token!);
      const stored = await owner.query<{ t: string }>('SELECT response_body::text AS t FROM idempotency_keys WHERE tenant_id = $1', [tenant.id]);
      expect(stored.rows.map((r) => r.t).join('\n')).not.toContain(created.token!);
      const audit = await owner.query<{ t: string }>('SELECT data::text AS t FROM audit_events WHERE tenant_id = $1', [tenant.id]);
      expect(audit.rows.map((r) => r.t).join('\n')).not.toContain(created.token!);
      await expect(app.query('SELECT token_hash FROM invitations LIMIT 1')).rejects.toMatchObject({ code: '42501' });
      expect(api.logs.raw).not.toContain(created.token!);
    });
  });

  describe('who may invite', () => {
    it('an admin cannot invite an owner (403 invitation.owner_required); an owner can', async () => {
      const tenant = await tenantWithLogins('inv-owner-role');
      const email = newEmail('calon');
      const refused = await client.call('POST', '/v1/invitations', { token: await token(tenant, 'admin'), body: { email, role: 'owner' } });
      expect(problemOf(refused)).toEqual({ status: 403, problemJson: true, code: 'invitation.owner_required' });
      expect((await owner.query('SELECT 1 FROM invitations WHERE tenant_id = $1', [tenant.id])).rowCount).toBe(0);
      const invited = await invite(await token(tenant, 'owner'), { email, role: 'owner' });
      expect(invited).toMatchObject({ role: 'owner', status: 'pending' });
    });

    it.each(['member', 'viewer'] as const)('a %s gets 403 on invite, list, get and revoke, and nothing changes', async (role) => {
      const tenant = await tenantWithLogins(`inv-${role}-403`);
      const made = await invite(await token(tenant, 'owner'), { email: newEmail('x'), role: 'viewer' });
      const callerToken = await token(tenant, role);
      expect(problemOf(await client.call('POST', '/v1/invitations', { token: callerToken, body: { email: newEmail('nope'), role: 'viewer' } }))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect(problemOf(await client.call('GET', '/v1/invitations', { token: callerToken }))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect(problemOf(await client.call('GET', `/v1/invitations/${made.id}`, { token: callerToken }))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect(problemOf(await client.call('POST', `/v1/invitations/${made.id}/revoke`, { token: callerToken }))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
      expect((await owner.query('SELECT count(*)::int AS n FROM invitations WHERE tenant_id = $1 AND revoked_at IS NULL', [tenant.id])).rows[0]).toEqual({ n: 1 });
    });

    it('an existing member cannot be invited (409 invitation.already_member); one who joined meanwhile gets 409 on accept', async () => {
      const tenant = await tenantWithLogins('inv-already');
      const other = await tenantWithLogins('inv-already-other');
      const ownerToken = await token(tenant, 'owner');
      expect(problemOf(await client.call('POST', '/v1/invitations', { token: ownerToken, body: { email: tenant.users.viewer.email.toUpperCase(), role: 'admin' } }))).toEqual({
        status: 409,
        problemJson: true,
        code: 'invitation.already_member',
      });
      const invitation = await invite(ownerToken, { email: other.users.owner.email, role: 'member' });
      // Made a member through the platform path (as the seed does) after the invitation.
      await owner.query("INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, 'viewer')", [tenant.id, randomUUID(), other.users.owner.id]);
      const res = await client.call('POST', '/v1/invitations/accept', { token: await token(other, 'owner'), body: { token: invitation.token } });
      expect(problemOf(res)).toEqual({ status: 409, problemJson: true, code: 'invitation.already_member' });
      expect(await invitationRow(tenant.id, invitation.id)).toMatchObject({ accepted_at: null });
    });

    it(`caps pending invitations per tenant at ${MAX_PENDING_INVITATIONS} (409 invitation.too_many_pending)`, async () => {
      const tenant = await tenantWithLogins('inv-cap');
      await owner.query(
        `INSERT INTO invitations (tenant_id, id, email, role, token_hash, invited_by_id, expires_at)
         SELECT $1, gen_random_uuid(), 'cap.' || n || '@example.test', 'viewer', md5(random()::text) || md5(random()::text), $2, now() + interval '1 day'
           FROM generate_series(1, $3::int) AS n`,
        [tenant.id, tenant.users.owner.id, MAX_PENDING_INVITATIONS],
      );
      const res = await client.call('POST', '/v1/invitations', { token: await token(tenant, 'owner'), body: { email: newEmail('lebih'), role: 'viewer' } });
      expect(problemOf(res)).toEqual({ status: 409, problemJson: true, code: 'invitation.too_many_pending' });
    });
  });

  describe('listing and tenancy', () => {
    it('lists the tenant\u2019s invitations newest first, paged, with their status, and never another tenant\u2019s', async () => {
      const tenant = await tenantWithLogins('inv-list');
      const other = await tenantWithLogins('inv-list-other');
      const ownerToken = await token(tenant, 'owner');
      const made: Invitation[] = [];
      for (let i = 0; i < 3; i++) {
        made.push(await invite(ownerToken, { email: newEmail(`daftar${i}`), role: 'viewer' }));
        clock.advance(1);
      }
      const foreign = await invite(await token(other, 'owner'), { email: newEmail('asing'), role: 'viewer' });
      const first = arranged(await client.call('GET', '/v1/invitations?limit=2', { token: ownerToken }), 200, 'page 1');
      const page1 = first.body as { items: Invitation[]; nextCursor: string | null };
      expect(page1.items.map((i) => i.id)).toEqual([made[2]!.id, made[1]!.id]);
      for (const item of page1.items) expect(Object.keys(item).sort()).toEqual(INVITATION_KEYS);
      const second = arranged(await client.call('GET', `/v1/invitations?limit=2&cursor=${page1.nextCursor}`, { token: ownerToken }), 200, 'page 2');
      expect((second.body as { items: Invitation[] }).items.map((i) => i.id)).toEqual([made[0]!.id]);
      for (const res of [first, second]) {
        expect(res.text).not.toContain(foreign.id);
        expect(res.text).not.toContain(tenant.id);
        expect(res.text).not.toContain(tenant.users.owner.id);
        expect(res.text).not.toContain('token');
      }
      const probe = await client.call('GET', `/v1/invitations/${foreign.id}`, { token: ownerToken });
      const random = await client.call('GET', `/v1/invitations/${randomUUID()}`, { token: ownerToken });
      expect(problemOf(probe)).toEqual({ status: 404, problemJson: true, code: 'invitation.not_found' });
      expect(comparable(probe)).toEqual(comparable(random));
      expect(problemOf(await client.call('POST', `/v1/invitations/${foreign.id}/revoke`, { token: ownerToken }))).toEqual({ status: 404, problemJson: true, code: 'invitation.not_found' });
      expect(await invitationRow(other.id, foreign.id)).toMatchObject({ revoked_at: null });
    });

    it('acceptance routes are rate-limited as auth; creation counts as a write', async () => {
      const tenant = await tenantWithLogins('inv-limits');
      const ownerToken = await token(tenant, 'owner');
      const created = await client.call('POST', '/v1/invitations', { token: ownerToken, body: { email: newEmail('batas'), role: 'viewer' } });
      expect(String(created.headers['ratelimit-policy'])).toContain('"user-write"');
      expect(String(created.headers['ratelimit-policy'])).toContain('"tenant"');
      const accept = await client.call('POST', '/v1/invitations/accept', { token: ownerToken, body: { token: randomToken() } });
      expect(String(accept.headers['ratelimit-policy'])).toContain('"user-auth"');
      const register = await client.call('POST', '/v1/invitations/register', { body: { token: randomToken(), password: testPassword() } });
      expect(problemOf(register)).toEqual({ status: 404, problemJson: true, code: 'invitation.invalid' });
      expect(String(register.headers['ratelimit-policy'])).toContain('"anonymous-auth"');
    });
  });
});

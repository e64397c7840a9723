import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AuditVerifier } from '@benteng/audit';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { waitForExport } from '../support/exports.js';
import type { TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { arranged, problemOf, PublicClient, testPassword, type ApiResponse } from '../support/public-api.js';
import { obliterateQueues, startReadyWorker, uniqueQueuePrefix, type WorkerProcess } from '../support/worker.js';
import { tag } from '../security/support/controls.js';

/**
 * Data subject requests on /v1 (libs/privacy; docs/privacy.md, Data subject requests) with the real
 * worker: an access request becomes a `subject_access` export that holds the subject's data and no
 * one else's; an erasure removes the subject from the tenant (fields erased or pseudonymised,
 * sessions refused at once, files deleted from the storage) while the audit chain still verifies;
 * another tenant's user or request is missing (404); a member cannot ask about anyone else (403);
 * a replayed Idempotency-Key answers the first answer; the tenant's only owner cannot be erased.
 */
interface RequestBody {
  id: string;
  kind: string;
  subjectMemberId: string;
  subjectIsMe: boolean;
  requestedByMe: boolean;
  status: string;
  exportId: string | null;
  result: Record<string, number | boolean>;
}

describe('data subject requests', () => {
  const owner = ownerPool();
  const { db } = tenantDatabase();
  const verifier = new AuditVerifier(db);
  const password = testPassword();
  const prefix = uniqueQueuePrefix('privacy');
  let api: TestApi;
  let client: PublicClient;
  let worker: WorkerProcess;
  let a: TestTenant;
  let b: TestTenant;
  const tokens = new Map<string, string>();

  beforeAll(async () => {
    [api, worker, a, b] = await Promise.all([
      buildApi({ env: { QUEUE_PREFIX: prefix } }),
      startReadyWorker(prefix),
      createTenantWithLogins(owner, 'privacy-a', password),
      createTenantWithLogins(owner, 'privacy-b', password),
    ]);
    client = new PublicClient(api);
  });

  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await obliterateQueues(prefix);
  });

  async function tokenOf(t: TestTenant, role: keyof TestTenant['users']): Promise<string> {
    const key = `${t.id}:${role}`;
    if (!tokens.has(key)) tokens.set(key, (await client.login(t.users[role].email, password)).accessToken);
    return tokens.get(key)!;
  }

  /** The id /v1/members names a member by (what a privacy request names its subject by). */
  async function memberIdOf(t: TestTenant, role: keyof TestTenant['users']): Promise<string> {
    const { rows } = await owner.query<{ id: string }>('SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2', [t.id, t.users[role].id]);
    return rows[0]!.id;
  }

  const ask = async (token: string, body: object, headers: Record<string, string> = {}): Promise<ApiResponse> => {
    const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'POST', url: '/v1/privacy/requests', remoteAddress: client.ip, headers: { authorization: `Bearer ${token}`, ...headers }, payload: body });
    let parsed: unknown;
    try {
      parsed = JSON.parse(res.body);
    } catch {
      parsed = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, body: parsed };
  };

  async function openTicket(t: TestTenant, role: 'member' | 'admin', text: string): Promise<string> {
    const res = arranged(await client.call('POST', '/v1/tickets', { token: await tokenOf(t, role), body: { subject: `Tiket ${text}`, body: `Isi ${text}` } }), 201, 'open ticket');
    return (res.body as { id: string }).id;
  }

  async function upload(token: string, text: string): Promise<string> {
    const boundary = `----privacy${randomBytes(6).toString('hex')}`;
    const payload = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="catatan.txt"\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--${boundary}--\r\n`);
    const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'POST', url: '/v1/documents', remoteAddress: client.ip, headers: { authorization: `Bearer ${token}`, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload });
    if (res.statusCode !== 201) throw new Error(`upload: ${res.statusCode} ${res.body}`);
    return (JSON.parse(res.body) as { id: string }).id;
  }

  async function download(token: string, exportId: string): Promise<string> {
    const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'GET', url: `/v1/exports/${exportId}/content`, remoteAddress: client.ip, headers: { authorization: `Bearer ${token}` } });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^application\/json/);
    return res.body;
  }

  describe('access', () => {
    it("the export holds exactly the subject's data, and not another member's", async () => {
      const mine = `milik-anggota-${randomBytes(4).toString('hex')}`;
      const theirs = `milik-admin-${randomBytes(4).toString('hex')}`;
      const memberTicket = await openTicket(a, 'member', mine);
      await openTicket(a, 'admin', theirs);

      const memberId = await memberIdOf(a, 'member');
      const res = await ask(await tokenOf(a, 'owner'), { kind: 'access', subject: memberId });
      expect(res.status).toBe(202);
      const request = res.body as RequestBody;
      expect(request).toMatchObject({ kind: 'access', subjectMemberId: memberId, subjectIsMe: false, requestedByMe: true, status: 'processing' });
      expect(res.headers.location).toBe(`/v1/privacy/requests/${request.id}`);

      await waitForExport(owner, a.id, request.exportId!, (row) => row.status === 'ready', 20_000);
      const text = await download(await tokenOf(a, 'owner'), request.exportId!);
      const document = JSON.parse(text) as { format: string; subjectUserId: string; user: { email: string }; membership: { role: string }; sessions: { ip: string | null }[]; tickets: { id: string }[]; auditEvents: { actor: string; subject: string | null }[] };
      expect(document.format).toBe('benteng.subject-access.v1');
      expect(document.subjectUserId).toBe(a.users.member.id);
      expect(document.user.email).toBe(a.users.member.email);
      expect(document.membership.role).toBe('member');
      expect(document.sessions.length).toBeGreaterThanOrEqual(1);
      expect(document.tickets.map((t) => t.id)).toEqual([memberTicket]);
      expect(text).toContain(mine);
      // Nothing of the other members: their addresses, their ticket, their audit trail.
      for (const role of ['owner', 'admin', 'viewer'] as const) expect(text).not.toContain(a.users[role].email);
      expect(text).not.toContain(theirs);
      expect(document.auditEvents.length).toBeGreaterThan(0);
      for (const e of document.auditEvents) expect([e.actor, e.subject]).toContain(`user:${a.users.member.id}`);

      // The request shows its status; the worker completed it.
      const got = arranged(await client.call('GET', `/v1/privacy/requests/${request.id}`, { token: await tokenOf(a, 'owner') }), 200, 'get request');
      expect(got.body).toMatchObject({ id: request.id, status: 'completed', exportId: request.exportId });
      // Only the requester downloads it: the subject themselves does not get the owner's export.
      const bySubject = await client.call('GET', `/v1/exports/${request.exportId}/content`, { token: await tokenOf(a, 'member') });
      expect(problemOf(bySubject)).toMatchObject({ status: 404, problemJson: true });
    });

    it('a viewer may ask for their own data and download it', async () => {
      const res = await ask(await tokenOf(a, 'viewer'), { kind: 'access', subject: 'me' });
      expect(res.status).toBe(202);
      const request = res.body as RequestBody;
      expect(request).toMatchObject({ subjectMemberId: await memberIdOf(a, 'viewer'), subjectIsMe: true, requestedByMe: true });
      await waitForExport(owner, a.id, request.exportId!, (row) => row.status === 'ready', 20_000);
      const text = await download(await tokenOf(a, 'viewer'), request.exportId!);
      expect((JSON.parse(text) as { user: { email: string } }).user.email).toBe(a.users.viewer.email);
    });
  });

  describe('who may ask', () => {
    it(tag('AUTHZ-OBJECT', "another tenant's user is not found (404), and so is another tenant's request"), async () => {
      for (const kind of ['access', 'erasure']) {
        const res = await ask(await tokenOf(b, 'owner'), { kind, subject: await memberIdOf(a, 'member') });
        expect(problemOf(res)).toEqual({ status: 404, problemJson: true, code: 'privacy.not_found' });
      }
      const mine = arranged(await ask(await tokenOf(a, 'owner'), { kind: 'access', subject: 'me' }), 202, 'access request');
      const other = await client.call('GET', `/v1/privacy/requests/${(mine.body as RequestBody).id}`, { token: await tokenOf(b, 'owner') });
      expect(problemOf(other)).toEqual({ status: 404, problemJson: true, code: 'privacy.not_found' });
      const list = arranged(await client.call('GET', '/v1/privacy/requests', { token: await tokenOf(b, 'owner') }), 200, 'list');
      expect((list.body as { items: RequestBody[] }).items.map((r) => r.id)).not.toContain((mine.body as RequestBody).id);
      // A user id that exists nowhere is the same answer.
      expect(problemOf(await ask(await tokenOf(a, 'owner'), { kind: 'access', subject: randomUUID() }))).toEqual({ status: 404, problemJson: true, code: 'privacy.not_found' });
    });

    it(tag('AUTHZ-FUNCTION', 'a member cannot erase (or read) another member: 403, and nothing changes'), async () => {
      const res = await ask(await tokenOf(a, 'member'), { kind: 'erasure', subject: await memberIdOf(a, 'viewer') });
      expect(problemOf(res)).toEqual({ status: 403, problemJson: true, code: 'privacy.forbidden' });
      expect(problemOf(await ask(await tokenOf(a, 'member'), { kind: 'access', subject: await memberIdOf(a, 'admin') }))).toMatchObject({ status: 403 });
      const { rows } = await owner.query('SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2', [a.id, a.users.viewer.id]);
      expect(rows).toHaveLength(1);
      const me = await client.call('GET', '/v1/me', { token: await tokenOf(a, 'viewer') });
      expect(me.status).toBe(200);
    });

    it('a member sees only their own requests in the list', async () => {
      const list = arranged(await client.call('GET', '/v1/privacy/requests', { token: await tokenOf(a, 'viewer') }), 200, 'list');
      const items = (list.body as { items: RequestBody[] }).items;
      expect(items.length).toBeGreaterThan(0);
      expect(items.filter((r) => !r.subjectIsMe)).toEqual([]);
    });

    it('the only owner cannot be erased: 409 privacy.last_owner, audited', async () => {
      const res = await ask(await tokenOf(a, 'owner'), { kind: 'erasure', subject: 'me' });
      expect(problemOf(res)).toEqual({ status: 409, problemJson: true, code: 'privacy.last_owner' });
      const { rows } = await owner.query("SELECT outcome FROM audit_events WHERE tenant_id = $1 AND type = 'privacy.erasure_refused'", [a.id]);
      expect(rows).toEqual([{ outcome: 'denied' }]);
    });
  });

  it('a replayed Idempotency-Key answers the first answer and makes one request', async () => {
    const key = `privacy-${randomUUID()}`;
    const token = await tokenOf(a, 'owner');
    const adminId = await memberIdOf(a, 'admin');
    const first = await ask(token, { kind: 'access', subject: adminId }, { 'idempotency-key': key });
    const again = await ask(token, { kind: 'access', subject: adminId }, { 'idempotency-key': key });
    expect(first.status).toBe(202);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    const { rows } = await owner.query("SELECT count(*)::int AS n FROM privacy_requests WHERE tenant_id = $1 AND subject_user_id = $2 AND kind = 'access'", [a.id, a.users.admin.id]);
    expect(rows[0].n).toBe(1);
  });

  describe('erasure', () => {
    it(tag('PRIVACY-ERASURE', "erases the subject's data in the tenant: sessions refused, files deleted, fields pseudonymised, the audit chain still verifies"), async () => {
      const t = await createTenantWithLogins(owner, 'privacy-erase', password);
      const memberToken = (await client.login(t.users.member.email, password)).accessToken;
      const secret = `rahasia-${randomBytes(4).toString('hex')}`;
      const ticket = arranged(await client.call('POST', '/v1/tickets', { token: memberToken, body: { subject: `Tiket ${secret}`, body: `Isi ${secret}` } }), 201, 'open ticket');
      const ticketId = (ticket.body as { id: string }).id;
      arranged(await client.call('POST', `/v1/tickets/${ticketId}/comments`, { token: memberToken, body: { body: `Komentar ${secret}` } }), 201, 'comment');
      const documentId = await upload(memberToken, `Dokumen ${secret}`);
      const { rows: [doc] } = await owner.query('SELECT storage_key FROM documents WHERE tenant_id = $1 AND id = $2', [t.id, documentId]);
      const before = await owner.query('SELECT count(*)::int AS n FROM audit_events WHERE tenant_id = $1 AND actor = $2 AND ip IS NOT NULL', [t.id, `user:${t.users.member.id}`]);
      expect(before.rows[0].n).toBeGreaterThan(0);
      expect(await verifier.verify(t.id)).toMatchObject({ ok: true });

      const ownerToken = (await client.login(t.users.owner.email, password)).accessToken;
      const res = await ask(ownerToken, { kind: 'erasure', subject: await memberIdOf(t, 'member') });
      expect(res.status).toBe(202);
      const request = res.body as RequestBody;
      expect(request).toMatchObject({ kind: 'erasure', status: 'completed' });
      expect(request.result).toMatchObject({ membership: 1, documents: 1, ticketsRedacted: 1, commentsRedacted: 1, accountErased: false });
      expect(request.result.sessions).toBeGreaterThanOrEqual(1);

      // Sessions: the member's access token is refused on the next request.
      expect((await client.call('GET', '/v1/me', { token: memberToken })).status).toBe(401);
      // Membership gone; sessions gone.
      expect((await owner.query('SELECT 1 FROM memberships WHERE tenant_id = $1 AND user_id = $2', [t.id, t.users.member.id])).rows).toEqual([]);
      expect((await owner.query('SELECT 1 FROM sessions WHERE tenant_id = $1 AND user_id = $2', [t.id, t.users.member.id])).rows).toEqual([]);
      // Files: the row and the bytes in the storage.
      expect((await owner.query('SELECT 1 FROM documents WHERE tenant_id = $1 AND id = $2', [t.id, documentId])).rows).toEqual([]);
      expect((await owner.query('SELECT 1 FROM document_contents WHERE tenant_id = $1 AND id = $2', [t.id, doc.storage_key])).rows).toEqual([]);
      // Free text pseudonymised.
      const { rows: [tk] } = await owner.query('SELECT subject, body FROM tickets WHERE tenant_id = $1 AND id = $2', [t.id, ticketId]);
      expect(tk).toEqual({ subject: '[erased]', body: '[erased]' });
      const { rows: comments } = await owner.query('SELECT body FROM ticket_comments WHERE tenant_id = $1 AND ticket_id = $2', [t.id, ticketId]);
      expect(comments).toEqual([{ body: '[erased]' }]);
      // Audit detail gone from every row about the member, and the chain still verifies.
      const { rows: left } = await owner.query(
        `SELECT count(*) FILTER (WHERE ip IS NOT NULL OR data <> '{}'::jsonb OR personal_salt IS NOT NULL)::int AS detailed, count(*)::int AS n
           FROM audit_events WHERE tenant_id = $1 AND actor = $2 AND type <> 'privacy.erasure_completed'`,
        [t.id, `user:${t.users.member.id}`],
      );
      expect(left[0].detailed).toBe(0);
      expect(left[0].n).toBeGreaterThan(0);
      const dump = (await owner.query('SELECT * FROM audit_events WHERE tenant_id = $1', [t.id])).rows;
      expect(JSON.stringify(dump)).not.toContain(secret);
      expect(await verifier.verify(t.id)).toMatchObject({ ok: true });
      // The erasure itself is on record.
      const { rows: done } = await owner.query("SELECT actor, subject FROM audit_events WHERE tenant_id = $1 AND type = 'privacy.erasure_completed'", [t.id]);
      expect(done).toEqual([{ actor: `user:${t.users.owner.id}`, subject: `privacy_request:${request.id}` }]);
      // An owner's request keeps the shared account (the person may belong to other tenants).
      const { rows: [account] } = await owner.query('SELECT email FROM users WHERE id = $1', [t.users.member.id]);
      expect(account.email).toBe(t.users.member.email);
    });

    it(tag('PRIVACY-ERASURE', 'a subject who erases themselves in their only tenant loses the account too, and cannot log in'), async () => {
      const t = await createTenantWithLogins(owner, 'privacy-self', password);
      const token = (await client.login(t.users.viewer.email, password)).accessToken;
      const res = await ask(token, { kind: 'erasure', subject: 'me' });
      expect(res.status).toBe(202);
      expect((res.body as RequestBody).result).toMatchObject({ accountErased: true });
      const { rows: [account] } = await owner.query('SELECT email, display_name, password_hash, status FROM users WHERE id = $1', [t.users.viewer.id]);
      expect(account).toEqual({ email: `erased+${t.users.viewer.id}@erased.invalid`, display_name: 'Erased user', password_hash: null, status: 'locked' });
      const login = await client.call('POST', '/v1/auth/login', { body: { email: t.users.viewer.email, password } });
      expect(login.status).toBe(401);
      expect(await verifier.verify(t.id)).toMatchObject({ ok: true });
    });
  });
});

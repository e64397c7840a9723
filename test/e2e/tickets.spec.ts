import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MembershipRole } from '@benteng/database';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { arranged, problemOf, PublicClient, setPasswords, testPassword, type ApiResponse } from '../support/public-api.js';

/**
 * Tickets on /v1 (libs/tickets). Beyond the tenant, members and viewers see only the tickets they
 * opened or are assigned to; another member's ticket is as missing as one that never existed.
 * Assignment names a membership of the caller's tenant, optimistic concurrency rides on ETag and
 * If-Match, search treats its text literally, and the outbox never carries a ticket's text.
 * Every test makes its own tenants, so they run in any order.
 */
const ROLES: MembershipRole[] = ['owner', 'admin', 'member', 'viewer'];
const TICKET_KEYS = ['assignedToMe', 'assignee', 'body', 'createdAt', 'id', 'openedByMe', 'priority', 'status', 'subject', 'updatedAt', 'version'];
const ASSIGNEE_KEYS = ['displayName', 'memberId'];
const COMMENT_KEYS = ['author', 'body', 'byMe', 'createdAt', 'id'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The four roles of createTenant plus a second member ("peer"), whose tickets the member must not see. */
type Who = MembershipRole | 'peer';

interface Ticket {
  id: string;
  subject: string;
  body: string;
  status: string;
  priority: string;
  openedByMe: boolean;
  assignee: { memberId: string; displayName: string } | null;
  assignedToMe: boolean;
  createdAt: string;
  updatedAt: string;
  version: number;
}

interface Comment {
  id: string;
  body: string;
  author: { displayName: string };
  byMe: boolean;
  createdAt: string;
}

interface World {
  tenant: TestTenant;
  userId: Record<Who, string>;
  token(who: Who): Promise<string>;
}

interface CallOptions {
  token?: string;
  body?: unknown;
  headers?: Record<string, string>;
}

describe('tickets', () => {
  const owner = ownerPool();
  const password = testPassword();
  let api: TestApi;
  let client: PublicClient;

  beforeAll(async () => {
    api = await buildApi();
    client = new PublicClient(api);
  });
  afterAll(() => api.close());

  /** PublicClient.call plus request headers (If-Match, Idempotency-Key), from the same client address. */
  async function call(method: string, url: string, options: CallOptions = {}): Promise<ApiResponse> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`;
    const res = await api.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: method as 'GET', url, remoteAddress: client.ip, headers, ...(options.body !== undefined ? { payload: options.body as object } : {}) });
    let body: unknown;
    try {
      body = res.body.length > 0 ? JSON.parse(res.body) : undefined;
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, body };
  }

  /** A fresh tenant: the four roles plus a second member, all able to log in; tokens on demand, cached. */
  async function world(label: string): Promise<World> {
    const tenant = await createTenant(owner, label);
    const peer = randomUUID();
    await owner.query('INSERT INTO users (id, email, display_name) VALUES ($1, $2, $3)', [peer, `peer.${tenant.slug}@example.test`, `peer ${tenant.slug}`]);
    await insertMembership(tenant.id, peer, 'member');
    const userId = { ...Object.fromEntries(ROLES.map((r) => [r, tenant.users[r].id])), peer } as Record<Who, string>;
    await setPasswords(owner, Object.values(userId), password);
    const emails = { ...Object.fromEntries(ROLES.map((r) => [r, tenant.users[r].email])), peer: `peer.${tenant.slug}@example.test` } as Record<Who, string>;
    const tokens = new Map<Who, string>();
    return {
      tenant,
      userId,
      async token(who) {
        if (!tokens.has(who)) tokens.set(who, (await client.login(emails[who], password)).accessToken);
        return tokens.get(who)!;
      },
    };
  }

  async function insertMembership(tenantId: string, userId: string, role: MembershipRole): Promise<string> {
    const id = randomUUID();
    const db = await owner.connect();
    try {
      await db.query('BEGIN');
      await db.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      await db.query('INSERT INTO memberships (tenant_id, id, user_id, role) VALUES ($1, $2, $3, $4)', [tenantId, id, userId, role]);
      await db.query('COMMIT');
      return id;
    } catch (error) {
      await db.query('ROLLBACK');
      throw error;
    } finally {
      db.release();
    }
  }

  async function membershipId(tenantId: string, userId: string): Promise<string> {
    const { rows } = await owner.query<{ id: string }>('SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId]);
    return rows[0]!.id;
  }

  /** A tenant-local name for a member (what an admin typed when adding them), unlike their global users.display_name. */
  async function nameMember(tenantId: string, userId: string, displayName: string): Promise<void> {
    await owner.query('UPDATE memberships SET display_name = $3 WHERE tenant_id = $1 AND user_id = $2', [tenantId, userId, displayName]);
  }

  /** Opens a ticket through the API; throws unless 201. */
  async function open(w: World, who: Who, body: { subject: string; body?: string; priority?: string }): Promise<Ticket> {
    const res = await call('POST', '/v1/tickets', { token: await w.token(who), body: { body: 'Details of the problem.', ...body } });
    return arranged(res, 201, `open as ${who}`).body as Ticket;
  }

  async function assign(w: World, ticketId: string, memberId: string | null): Promise<Ticket> {
    return arranged(await call('POST', `/v1/tickets/${ticketId}/assign`, { token: await w.token('admin'), body: { memberId } }), 200, 'assign').body as Ticket;
  }

  async function row(tenantId: string, id: string) {
    const { rows } = await owner.query<{ status: string; priority: string; subject: string; assignee_id: string | null; version: number; opened_by_id: string }>(
      'SELECT status, priority, subject, assignee_id, version, opened_by_id FROM tickets WHERE tenant_id = $1 AND id = $2',
      [tenantId, id],
    );
    return rows[0];
  }

  async function ticketCount(tenantId: string): Promise<number> {
    const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM tickets WHERE tenant_id = $1', [tenantId]);
    return rows[0]!.n;
  }

  async function commentCount(tenantId: string, ticketId: string): Promise<number> {
    const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM ticket_comments WHERE tenant_id = $1 AND ticket_id = $2', [tenantId, ticketId]);
    return rows[0]!.n;
  }

  async function events(tenantId: string, ticketId: string) {
    const { rows } = await owner.query<{ type: string; subject_type: string; payload: Record<string, unknown> }>(
      'SELECT type, subject_type, payload FROM domain_events WHERE tenant_id = $1 AND subject_id = $2 ORDER BY occurred_at, id',
      [tenantId, ticketId],
    );
    return rows;
  }

  /** Inserts tickets directly (the platform path), for arrangements that need many. */
  async function insertTickets(tenantId: string, openedById: string, subjects: string[]): Promise<string[]> {
    const ids = subjects.map(() => randomUUID());
    const db = await owner.connect();
    try {
      await db.query('BEGIN');
      await db.query("SELECT set_config('app.tenant_id', $1, true)", [tenantId]);
      for (const [i, subject] of subjects.entries()) {
        await db.query('INSERT INTO tickets (tenant_id, id, subject, body, opened_by_id) VALUES ($1, $2, $3, $4, $5)', [tenantId, ids[i], subject, 'body', openedById]);
      }
      await db.query('COMMIT');
      return ids;
    } catch (error) {
      await db.query('ROLLBACK');
      throw error;
    } finally {
      db.release();
    }
  }

  /** A problem body without its request id (which must be the response's), to compare two refusals. */
  function withoutRequestId(res: ApiResponse): Record<string, unknown> {
    const { requestId, ...rest } = res.body as Record<string, unknown>;
    expect(requestId, 'requestId').toBe(res.headers['x-request-id']);
    return rest;
  }

  /** `probe` is refused exactly as the same call on a random id: 404 ticket.not_found, same body apart from requestId. */
  async function expectSameAsMissing(method: string, path: (id: string) => string, hiddenId: string, options: CallOptions): Promise<void> {
    const probe = await call(method, path(hiddenId), options);
    const random = await call(method, path(randomUUID()), options);
    expect(problemOf(probe), `${method} ${path('…')}: ${probe.text}`).toEqual({ status: 404, problemJson: true, code: 'ticket.not_found' });
    expect(problemOf(random), `${method} random: ${random.text}`).toEqual({ status: 404, problemJson: true, code: 'ticket.not_found' });
    expect(withoutRequestId(probe)).toEqual(withoutRequestId(random));
    expect(probe.headers['content-type']).toBe(random.headers['content-type']);
  }

  const ids = (res: ApiResponse): string[] => (res.body as { items: Ticket[] }).items.map((t) => t.id);
  const unique = () => randomBytes(4).toString('hex');

  describe('opening', () => {
    it('a member opens a ticket: 201 with Location and ETag, and exactly the allowlisted fields', async () => {
      const w = await world('tickets-open');
      const subject = `Printer jammed ${unique()}`;
      const res = await call('POST', '/v1/tickets', { token: await w.token('member'), body: { subject, body: 'Lantai 3, sejak pagi.', priority: 'high' } });
      expect(res.status, `${res.text}`).toBe(201);
      const ticket = res.body as Ticket;
      expect(Object.keys(ticket).sort()).toEqual(TICKET_KEYS);
      expect(ticket).toMatchObject({ subject, body: 'Lantai 3, sejak pagi.', status: 'open', priority: 'high', openedByMe: true, assignee: null, assignedToMe: false, version: 1 });
      expect(ticket.id).toMatch(UUID);
      expect(new Date(ticket.createdAt).toISOString()).toBe(ticket.createdAt);
      expect(res.headers.location).toBe(`/v1/tickets/${ticket.id}`);
      expect(res.headers.etag).toBe('"1"');
      // No tenant id, user id or membership id of anyone.
      expect(res.text).not.toContain(w.tenant.id);
      for (const id of Object.values(w.userId)) expect(res.text).not.toContain(id);
      expect(res.text).not.toContain(await membershipId(w.tenant.id, w.userId.member));

      const fetched = await call('GET', String(res.headers.location), { token: await w.token('member') });
      expect(fetched.status, `${fetched.text}`).toBe(200);
      expect(fetched.body).toEqual(ticket);
      expect(fetched.headers.etag).toBe('"1"');
      expect(await row(w.tenant.id, ticket.id)).toMatchObject({ opened_by_id: w.userId.member, assignee_id: null, version: 1 });
    });

    it('defaults the priority to normal', async () => {
      const w = await world('tickets-open-default');
      expect(await open(w, 'owner', { subject: 'No priority given' })).toMatchObject({ priority: 'normal', status: 'open', openedByMe: true });
    });

    it('rejects mass assignment (status, openedById, tenantId, assigneeId in the body) with 400 and creates nothing', async () => {
      const w = await world('tickets-mass');
      const other = await createTenant(owner, 'tickets-mass-other');
      const memberToken = await w.token('member');
      const fields: Record<string, string> = {
        status: 'closed',
        openedById: w.userId.admin,
        tenantId: other.id,
        assigneeId: await membershipId(w.tenant.id, w.userId.member),
      };
      const all = await call('POST', '/v1/tickets', { token: memberToken, body: { subject: 'Mass', body: 'Mass', ...fields } });
      expect(problemOf(all)).toMatchObject({ status: 400, problemJson: true });
      expect((all.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer).sort()).toEqual(['/assigneeId', '/openedById', '/status', '/tenantId']);
      expect(all.text).not.toContain(other.id);
      for (const [field, value] of Object.entries(fields)) {
        const one = await call('POST', '/v1/tickets', { token: memberToken, body: { subject: 'Mass', body: 'Mass', [field]: value } });
        expect(problemOf(one), `${field}: ${one.text}`).toMatchObject({ status: 400, problemJson: true });
        expect((one.body as { errors: { pointer: string }[] }).errors.map((e) => e.pointer), `${field}`).toEqual([`/${field}`]);
      }
      expect(await ticketCount(w.tenant.id)).toBe(0);
      expect(await ticketCount(other.id)).toBe(0);
    });

    it('a viewer cannot open a ticket (403), and nothing is created', async () => {
      const w = await world('tickets-viewer-open');
      const res = await call('POST', '/v1/tickets', { token: await w.token('viewer'), body: { subject: 'Nope', body: 'Nope' } });
      expect(problemOf(res)).toMatchObject({ status: 403, problemJson: true });
      expect(await ticketCount(w.tenant.id)).toBe(0);
    });
  });

  describe('Idempotency-Key', () => {
    it('on open: the same key and body create one ticket and replay the response; another body is 422', async () => {
      const w = await world('tickets-idem-open');
      const token = await w.token('member');
      const key = `open-${unique()}`;
      const body = { subject: `Idempotent ${unique()}`, body: 'Once only', priority: 'low' };
      const first = await call('POST', '/v1/tickets', { token, body, headers: { 'idempotency-key': key } });
      expect(first.status, `${first.text}`).toBe(201);
      expect(first.headers['idempotent-replayed']).toBeUndefined();
      // Same body, keys in another order: the same request.
      const again = await call('POST', '/v1/tickets', { token, body: { priority: 'low', body: 'Once only', subject: body.subject }, headers: { 'idempotency-key': key } });
      expect(again.status, `${again.text}`).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await ticketCount(w.tenant.id)).toBe(1);
      expect((await events(w.tenant.id, (first.body as Ticket).id)).map((e) => e.type)).toEqual(['ticket.created']);

      const reused = await call('POST', '/v1/tickets', { token, body: { ...body, subject: 'Something else' }, headers: { 'idempotency-key': key } });
      expect(problemOf(reused)).toEqual({ status: 422, problemJson: true, code: 'idempotency.key_reused' });
      expect(reused.text).not.toContain('Something else');
      expect(await ticketCount(w.tenant.id)).toBe(1);

      // Without a key, or with a fresh key, the same body is a new ticket.
      arranged(await call('POST', '/v1/tickets', { token, body, headers: { 'idempotency-key': `open-${unique()}` } }), 201, 'fresh key');
      expect(await ticketCount(w.tenant.id)).toBe(2);
    });

    it('on comments: the same key and body add one comment and replay it; another body is 422', async () => {
      const w = await world('tickets-idem-comment');
      const token = await w.token('member');
      const ticket = await open(w, 'member', { subject: 'Comment me' });
      const key = `comment-${unique()}`;
      const path = `/v1/tickets/${ticket.id}/comments`;
      const first = await call('POST', path, { token, body: { body: 'Sudah dicoba restart.' }, headers: { 'idempotency-key': key } });
      expect(first.status, `${first.text}`).toBe(201);
      const again = await call('POST', path, { token, body: { body: 'Sudah dicoba restart.' }, headers: { 'idempotency-key': key } });
      expect(again.status, `${again.text}`).toBe(201);
      expect(again.headers['idempotent-replayed']).toBe('true');
      expect(again.body).toEqual(first.body);
      expect(await commentCount(w.tenant.id, ticket.id)).toBe(1);

      const reused = await call('POST', path, { token, body: { body: 'Another text' }, headers: { 'idempotency-key': key } });
      expect(problemOf(reused)).toEqual({ status: 422, problemJson: true, code: 'idempotency.key_reused' });
      expect(await commentCount(w.tenant.id, ticket.id)).toBe(1);
      const list = await call('GET', path, { token });
      expect((list.body as { items: Comment[] }).items.map((c) => c.body)).toEqual(['Sudah dicoba restart.']);
    });

    it("keys belong to the caller: another member's identical request with the same key is a request of its own", async () => {
      const w = await world('tickets-idem-principal');
      const key = `shared-${unique()}`;
      const body = { subject: 'Same key, two people', body: 'x' };
      const a = await call('POST', '/v1/tickets', { token: await w.token('member'), body, headers: { 'idempotency-key': key } });
      const b = await call('POST', '/v1/tickets', { token: await w.token('peer'), body, headers: { 'idempotency-key': key } });
      expect([a.status, b.status], `${a.text}\n${b.text}`).toEqual([201, 201]);
      expect(b.headers['idempotent-replayed']).toBeUndefined();
      expect((a.body as Ticket).id).not.toBe((b.body as Ticket).id);
      expect(await ticketCount(w.tenant.id)).toBe(2);
    });
  });

  describe('who sees what', () => {
    it("a member sees only tickets they opened or are assigned to; another member's ticket is 404 exactly like a random id", async () => {
      const w = await world('tickets-scope');
      const tag = unique();
      const mine = await open(w, 'member', { subject: `Mine ${tag}` });
      const hidden = await open(w, 'peer', { subject: `Hidden ${tag}` });
      const assignedToMe = await open(w, 'peer', { subject: `Assigned ${tag}` });
      await assign(w, assignedToMe.id, await membershipId(w.tenant.id, w.userId.member));
      arranged(await call('POST', `/v1/tickets/${hidden.id}/comments`, { token: await w.token('peer'), body: { body: 'Peer only' } }), 201, 'peer comment');
      const token = await w.token('member');

      const list = await call('GET', '/v1/tickets', { token });
      expect(list.status, `${list.text}`).toBe(200);
      expect(ids(list).sort()).toEqual([mine.id, assignedToMe.id].sort());
      expect(list.text).not.toContain(hidden.id);
      const search = await call('GET', `/v1/tickets/search?q=${tag}`, { token });
      expect(search.status, `${search.text}`).toBe(200);
      expect(ids(search).sort()).toEqual([mine.id, assignedToMe.id].sort());
      expect(search.text).not.toContain(hidden.id);
      for (const status of ['open', 'in_progress'] as const) expect(ids(await call('GET', `/v1/tickets?status=${status}&limit=100`, { token }))).not.toContain(hidden.id);

      expect((await call('GET', `/v1/tickets/${assignedToMe.id}`, { token })).body).toMatchObject({ openedByMe: false, assignedToMe: true });
      await expectSameAsMissing('GET', (id) => `/v1/tickets/${id}`, hidden.id, { token });
      await expectSameAsMissing('GET', (id) => `/v1/tickets/${id}/comments`, hidden.id, { token });
      await expectSameAsMissing('POST', (id) => `/v1/tickets/${id}/comments`, hidden.id, { token, body: { body: 'Let me in' } });
      await expectSameAsMissing('PATCH', (id) => `/v1/tickets/${id}`, hidden.id, { token, body: { status: 'closed' } });
      expect(await commentCount(w.tenant.id, hidden.id)).toBe(1);
      // Version 2: the peer's own comment above; nothing the member sent changed it.
      expect(await row(w.tenant.id, hidden.id)).toMatchObject({ status: 'open', version: 2 });
    });

    it.each(['owner', 'admin'] as const)('an %s sees every ticket of the tenant: list, get, search, comments', async (role) => {
      const w = await world(`tickets-${role}-all`);
      const tag = unique();
      const a = await open(w, 'member', { subject: `A ${tag}` });
      const b = await open(w, 'peer', { subject: `B ${tag}` });
      const token = await w.token(role);
      expect(ids(await call('GET', '/v1/tickets', { token })).sort()).toEqual([a.id, b.id].sort());
      expect(ids(await call('GET', `/v1/tickets/search?q=${tag}`, { token })).sort()).toEqual([a.id, b.id].sort());
      for (const t of [a, b]) {
        const got = await call('GET', `/v1/tickets/${t.id}`, { token });
        expect(got.status, `${got.text}`).toBe(200);
        expect(got.body).toMatchObject({ id: t.id, openedByMe: false });
        expect((await call('GET', `/v1/tickets/${t.id}/comments`, { token })).status).toBe(200);
      }
    });

    it('a viewer sees only tickets assigned to them, and gets 403 on open, update, assign and comment', async () => {
      const w = await world('tickets-viewer');
      const assigned = await open(w, 'member', { subject: 'For the viewer' });
      const other = await open(w, 'member', { subject: 'Not for the viewer' });
      await assign(w, assigned.id, await membershipId(w.tenant.id, w.userId.viewer));
      const token = await w.token('viewer');

      expect(ids(await call('GET', '/v1/tickets', { token }))).toEqual([assigned.id]);
      expect((await call('GET', `/v1/tickets/${assigned.id}`, { token })).body).toMatchObject({ assignedToMe: true, openedByMe: false });
      expect((await call('GET', `/v1/tickets/${assigned.id}/comments`, { token })).status).toBe(200);
      await expectSameAsMissing('GET', (id) => `/v1/tickets/${id}`, other.id, { token });

      for (const [method, path, body] of [
        ['POST', '/v1/tickets', { subject: 'x', body: 'x' }],
        ['PATCH', `/v1/tickets/${assigned.id}`, { status: 'closed' }],
        ['POST', `/v1/tickets/${assigned.id}/assign`, { memberId: null }],
        ['POST', `/v1/tickets/${assigned.id}/comments`, { body: 'x' }],
      ] as const) {
        const res = await call(method, path, { token, body, headers: { 'if-match': '"2"' } });
        expect(problemOf(res), `${method} ${path}: ${res.text}`).toMatchObject({ status: 403, problemJson: true });
      }
      expect(await row(w.tenant.id, assigned.id)).toMatchObject({ status: 'open', assignee_id: w.userId.viewer, version: 2 });
      expect(await commentCount(w.tenant.id, assigned.id)).toBe(0);
      expect(await ticketCount(w.tenant.id)).toBe(2);
    });

    it("a cursor naming a hidden ticket answers exactly like one naming a random id", async () => {
      const w = await world('tickets-cursor');
      const older = await open(w, 'member', { subject: 'Older' });
      const hidden = await open(w, 'peer', { subject: 'Hidden' });
      const newer = await open(w, 'member', { subject: 'Newer' });
      const token = await w.token('member');
      // Keyset cursors carry (sort value, id): the page starts after that point whatever the id
      // names, so a hidden row's id reveals nothing. 1 ms after `newer`, no row ties on the value.
      const at = new Date(Date.parse(newer.createdAt) + 1).toISOString();
      const cursorOf = (v: string, id: string) => Buffer.from(JSON.stringify({ v, id })).toString('base64url');
      expect(ids(await call('GET', `/v1/tickets?sort=-createdAt&cursor=${cursorOf(newer.createdAt, newer.id)}`, { token }))).toEqual([older.id]);
      for (const sort of ['-createdAt', 'createdAt'] as const) {
        const probe = await call('GET', `/v1/tickets?sort=${sort}&cursor=${cursorOf(at, hidden.id)}`, { token });
        const random = await call('GET', `/v1/tickets?sort=${sort}&cursor=${cursorOf(at, randomUUID())}`, { token });
        expect([probe.status, random.status], `${sort}`).toEqual([200, 200]);
        expect(probe.body, `${sort}`).toEqual(random.body);
      }
      const forged = await call('GET', `/v1/tickets?cursor=${Buffer.from('{"v":1,"id":"x"}').toString('base64url')}`, { token });
      expect(forged.status).toBe(400);
    });

    it("another tenant's admin gets 404 for this tenant's ticket, exactly like a random id", async () => {
      const w = await world('tickets-xt');
      const other = await world('tickets-xt-other');
      const ticket = await open(w, 'member', { subject: `Cross ${unique()}` });
      const token = await other.token('admin');
      await expectSameAsMissing('GET', (id) => `/v1/tickets/${id}`, ticket.id, { token });
      await expectSameAsMissing('PATCH', (id) => `/v1/tickets/${id}`, ticket.id, { token, body: { status: 'closed' } });
      await expectSameAsMissing('POST', (id) => `/v1/tickets/${id}/assign`, ticket.id, { token, body: { memberId: null } });
      await expectSameAsMissing('POST', (id) => `/v1/tickets/${id}/comments`, ticket.id, { token, body: { body: 'x' } });
      expect(ids(await call('GET', `/v1/tickets/search?q=${ticket.subject.slice(-8)}`, { token }))).toEqual([]);
      expect(await row(w.tenant.id, ticket.id)).toMatchObject({ status: 'open', assignee_id: null, version: 1 });
    });
  });

  describe('updates', () => {
    it('a member updates status and priority of a ticket they opened, and of one assigned to them', async () => {
      const w = await world('tickets-update');
      const token = await w.token('member');
      const own = await open(w, 'member', { subject: 'Own' });
      const res = await call('PATCH', `/v1/tickets/${own.id}`, { token, body: { status: 'in_progress', priority: 'urgent' }, headers: { 'if-match': '"1"' } });
      expect(res.status, `${res.text}`).toBe(200);
      expect(Object.keys(res.body as object).sort()).toEqual(TICKET_KEYS);
      expect(res.body).toMatchObject({ status: 'in_progress', priority: 'urgent', version: 2 });
      expect(res.headers.etag).toBe('"2"');

      const theirs = await open(w, 'peer', { subject: 'Assigned to member' });
      await assign(w, theirs.id, await membershipId(w.tenant.id, w.userId.member));
      const assigned = await call('PATCH', `/v1/tickets/${theirs.id}`, { token, body: { status: 'resolved' } });
      expect(assigned.status, `${assigned.text}`).toBe(200);
      expect(assigned.body).toMatchObject({ status: 'resolved', version: 3, assignedToMe: true });
    });

    it('a member cannot assign, not even their own ticket (403), and nothing changes', async () => {
      const w = await world('tickets-member-assign');
      const own = await open(w, 'member', { subject: 'Own' });
      const res = await call('POST', `/v1/tickets/${own.id}/assign`, { token: await w.token('member'), body: { memberId: await membershipId(w.tenant.id, w.userId.member) } });
      expect(problemOf(res)).toMatchObject({ status: 403, problemJson: true });
      expect(await row(w.tenant.id, own.id)).toMatchObject({ assignee_id: null, version: 1 });
    });

    it('a stale If-Match is 412 ticket.version_mismatch and changes nothing', async () => {
      const w = await world('tickets-stale');
      const token = await w.token('admin');
      const ticket = await open(w, 'member', { subject: 'Stale' });
      arranged(await call('PATCH', `/v1/tickets/${ticket.id}`, { token, body: { priority: 'high' }, headers: { 'if-match': '"1"' } }), 200, 'first update');
      for (const [label, request] of [
        ['update', { method: 'PATCH', path: `/v1/tickets/${ticket.id}`, body: { status: 'closed' } }],
        ['assign', { method: 'POST', path: `/v1/tickets/${ticket.id}/assign`, body: { memberId: null } }],
      ] as const) {
        const res = await call(request.method, request.path, { token, body: request.body, headers: { 'if-match': '"1"' } });
        expect(problemOf(res), `${label}: ${res.text}`).toEqual({ status: 412, problemJson: true, code: 'ticket.version_mismatch' });
      }
      expect(await row(w.tenant.id, ticket.id)).toMatchObject({ status: 'open', priority: 'high', version: 2 });
    });

    it('concurrent updates with the same If-Match: exactly one succeeds, the others are refused', async () => {
      const w = await world('tickets-race');
      const token = await w.token('admin');
      for (let round = 0; round < 3; round++) {
        const ticket = await open(w, 'member', { subject: `Race ${round}` });
        const statuses = ['in_progress', 'resolved', 'closed', 'in_progress'] as const;
        const results = await Promise.all(statuses.map((status) => call('PATCH', `/v1/tickets/${ticket.id}`, { token, body: { status }, headers: { 'if-match': '"1"' } })));
        const winners = results.filter((r) => r.status === 200);
        expect(winners.length, `${results.map((r) => `${r.status} ${r.text}`).join('\n')}`).toBe(1);
        for (const loser of results.filter((r) => r.status !== 200)) {
          expect(problemOf(loser), `${loser.text}`).toEqual({ status: 412, problemJson: true, code: 'ticket.version_mismatch' });
        }
        const final = await row(w.tenant.id, ticket.id);
        expect(final).toMatchObject({ version: 2, status: (winners[0]!.body as Ticket).status });
        expect((await events(w.tenant.id, ticket.id)).filter((e) => e.type === 'ticket.updated')).toHaveLength(1);
      }
    });
  });

  describe('assignment', () => {
    it("an admin assigns by membership id: the assignee appears under the tenant's name and then sees the ticket", async () => {
      const w = await world('tickets-assign');
      const ticket = await open(w, 'peer', { subject: 'Needs an owner' });
      await nameMember(w.tenant.id, w.userId.member, 'Budi (Support)');
      const members = await call('GET', '/v1/members', { token: await w.token('admin') });
      const target = (members.body as { items: { id: string; email: string }[] }).items.find((m) => m.email === w.tenant.users.member.email)!;

      expect(problemOf(await call('GET', `/v1/tickets/${ticket.id}`, { token: await w.token('member') })).status).toBe(404);
      const res = await call('POST', `/v1/tickets/${ticket.id}/assign`, { token: await w.token('admin'), body: { memberId: target.id }, headers: { 'if-match': '"1"' } });
      expect(res.status, `${res.text}`).toBe(200);
      const assigned = res.body as Ticket;
      expect(Object.keys(assigned).sort()).toEqual(TICKET_KEYS);
      expect(Object.keys(assigned.assignee!).sort()).toEqual(ASSIGNEE_KEYS);
      expect(assigned).toMatchObject({ assignee: { memberId: target.id, displayName: 'Budi (Support)' }, assignedToMe: false, version: 2 });
      expect(res.headers.etag).toBe('"2"');
      expect(res.text).not.toContain(w.userId.member);
      expect(res.text).not.toContain(`member ${w.tenant.slug}`);
      expect(await row(w.tenant.id, ticket.id)).toMatchObject({ assignee_id: w.userId.member, version: 2 });

      const seen = await call('GET', `/v1/tickets/${ticket.id}`, { token: await w.token('member') });
      expect(seen.status, `${seen.text}`).toBe(200);
      expect(seen.body).toMatchObject({ assignedToMe: true, openedByMe: false, assignee: { memberId: target.id, displayName: 'Budi (Support)' } });
      expect(ids(await call('GET', '/v1/tickets?assignedToMe=true', { token: await w.token('member') }))).toEqual([ticket.id]);
    });

    it("a membership id of another tenant, a user id or a random id is 400 ticket.assignee_not_member, alike, and nothing changes", async () => {
      const w = await world('tickets-assign-foreign');
      const other = await createTenant(owner, 'tickets-assign-foreign-other');
      const ticket = await open(w, 'member', { subject: 'Keep me' });
      await assign(w, ticket.id, await membershipId(w.tenant.id, w.userId.peer));
      const token = await w.token('admin');
      const refusals: ApiResponse[] = [];
      for (const memberId of [await membershipId(other.id, other.users.member.id), w.userId.member, randomUUID()]) {
        const res = await call('POST', `/v1/tickets/${ticket.id}/assign`, { token, body: { memberId } });
        expect(problemOf(res), `${res.text}`).toEqual({ status: 400, problemJson: true, code: 'ticket.assignee_not_member' });
        refusals.push(res);
      }
      expect(withoutRequestId(refusals[0]!)).toEqual(withoutRequestId(refusals[2]!));
      expect(withoutRequestId(refusals[1]!)).toEqual(withoutRequestId(refusals[2]!));
      expect(await row(w.tenant.id, ticket.id)).toMatchObject({ assignee_id: w.userId.peer, version: 2 });
      expect((await events(w.tenant.id, ticket.id)).map((e) => e.type)).toEqual(['ticket.created', 'ticket.updated']);
    });

    it('null unassigns, and the former assignee no longer sees the ticket', async () => {
      const w = await world('tickets-unassign');
      const ticket = await open(w, 'peer', { subject: 'Back to the pool' });
      await assign(w, ticket.id, await membershipId(w.tenant.id, w.userId.member));
      const res = await call('POST', `/v1/tickets/${ticket.id}/assign`, { token: await w.token('owner'), body: { memberId: null }, headers: { 'if-match': '"2"' } });
      expect(res.status, `${res.text}`).toBe(200);
      expect(res.body).toMatchObject({ assignee: null, assignedToMe: false, version: 3 });
      expect(await row(w.tenant.id, ticket.id)).toMatchObject({ assignee_id: null, version: 3 });
      await expectSameAsMissing('GET', (id) => `/v1/tickets/${id}`, ticket.id, { token: await w.token('member') });
    });

    it("removing the assignee's membership leaves the ticket unassigned, with its version bumped", async () => {
      const w = await world('tickets-remove-assignee');
      const ticket = await open(w, 'peer', { subject: 'Assignee leaves' });
      const assignee = await membershipId(w.tenant.id, w.userId.member);
      const assigned = await assign(w, ticket.id, assignee);
      expect(assigned.version).toBe(2);
      arranged(await call('DELETE', `/v1/members/${assignee}`, { token: await w.token('owner') }), 204, 'remove member');

      expect(await row(w.tenant.id, ticket.id)).toMatchObject({ assignee_id: null, version: 3 });
      const got = await call('GET', `/v1/tickets/${ticket.id}`, { token: await w.token('admin') });
      expect(got.status, `${got.text}`).toBe(200);
      expect(got.body).toMatchObject({ assignee: null, version: 3 });
      expect(got.headers.etag).toBe('"3"');
      // A write based on the pre-removal version is refused.
      const stale = await call('PATCH', `/v1/tickets/${ticket.id}`, { token: await w.token('admin'), body: { status: 'closed' }, headers: { 'if-match': '"2"' } });
      expect(problemOf(stale)).toEqual({ status: 412, problemJson: true, code: 'ticket.version_mismatch' });
    });
  });

  describe('search', () => {
    it('requires 2 to 100 characters', async () => {
      const w = await world('tickets-search-len');
      const token = await w.token('admin');
      for (const q of ['a', 'x'.repeat(101)]) {
        expect(problemOf(await call('GET', `/v1/tickets/search?q=${q}`, { token })), `q of ${q.length}`).toMatchObject({ status: 400, problemJson: true });
      }
      expect(problemOf(await call('GET', '/v1/tickets/search', { token }))).toMatchObject({ status: 400, problemJson: true });
      for (const q of ['ab', 'x'.repeat(100)]) expect((await call('GET', `/v1/tickets/search?q=${q}`, { token })).status, `q of ${q.length}`).toBe(200);
    });

    it('treats % _ and \\ literally and ignores case', async () => {
      const w = await world('tickets-search-literal');
      const token = await w.token('admin');
      const percent = await open(w, 'member', { subject: '100% done' });
      const abc = await open(w, 'member', { subject: 'abc' });
      const snake = await open(w, 'member', { subject: 'snake_case name' });
      const path = await open(w, 'member', { subject: 'C:\\temp\\log' });
      const search = async (q: string) => {
        const res = await call('GET', `/v1/tickets/search?q=${encodeURIComponent(q)}`, { token });
        expect(res.status, `${q}: ${res.text}`).toBe(200);
        return ids(res).sort();
      };
      expect(await search('0%')).toEqual([percent.id]);
      expect(await search('% d')).toEqual([percent.id]);
      expect(await search('DONE')).toEqual([percent.id]);
      expect(await search('AbC')).toEqual([abc.id]);
      expect(await search('e_c')).toEqual([snake.id]);
      expect(await search('\\temp')).toEqual([path.id]);
      // Wildcards would match "abc" (and more); literally, nothing has them.
      for (const q of ['a%c', 'a_c', '%c', '_b', '%%', '__', 'a\\%']) expect(await search(q), `${q}`).toEqual([]);
    });

    it('returns at most 20 results', async () => {
      const w = await world('tickets-search-cap');
      await insertTickets(w.tenant.id, w.userId.member, Array.from({ length: 23 }, (_, i) => `capped ${i}`));
      const res = await call('GET', '/v1/tickets/search?q=capped', { token: await w.token('admin') });
      expect(res.status, `${res.text}`).toBe(200);
      expect(ids(res)).toHaveLength(20);
      expect(new Set(ids(res)).size).toBe(20);
    });
  });

  describe('outbox', () => {
    it('open writes ticket.created; update and assign write ticket.updated naming the changed fields; no subject or body text', async () => {
      const w = await world('tickets-outbox');
      const subject = `Secret subject ${unique()}`;
      const text = `Secret body ${unique()}`;
      const ticket = await open(w, 'member', { subject, body: text, priority: 'high' });
      arranged(await call('PATCH', `/v1/tickets/${ticket.id}`, { token: await w.token('member'), body: { status: 'in_progress', priority: 'urgent' } }), 200, 'update');
      await assign(w, ticket.id, await membershipId(w.tenant.id, w.userId.peer));
      arranged(await call('PATCH', `/v1/tickets/${ticket.id}`, { token: await w.token('admin'), body: { subject: `Renamed ${subject}` } }), 200, 'rename');
      arranged(await call('POST', `/v1/tickets/${ticket.id}/comments`, { token: await w.token('member'), body: { body: `Comment ${text}` } }), 201, 'comment');

      const rows = await events(w.tenant.id, ticket.id);
      expect(rows).toEqual([
        { type: 'ticket.created', subject_type: 'ticket', payload: { id: ticket.id, status: 'open', priority: 'high', assigned: false, changed: [] } },
        { type: 'ticket.updated', subject_type: 'ticket', payload: { id: ticket.id, status: 'in_progress', priority: 'urgent', assigned: false, changed: ['status', 'priority'] } },
        { type: 'ticket.updated', subject_type: 'ticket', payload: { id: ticket.id, status: 'in_progress', priority: 'urgent', assigned: true, changed: ['assignee'] } },
        { type: 'ticket.updated', subject_type: 'ticket', payload: { id: ticket.id, status: 'in_progress', priority: 'urgent', assigned: true, changed: ['subject'] } },
      ]);
      const raw = JSON.stringify(rows);
      expect(raw).not.toContain('Secret');
      for (const id of Object.values(w.userId)) expect(raw).not.toContain(id);
    });
  });

  describe('comments', () => {
    it("a member comments on their ticket: 201, byMe, the author's tenant name; the list is in creation order", async () => {
      const w = await world('tickets-comments');
      const ticket = await open(w, 'member', { subject: 'Discuss' });
      const path = `/v1/tickets/${ticket.id}/comments`;
      const bodies = ['first', 'second', 'third'];
      const created: Comment[] = [];
      for (const [i, body] of bodies.entries()) {
        const who = i === 1 ? 'admin' : 'member';
        const res = await call('POST', path, { token: await w.token(who), body: { body } });
        expect(res.status, `${res.text}`).toBe(201);
        expect(Object.keys(res.body as object).sort()).toEqual(COMMENT_KEYS);
        created.push(res.body as Comment);
      }
      expect(created[0]).toMatchObject({ body: 'first', byMe: true, author: { displayName: `member ${w.tenant.slug}` } });
      expect(Object.keys(created[0]!.author)).toEqual(['displayName']);

      const list = await call('GET', path, { token: await w.token('member') });
      expect(list.status, `${list.text}`).toBe(200);
      const items = (list.body as { items: Comment[] }).items;
      expect(items.map((c) => c.id)).toEqual(created.map((c) => c.id));
      expect(items.map((c) => [c.body, c.byMe])).toEqual([['first', true], ['second', false], ['third', true]]);
      for (const item of items) expect(Object.keys(item).sort()).toEqual(COMMENT_KEYS);
      for (const id of Object.values(w.userId)) expect(list.text).not.toContain(id);
      expect(list.text).not.toContain(w.tenant.id);
      const adminView = (await call('GET', path, { token: await w.token('admin') })).body as { items: Comment[] };
      expect(adminView.items.map((c) => c.byMe)).toEqual([false, true, false]);
    });

    it("a member cannot comment on another member's ticket: 404, and no comment is written", async () => {
      const w = await world('tickets-comments-hidden');
      const hidden = await open(w, 'peer', { subject: 'Private' });
      const res = await call('POST', `/v1/tickets/${hidden.id}/comments`, { token: await w.token('member'), body: { body: 'Sneaky' } });
      expect(problemOf(res)).toEqual({ status: 404, problemJson: true, code: 'ticket.not_found' });
      expect(await commentCount(w.tenant.id, hidden.id)).toBe(0);
    });
  });

  /**
   * Regressions: bugs found while writing this file, now fixed (tenant-local comment author names,
   * idempotency keys per concrete path, replayed Location/ETag, NUL refused at the edge, outbox
   * events for tickets unassigned by a member's removal).
   */
  describe('regressions', () => {
    // Was: comment authors are shown by their global users.display_name (TicketsService.comments
    // and .comment select `author.displayName`), while members and assignees are shown by the
    // tenant's own name (memberships.display_name). A user's global name is whatever the first
    // tenant that added them typed, so it leaks one tenant's naming into another.
    it("comment authors appear under the tenant's name for them, not their global name", async () => {
      const w = await world('tickets-bug-author');
      await nameMember(w.tenant.id, w.userId.member, 'Siti (Finance)');
      const ticket = await open(w, 'member', { subject: 'Named' });
      const res = await call('POST', `/v1/tickets/${ticket.id}/comments`, { token: await w.token('member'), body: { body: 'hi' } });
      expect(res.status, `${res.text}`).toBe(201);
      expect(res.body).toMatchObject({ author: { displayName: 'Siti (Finance)' } });
      const list = await call('GET', `/v1/tickets/${ticket.id}/comments`, { token: await w.token('admin') });
      expect((list.body as { items: Comment[] }).items.map((c) => c.author.displayName)).toEqual(['Siti (Finance)']);
      expect(list.text).not.toContain(`member ${w.tenant.slug}`);
    });

    // Was: IdempotencyInterceptor keys on the route template (`POST /v1/tickets/:id/comments`) and
    // hashes only the body, so the same key and text sent to another ticket replays the first
    // ticket's comment: the second comment is silently never written.
    it('the same key and text on two different tickets is not a replay of the first', async () => {
      const w = await world('tickets-bug-idem-route');
      const token = await w.token('member');
      const a = await open(w, 'member', { subject: 'A' });
      const b = await open(w, 'member', { subject: 'B' });
      const key = `comment-${unique()}`;
      arranged(await call('POST', `/v1/tickets/${a.id}/comments`, { token, body: { body: '+1' }, headers: { 'idempotency-key': key } }), 201, 'comment on A');
      const onB = await call('POST', `/v1/tickets/${b.id}/comments`, { token, body: { body: '+1' }, headers: { 'idempotency-key': key } });
      const outcome = { status: onB.status, replayed: onB.headers['idempotent-replayed'] ?? null, commentsOnA: await commentCount(w.tenant.id, a.id), commentsOnB: await commentCount(w.tenant.id, b.id) };
      // Either a comment on B, or a refusal (422): never A's comment passed off as B's.
      expect([
        { status: 201, replayed: null, commentsOnA: 1, commentsOnB: 1 },
        { status: 422, replayed: null, commentsOnA: 1, commentsOnB: 0 },
      ]).toContainEqual(outcome);
    });

    // Was: a replayed create answers 201 with the stored body only: no Location and no ETag
    // (IdempotencyInterceptor stores status and body, not the headers the handler set), so a
    // client that retried after a lost response cannot find what it created the usual way.
    it('a replayed open carries the same Location and ETag as the original', async () => {
      const w = await world('tickets-bug-replay-headers');
      const token = await w.token('member');
      const key = `open-${unique()}`;
      const body = { subject: 'Retry me', body: 'x' };
      const first = arranged(await call('POST', '/v1/tickets', { token, body, headers: { 'idempotency-key': key } }), 201, 'first');
      const again = await call('POST', '/v1/tickets', { token, body, headers: { 'idempotency-key': key } });
      expect({ status: again.status, replayed: again.headers['idempotent-replayed'], location: again.headers.location, etag: again.headers.etag }).toEqual({
        status: 201,
        replayed: 'true',
        location: first.headers.location,
        etag: first.headers.etag,
      });
    });

    // Was: text with a NUL character reaches PostgreSQL, which cannot store or compare it (invalid
    // byte sequence), and the request fails with 500 and an error log. The DTOs accept any string.
    it('text containing NUL is refused as invalid (400), not a 500', async () => {
      const w = await world('tickets-bug-nul');
      const token = await w.token('member');
      const ticket = await open(w, 'member', { subject: 'Fine' });
      const attempts = {
        search: await call('GET', '/v1/tickets/search?q=ab%00', { token }),
        open: await call('POST', '/v1/tickets', { token, body: { subject: 'a\u0000b', body: 'x' } }),
        update: await call('PATCH', `/v1/tickets/${ticket.id}`, { token, body: { subject: 'a\u0000b' } }),
        comment: await call('POST', `/v1/tickets/${ticket.id}/comments`, { token, body: { body: 'a\u0000b' } }),
      };
      expect(Object.fromEntries(Object.entries(attempts).map(([name, res]) => [name, res.status]))).toEqual({ search: 400, open: 400, update: 400, comment: 400 });
      expect(await ticketCount(w.tenant.id)).toBe(1);
    });

    // Was: the memberships_unassign_tickets trigger changes the ticket (assignee cleared, version
    // bumped) but writes no outbox event, so webhook subscribers keep believing it is assigned.
    it("removing the assignee's membership writes ticket.updated (changed: assignee) like an unassign", async () => {
      const w = await world('tickets-bug-trigger-event');
      const ticket = await open(w, 'peer', { subject: 'Assignee leaves' });
      const assignee = await membershipId(w.tenant.id, w.userId.member);
      await assign(w, ticket.id, assignee);
      arranged(await call('DELETE', `/v1/members/${assignee}`, { token: await w.token('owner') }), 204, 'remove member');
      expect((await events(w.tenant.id, ticket.id)).map((e) => [e.type, e.payload.assigned, e.payload.changed])).toEqual([
        ['ticket.created', false, []],
        ['ticket.updated', true, ['assignee']],
        ['ticket.updated', false, ['assignee']],
      ]);
    });
  });
});

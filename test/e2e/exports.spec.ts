import { createHash, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeJwt } from 'jose';
import { Clock } from '@benteng/common';
import type { MembershipRole } from '@benteng/database';
import { JobQueue } from '@benteng/jobs';
import { buildApi, type TestApi } from '../support/api.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { auditOf, exportRow, insertManyInvoices, insertNamedInvoices, parseCsv, peakRssMiB, waitForExport, workerPid } from '../support/exports.js';
import { insertInvoice, ROLES, type TestTenant } from '../support/factories.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { arranged, problemOf, PublicClient, testPassword, type ApiResponse } from '../support/public-api.js';
import { obliterateQueues, startReadyWorker, uniqueQueuePrefix, type WorkerProcess } from '../support/worker.js';
import { deleteKeys, ready as redisReady, testRedis } from '../support/redis.js';
import { hashTag } from '@benteng/redis';
import { tag } from '../security/support/controls.js';

/**
 * Exports on /v1 (libs/exports) with the real worker process: a request is queued (202), built by
 * the worker in the requester's Scope as CSV (formula cells neutralised) or JSON Lines, and
 * downloaded by the requester only, with the access token or a signed link bound to tenant, export,
 * user and a short expiry. A requester locked or removed before the run gets a failed export, a
 * killed worker's export is finished once by the next worker, expired files are deleted, and
 * another tenant's export is missing on every route.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const FORMULA_NAMES = ['=HYPERLINK("http://evil.test","Klik")', '+1', '-2', '@SUM(A1:A9)', '\tx', '\rx'];
const STATUS_KEYS = ['completedAt', 'createdAt', 'expiresAt', 'format', 'id', 'requestedByMe', 'startedAt', 'status', 'type'];
const OWN_KEYS = [...STATUS_KEYS, 'byteSize', 'errorCode', 'filters', 'rowCount', 'sha256'].sort();
const BULK = 100_000;
const URL_TTL_S = 300;

interface ExportBody {
  id: string;
  type: string;
  format: string;
  status: string;
  requestedByMe: boolean;
  filters?: Record<string, string>;
  rowCount?: number | null;
  byteSize?: number | null;
  sha256?: string | null;
  errorCode?: string | null;
  createdAt: string;
  expiresAt: string | null;
}

/** A response with its raw bytes (downloads) beside the parsed body (errors). */
type Download = ApiResponse & { bytes: Buffer };

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const withoutRequestId = (body: unknown) => ({ ...(body as Record<string, unknown>), requestId: undefined });

describe('exports', () => {
  const owner = ownerPool();
  const password = testPassword();
  const prefix = uniqueQueuePrefix('exports');
  const clock = new FakeClock();
  let api: TestApi;
  let client: PublicClient;
  let worker: WorkerProcess;
  let a: TestTenant;

  beforeAll(async () => {
    [api, worker, a] = await Promise.all([
      buildApi({ env: { QUEUE_PREFIX: prefix, EXPORT_URL_TTL_S: String(URL_TTL_S) }, overrides: [{ token: Clock, value: clock }] }),
      startReadyWorker(prefix),
      tenantWithLogins('exports-a'),
    ]);
    client = new PublicClient(api);
  });

  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await obliterateQueues(prefix);
  });

  const tenantWithLogins = (label: string): Promise<TestTenant> => createTenantWithLogins(owner, label, password);

  const token = async (tenant: TestTenant, role: MembershipRole) => (await client.login(tenant.users[role].email, password)).accessToken;

  async function requestExport(accessToken: string, body: object): Promise<ExportBody> {
    return arranged(await client.call('POST', '/v1/exports', { token: accessToken, body }), 202, 'request export').body as ExportBody;
  }

  /** GET through inject, with the raw bytes (downloads) and the parsed body (errors). */
  async function download(url: string, accessToken?: string): Promise<Download> {
    const res = await api.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'GET', url, remoteAddress: client.ip, headers: accessToken ? { authorization: `Bearer ${accessToken}` } : {} });
    let body: unknown;
    try {
      body = JSON.parse(res.body);
    } catch {
      body = undefined;
    }
    return { status: res.statusCode, headers: res.headers, text: res.body, bytes: res.rawPayload, body };
  }

  async function ready(tenant: TestTenant, id: string, ms = 30_000) {
    return waitForExport(owner, tenant.id, id, (r) => r.status === 'ready', ms);
  }

  async function membershipId(tenant: TestTenant, role: MembershipRole): Promise<string> {
    const { rows } = await owner.query<{ id: string }>('SELECT id FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenant.id, tenant.users[role].id]);
    return rows[0]!.id;
  }

  it(tag('CSV-FORMULA', 'queues a request (202, Location, audited), the worker makes the CSV, and formula cells come back neutralised'), async () => {
    const names = [...FORMULA_NAMES, 'PT "Maju", Tbk'];
    await insertNamedInvoices(owner, a.id, a.users.owner.id, names);
    const ownerToken = await token(a, 'owner');

    const res = await client.call('POST', '/v1/exports', { token: ownerToken, body: { type: 'invoices', format: 'csv' } });
    expect(res.status).toBe(202);
    const created = res.body as ExportBody;
    expect(created).toMatchObject({ type: 'invoices', format: 'csv', status: 'queued', filters: {}, requestedByMe: true, rowCount: null, sha256: null, expiresAt: null });
    expect(created.id).toMatch(UUID);
    expect(Object.keys(created).sort()).toEqual(OWN_KEYS);
    expect(res.headers.location).toBe(`/v1/exports/${created.id}`);
    expect(await auditOf(owner, a.id, { subject: `export:${created.id}` })).toEqual([
      expect.objectContaining({ type: 'export.requested', outcome: 'success', actor: `user:${a.users.owner.id}`, data: { type: 'invoices', format: 'csv' } }),
    ]);

    await ready(a, created.id);
    const status = (await client.call('GET', `/v1/exports/${created.id}`, { token: ownerToken })).body as ExportBody;
    expect(status).toMatchObject({ status: 'ready', rowCount: names.length });
    expect(new Date(status.expiresAt!).getTime()).toBeGreaterThan(Date.now() + 23 * 3600_000);

    const file = await download(`/v1/exports/${created.id}/content`, ownerToken);
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(file.headers['content-disposition']).toBe(`attachment; filename="invoices-${created.id}.csv"; filename*=UTF-8''invoices-${created.id}.csv`);
    expect(file.headers['x-content-type-options']).toBe('nosniff');
    expect(file.headers['cache-control']).toBe('private, no-store');
    expect(Number(file.headers['content-length'])).toBe(file.bytes.length);
    expect({ size: file.bytes.length, sha256: sha256(file.bytes) }).toEqual({ size: status.byteSize, sha256: status.sha256 });

    const [header, ...rows] = parseCsv(file.bytes.toString('utf8'));
    expect(header).toEqual(['id', 'number', 'status', 'currency', 'customerName', 'customerEmail', 'customerTaxId', 'totalMinor', 'dueDate', 'issuedAt', 'createdAt']);
    const customerNames = rows.map((r) => r[4]).sort();
    expect(customerNames).toEqual([...FORMULA_NAMES.map((n) => `'${n}`), 'PT "Maju", Tbk'].sort());
    for (const row of rows) expect(row.length, `${JSON.stringify(row)}`).toBe(header!.length);
    // No cell of the file starts a formula.
    for (const cell of rows.flat()) expect(/^[=+\-@\t\r]/.test(cell), `${JSON.stringify(cell)}`).toBe(false);

    expect((await auditOf(owner, a.id, { subject: `export:${created.id}` })).map((e) => [e.type, e.outcome, e.actor, e.data])).toEqual([
      ['export.requested', 'success', `user:${a.users.owner.id}`, { type: 'invoices', format: 'csv' }],
      ['export.completed', 'success', `user:${a.users.owner.id}`, { rowCount: names.length, byteSize: file.bytes.length }],
      ['export.downloaded', 'success', `user:${a.users.owner.id}`, { via: 'token', byteSize: file.bytes.length }],
    ]);
  });

  it('writes valid JSON Lines in the requester Scope, with the filters applied, and tickets without people', async () => {
    const tenant = await tenantWithLogins('exports-jsonl');
    await insertNamedInvoices(owner, tenant.id, tenant.users.owner.id, ['PT Satu', 'PT "Dua"\nBaris']);
    await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id, status: 'draft' });
    const memberToken = await token(tenant, 'member');
    const ownerToken = await token(tenant, 'owner');

    const invoices = await requestExport(memberToken, { type: 'invoices', format: 'jsonl', filters: { status: 'issued', createdFrom: '2000-01-01' } });
    expect(invoices.filters).toEqual({ status: 'issued', createdFrom: '2000-01-01' });
    await ready(tenant, invoices.id);
    const file = await download(`/v1/exports/${invoices.id}/content`, memberToken);
    expect(file.status).toBe(200);
    expect(file.headers['content-type']).toBe('application/x-ndjson');
    const text = file.bytes.toString('utf8');
    expect(text.endsWith('\n')).toBe(true);
    const records = text
      .slice(0, -1)
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(records.map((r) => r.customerName).sort()).toEqual(['PT "Dua"\nBaris', 'PT Satu']);
    for (const record of records) {
      expect(Object.keys(record).sort()).toEqual(['createdAt', 'currency', 'customerEmail', 'customerName', 'customerTaxId', 'dueDate', 'id', 'issuedAt', 'number', 'status', 'totalMinor']);
      expect(record).toMatchObject({ status: 'issued', customerEmail: 'ap@contoh.test' });
    }

    // Members export only the tickets they may read: the ones they opened, not the owner's.
    const mine = arranged(await client.call('POST', '/v1/tickets', { token: memberToken, body: { subject: '=cmd|/c calc', body: 'printer' } }), 201, 'open ticket').body as { id: string };
    arranged(await client.call('POST', '/v1/tickets', { token: ownerToken, body: { subject: 'Rahasia pemilik', body: 'x' } }), 201, 'open ticket');
    const tickets = await requestExport(memberToken, { type: 'tickets', format: 'csv' });
    await ready(tenant, tickets.id);
    const ticketFile = parseCsv((await download(`/v1/exports/${tickets.id}/content`, memberToken)).bytes.toString('utf8'));
    expect(ticketFile[0]).toEqual(['id', 'subject', 'status', 'priority', 'createdAt', 'updatedAt']);
    expect(ticketFile.slice(1).map((r) => [r[0], r[1]])).toEqual([[mine.id, "'=cmd|/c calc"]]);
    expect(JSON.stringify(ticketFile)).not.toContain(tenant.users.member.id);

    // A date range that holds nothing: a header-only file.
    const empty = await requestExport(memberToken, { type: 'tickets', format: 'csv', filters: { createdTo: '2001-01-01' } });
    expect((await ready(tenant, empty.id)).row_count).toBe(0);
  });

  it('validates requests: viewers may not export, filters must fit the type, bodies are strict', async () => {
    expect(problemOf(await client.call('POST', '/v1/exports', { token: await token(a, 'viewer'), body: { type: 'invoices', format: 'csv' } }))).toEqual({ status: 403, problemJson: true, code: 'access.denied' });
    const member = await token(a, 'member');
    const bad = async (body: object) => problemOf(await client.call('POST', '/v1/exports', { token: member, body }));
    expect(await bad({ type: 'invoices', format: 'csv', filters: { status: 'open' } })).toEqual({ status: 400, problemJson: true, code: 'export.invalid_filters' });
    expect(await bad({ type: 'tickets', format: 'jsonl', filters: { createdFrom: '2026-02-30' } })).toEqual({ status: 400, problemJson: true, code: 'export.invalid_filters' });
    expect(await bad({ type: 'invoices', format: 'csv', filters: { createdFrom: '2026-03-02', createdTo: '2026-03-01' } })).toEqual({ status: 400, problemJson: true, code: 'export.invalid_filters' });
    for (const body of [{ type: 'users', format: 'csv' }, { type: 'invoices', format: 'xlsx' }, { type: 'invoices', format: 'csv', requestedById: a.users.owner.id }, { type: 'invoices', format: 'csv', filters: { tenantId: a.id } }]) {
      expect(await bad(body), `${JSON.stringify(body)}`).toMatchObject({ status: 400, problemJson: true });
    }
  });

  it('replays an Idempotency-Key request without a second export', async () => {
    const ownerToken = await token(a, 'owner');
    const key = `exp-${randomUUID()}`;
    const again = () =>
      api.app
        .getHttpAdapter()
        .getInstance()
        .inject({ method: 'POST', url: '/v1/exports', remoteAddress: client.ip, headers: { authorization: `Bearer ${ownerToken}`, 'idempotency-key': key }, payload: { type: 'tickets', format: 'jsonl' } });
    const first = await again();
    const second = await again();
    expect([first.statusCode, second.statusCode, second.headers['idempotent-replayed']]).toEqual([202, 202, 'true']);
    expect((JSON.parse(second.body) as ExportBody).id).toBe((JSON.parse(first.body) as ExportBody).id);
    expect(second.headers.location).toBe(first.headers.location);
    const { rows } = await owner.query<{ n: number }>('SELECT count(*)::int AS n FROM exports WHERE tenant_id = $1 AND id = $2', [a.id, (JSON.parse(first.body) as ExportBody).id]);
    expect(rows[0]!.n).toBe(1);
  });

  it('lists newest first with keyset pages; others see only their own, owners see every status but download only their own', async () => {
    const tenant = await tenantWithLogins('exports-list');
    const [ownerToken, memberToken, adminToken] = await Promise.all([token(tenant, 'owner'), token(tenant, 'member'), token(tenant, 'admin')]);
    const made: ExportBody[] = [];
    for (let i = 0; i < 3; i++) {
      clock.advance(1);
      made.push(await requestExport(memberToken, { type: 'tickets', format: 'csv' }));
    }
    clock.advance(1);
    const ownersOwn = await requestExport(ownerToken, { type: 'invoices', format: 'jsonl' });
    await Promise.all([...made, ownersOwn].map((e) => ready(tenant, e.id)));

    const page1 = (await client.call('GET', '/v1/exports?limit=2', { token: memberToken })).body as { items: ExportBody[]; nextCursor: string };
    const page2 = (await client.call('GET', `/v1/exports?limit=2&cursor=${page1.nextCursor}`, { token: memberToken })).body as { items: ExportBody[]; nextCursor: string | null };
    expect([...page1.items, ...page2.items].map((e) => e.id)).toEqual(made.map((e) => e.id).reverse());
    expect(page2.nextCursor).toBeNull();

    // The member does not see the owner's export at all.
    expect(problemOf(await client.call('GET', `/v1/exports/${ownersOwn.id}`, { token: memberToken }))).toEqual({ status: 404, problemJson: true, code: 'export.not_found' });
    // Owners and admins see every export, but only the status of others'.
    for (const manager of [ownerToken, adminToken]) {
      const all = (await client.call('GET', '/v1/exports', { token: manager })).body as { items: ExportBody[] };
      expect(all.items.map((e) => e.id).sort()).toEqual([...made, ownersOwn].map((e) => e.id).sort());
      for (const item of all.items) expect(Object.keys(item).sort(), `${item.id}`).toEqual(item.requestedByMe ? OWN_KEYS : STATUS_KEYS);
      expect(problemOf(await download(`/v1/exports/${made[0]!.id}/content`, manager))).toEqual({ status: 403, problemJson: true, code: 'export.forbidden' });
      expect(problemOf(await client.call('POST', `/v1/exports/${made[0]!.id}/download-url`, { token: manager }))).toEqual({ status: 403, problemJson: true, code: 'export.forbidden' });
    }
    expect(JSON.stringify((await client.call('GET', '/v1/exports', { token: ownerToken })).body)).not.toMatch(new RegExp(`${tenant.id}|${tenant.users.member.id}`));
  });

  it(tag('EXPORT-LINK', 'signs download links bound to tenant, export, user and session, for a few minutes, checked against the user now'), async () => {
    const tenant = await tenantWithLogins('exports-link');
    const b = await tenantWithLogins('exports-link-b');
    await insertNamedInvoices(owner, tenant.id, tenant.users.owner.id, ['PT Tautan']);
    const memberToken = await token(tenant, 'member');
    const exp = await requestExport(memberToken, { type: 'invoices', format: 'csv' });
    await ready(tenant, exp.id);
    const viaToken = await download(`/v1/exports/${exp.id}/content`, memberToken);

    const issued = arranged(await client.call('POST', `/v1/exports/${exp.id}/download-url`, { token: memberToken }), 200, 'issue link').body as { url: string; expiresAt: string };
    expect(Object.keys(issued).sort()).toEqual(['expiresAt', 'url']);
    expect(new Date(issued.expiresAt).getTime()).toBe((clock.nowSeconds() + URL_TTL_S) * 1000);
    const url = new URL(issued.url, 'http://api.test');
    expect(url.pathname).toBe(`/v1/exports/${exp.id}/file`);
    expect(url.searchParams.get('tenant')).toBe(tenant.id);
    expect(url.searchParams.get('user')).toBe(tenant.users.member.id);
    expect(url.searchParams.get('session')).toBe(decodeJwt(memberToken).sid);

    // No access token needed; the same bytes and headers as the authenticated route.
    const viaLink = await download(issued.url);
    expect(viaLink.status).toBe(200);
    expect(viaLink.bytes.equals(viaToken.bytes)).toBe(true);
    expect(viaLink.headers['content-disposition']).toBe(viaToken.headers['content-disposition']);
    expect(viaLink.headers['cache-control']).toBe('private, no-store');
    expect((await auditOf(owner, tenant.id, { subject: `export:${exp.id}`, types: ['export.downloaded'] })).map((e) => e.data.via)).toEqual(['token', 'link']);

    // Any part changed: refused, the same way, whatever was changed.
    const other = { tenant: b.id, user: tenant.users.owner.id, export: randomUUID() };
    const tampered = (mutate: (u: URL) => void) => {
      const copy = new URL(url);
      mutate(copy);
      return `${copy.pathname}${copy.search}`;
    };
    const attempts = {
      tenant: tampered((u) => u.searchParams.set('tenant', other.tenant)),
      user: tampered((u) => u.searchParams.set('user', other.user)),
      session: tampered((u) => u.searchParams.set('session', randomUUID())),
      expires: tampered((u) => u.searchParams.set('expires', String(Number(u.searchParams.get('expires')) + 60))),
      sig: tampered((u) => u.searchParams.set('sig', `${u.searchParams.get('sig')!.slice(0, 10)}${u.searchParams.get('sig')![10] === 'A' ? 'B' : 'A'}${u.searchParams.get('sig')!.slice(11)}`)),
      export: tampered((u) => (u.pathname = `/v1/exports/${other.export}/file`)),
    };
    for (const [part, tamperedUrl] of Object.entries(attempts)) {
      expect(problemOf(await download(tamperedUrl)), `${part}`).toEqual({ status: 403, problemJson: true, code: 'export.link_invalid' });
    }
    for (const broken of [tampered((u) => u.searchParams.delete('sig')), tampered((u) => u.searchParams.set('extra', '1')), tampered((u) => u.searchParams.set('user', 'x'))]) {
      expect((await download(broken)).status, `${broken}`).toBe(400);
    }
    // A link never works on another tenant's export, and the other tenant's audit log stays empty of it.
    expect(await auditOf(owner, b.id, { types: ['export.downloaded'] })).toEqual([]);

    // Expired: one second past its lifetime.
    clock.advance(URL_TTL_S);
    expect(problemOf(await download(issued.url))).toEqual({ status: 403, problemJson: true, code: 'export.link_invalid' });

    // A fresh link stops working the moment its user stops being a member; the refusal is audited.
    const fresh = (arranged(await client.call('POST', `/v1/exports/${exp.id}/download-url`, { token: await token(tenant, 'member') }), 200, 'issue link').body as { url: string }).url;
    expect((await download(fresh)).status).toBe(200);
    arranged(await client.call('DELETE', `/v1/members/${await membershipId(tenant, 'member')}`, { token: await token(tenant, 'owner') }), 204, 'remove member');
    expect(problemOf(await download(fresh))).toEqual({ status: 403, problemJson: true, code: 'export.link_invalid' });
    expect((await auditOf(owner, tenant.id, { subject: `export:${exp.id}`, types: ['export.downloaded'] })).map((e) => [e.outcome, e.data])).toEqual([
      ['success', { via: 'token', byteSize: viaToken.bytes.length }],
      ['success', { via: 'link', byteSize: viaToken.bytes.length }],
      ['success', { via: 'link', byteSize: viaToken.bytes.length }],
      ['denied', { via: 'link', reason: 'user_not_active_member' }],
    ]);
  });

  it(tag('EXPORT-LINK', 'a link ends with the session that minted it: logout, logout-all, password change; another session ending leaves it working'), async () => {
    const tenant = await tenantWithLogins('exports-link-session');
    const member = tenant.users.member;
    const login = async () => (await client.login(member.email, password)).accessToken;
    const [first, second] = [await login(), await login()];
    const exp = await requestExport(first, { type: 'invoices', format: 'csv' });
    await ready(tenant, exp.id);
    const link = async (accessToken: string) => (arranged(await client.call('POST', `/v1/exports/${exp.id}/download-url`, { token: accessToken }), 200, 'issue link').body as { url: string }).url;
    const refused = { status: 403, problemJson: true, code: 'export.link_invalid' };
    const [fromFirst, fromSecond] = [await link(first), await link(second)];
    expect((await download(fromFirst)).status).toBe(200);
    expect((await download(fromSecond)).status).toBe(200);

    // The second session logs out: its link ends, the first session's link keeps working.
    arranged(await client.call('POST', '/v1/auth/logout', { token: second }), 204, 'logout');
    expect(problemOf(await download(fromSecond))).toEqual(refused);
    expect((await download(fromFirst)).status).toBe(200);

    // Log out everywhere: every link minted before it ends, within its five minutes.
    arranged(await client.call('POST', '/v1/auth/logout-all', { token: first }), 204, 'logout-all');
    expect(problemOf(await download(fromFirst))).toEqual(refused);

    // A password change ends every other session, and with them their links; the changing session's own link lives on.
    const [third, fourth] = [await login(), await login()];
    const [fromThird, fromFourth] = [await link(third), await link(fourth)];
    arranged(await client.call('POST', '/v1/auth/password', { token: fourth, body: { currentPassword: password, newPassword: testPassword() } }), 204, 'change password');
    expect(problemOf(await download(fromThird))).toEqual(refused);
    expect((await download(fromFourth)).status).toBe(200);

    const linkEvents = (await auditOf(owner, tenant.id, { subject: `export:${exp.id}`, types: ['export.downloaded'] })).filter((e) => e.data.via === 'link');
    expect(linkEvents.map((e) => [e.outcome, e.data.reason ?? null])).toEqual([
      ['success', null],
      ['success', null],
      ['denied', 'session_ended'],
      ['success', null],
      ['denied', 'session_ended'],
      ['denied', 'session_ended'],
      ['success', null],
    ]);
  });

  it('answers 409 until ready; a requester locked or removed before the run gets a failed export (job.rejected + export.failed)', async () => {
    const tenant = await tenantWithLogins('exports-revoked');
    const [memberToken, adminToken, ownerToken] = await Promise.all([token(tenant, 'member'), token(tenant, 'admin'), token(tenant, 'owner')]);
    await worker.stop();
    const locked = await requestExport(memberToken, { type: 'invoices', format: 'csv' });
    const removed = await requestExport(adminToken, { type: 'tickets', format: 'jsonl' });
    const waiting = await requestExport(ownerToken, { type: 'invoices', format: 'csv' });
    expect(problemOf(await download(`/v1/exports/${waiting.id}/content`, ownerToken))).toEqual({ status: 409, problemJson: true, code: 'export.not_ready' });
    expect(problemOf(await client.call('POST', `/v1/exports/${waiting.id}/download-url`, { token: ownerToken }))).toEqual({ status: 409, problemJson: true, code: 'export.not_ready' });

    await owner.query("UPDATE users SET status = 'locked' WHERE id = $1", [tenant.users.member.id]);
    arranged(await client.call('DELETE', `/v1/members/${await membershipId(tenant, 'admin')}`, { token: ownerToken }), 204, 'remove admin');
    worker = await startReadyWorker(prefix);

    const failedLocked = await waitForExport(owner, tenant.id, locked.id, (r) => r.status === 'failed', 30_000);
    const failedRemoved = await waitForExport(owner, tenant.id, removed.id, (r) => r.status === 'failed', 30_000);
    await ready(tenant, waiting.id);
    expect([failedLocked, failedRemoved].map((r) => [r.error_code, r.chunks, r.row_count])).toEqual([
      ['actor_revoked', 0, null],
      ['actor_revoked', 0, null],
    ]);
    for (const [exp, userId, detail] of [
      [locked, tenant.users.member.id, 'user_locked'],
      [removed, tenant.users.admin.id, 'not_a_member'],
    ] as const) {
      const rejected = await auditOf(owner, tenant.id, { subject: `job:${exp.id}` });
      expect(rejected.map((e) => [e.type, e.actor, e.data])).toEqual([['job.rejected', 'system:jobs', { job: 'exports.run', reason: 'actor_revoked', detail, requestedBy: `user:${userId}` }]]);
      expect((await auditOf(owner, tenant.id, { subject: `export:${exp.id}` })).map((e) => [e.type, e.outcome, e.actor, e.data])).toEqual([
        ['export.requested', 'success', `user:${userId}`, { type: exp.type, format: exp.format }],
        ['export.failed', 'failure', 'system:cleanup', { errorCode: 'actor_revoked' }],
      ]);
    }
    const status = (await client.call('GET', `/v1/exports/${removed.id}`, { token: ownerToken })).body as ExportBody;
    expect(status).toMatchObject({ status: 'failed', requestedByMe: false });
  });

  it('deletes expired files (exports.cleanup), after which the file is 410 on both routes', async () => {
    const tenant = await tenantWithLogins('exports-expiry');
    const memberToken = await token(tenant, 'member');
    const exp = await requestExport(memberToken, { type: 'tickets', format: 'csv' });
    await ready(tenant, exp.id);
    const link = (arranged(await client.call('POST', `/v1/exports/${exp.id}/download-url`, { token: memberToken }), 200, 'issue link').body as { url: string }).url;

    // Time is up (for the API's clock and the database's): the file is gone before cleanup runs.
    await owner.query("UPDATE exports SET expires_at = least(now(), $3::timestamptz) - interval '1 minute' WHERE tenant_id = $1 AND id = $2", [tenant.id, exp.id, clock.now()]);
    const gone = { status: 410, problemJson: true, code: 'export.expired' };
    expect(problemOf(await download(`/v1/exports/${exp.id}/content`, memberToken))).toEqual(gone);
    expect(problemOf(await download(link))).toEqual(gone);

    await api.app.get(JobQueue).enqueuePlatformJob('exports.cleanup', {});
    const expired = await waitForExport(owner, tenant.id, exp.id, (r) => r.status === 'expired', 30_000);
    expect(expired.chunks).toBe(0);
    expect((await auditOf(owner, tenant.id, { subject: `export:${exp.id}`, types: ['export.expired'] })).map((e) => [e.actor, e.outcome])).toEqual([['system:cleanup', 'success']]);
    expect(problemOf(await download(`/v1/exports/${exp.id}/content`, memberToken))).toEqual(gone);
    expect(problemOf(await client.call('POST', `/v1/exports/${exp.id}/download-url`, { token: memberToken }))).toEqual(gone);
    expect(((await client.call('GET', `/v1/exports/${exp.id}`, { token: memberToken })).body as ExportBody).status).toBe('expired');
  });

  it("answers another tenant's export id exactly like a random one, on every route", async () => {
    const b = await tenantWithLogins('exports-b');
    const aToken = await token(a, 'member');
    const exp = await requestExport(aToken, { type: 'tickets', format: 'csv' });
    await ready(a, exp.id);
    const before = await exportRow(owner, a.id, exp.id);
    for (const role of ROLES) {
      const bToken = await token(b, role);
      for (const [method, path] of [
        ['GET', ''],
        ['GET', '/content'],
        ['POST', '/download-url'],
      ] as const) {
        const call = (id: string) => (method === 'GET' ? download(`/v1/exports/${id}${path}`, bToken).then((r) => ({ status: r.status, body: r.body })) : client.call(method, `/v1/exports/${id}${path}`, { token: bToken }));
        const theirs = await call(exp.id);
        const random = await call(randomUUID());
        expect([theirs.status, withoutRequestId(theirs.body)], `${role} ${method} ${path}`).toEqual([random.status, withoutRequestId(random.body)]);
        expect([404, 403], `${role} ${method} ${path}`).toContain(theirs.status);
      }
      const list = (await client.call('GET', '/v1/exports', { token: bToken })).body as { items: ExportBody[] } | undefined;
      expect(JSON.stringify(list ?? {}), `${role}`).not.toContain(exp.id);
    }
    expect(await exportRow(owner, a.id, exp.id)).toEqual(before);
    expect(await auditOf(owner, b.id, { subject: `export:${exp.id}` })).toEqual([]);
  });

  it(`exports ${BULK} invoices in flat memory, and a worker killed mid-file leaves it to the next, which finishes it exactly once`, { timeout: 300_000 }, async () => {
    const tenant = await tenantWithLogins('exports-bulk');
    await insertManyInvoices(owner, tenant.id, tenant.users.owner.id, BULK);
    const ownerToken = await token(tenant, 'owner');

    const pid = workerPid(prefix);
    const rssBefore = peakRssMiB(pid);
    const started = Date.now();
    const bulk = await requestExport(ownerToken, { type: 'invoices', format: 'csv' });
    const done = await ready(tenant, bulk.id, 180_000);
    const rssAfter = peakRssMiB(pid);
    console.log(`exports: ${BULK} invoices -> ${done.byte_size} bytes in ${done.chunks} chunks, ${Date.now() - started} ms; worker peak RSS (VmHWM) ${rssBefore} MiB before, ${rssAfter} MiB after`);
    expect(done.row_count).toBe(BULK);
    const file = await download(`/v1/exports/${bulk.id}/content`, ownerToken);
    expect({ size: file.bytes.length, sha256: sha256(file.bytes) }).toEqual({ size: Number(done.byte_size), sha256: done.sha256 });
    expect(file.bytes.toString('utf8').split('\r\n').length).toBe(BULK + 2);

    // The same export again, killed once some of its file is written.
    const killed = await requestExport(ownerToken, { type: 'invoices', format: 'jsonl' });
    const midway = await waitForExport(owner, tenant.id, killed.id, (r) => r.status === 'running' && r.chunks > 0, 60_000, 10);
    worker.kill('SIGKILL');
    await worker.exit;
    const afterKill = await exportRow(owner, tenant.id, killed.id);
    expect(afterKill).toMatchObject({ status: 'running', version: midway.version });
    // BullMQ hands the job to another worker once its lock lapses (60 s) and a stalled check sees
    // it. Deleting the dead worker's lock stands in for waiting out the 60 s.
    // Also on a Redis Cluster (`npm run test:scale`): a Cluster client, the prefix hash-tagged.
    const redis = testRedis('exports-spec');
    try {
      await redisReady(redis);
      const keyPrefix = process.env.REDIS_CLUSTER_NODES ? hashTag(prefix) : prefix;
      expect(await deleteKeys(redis, [`${keyPrefix}:jobs:${killed.id}:lock`])).toBe(1);
    } finally {
      redis.disconnect();
    }
    worker = await startReadyWorker(prefix);
    const finished = await waitForExport(owner, tenant.id, killed.id, (r) => r.status === 'ready', 150_000, 250);
    expect(finished.row_count).toBe(BULK);
    expect(finished.version).toBeGreaterThan(midway.version);
    const { rows: seqs } = await owner.query<{ seq: number }>('SELECT seq FROM export_chunks WHERE tenant_id = $1 AND export_id = $2 ORDER BY seq', [tenant.id, killed.id]);
    expect(seqs.map((r) => r.seq)).toEqual([...Array(finished.chunks).keys()]);
    const jsonl = await download(`/v1/exports/${killed.id}/content`, ownerToken);
    expect({ size: jsonl.bytes.length, sha256: sha256(jsonl.bytes) }).toEqual({ size: Number(finished.byte_size), sha256: finished.sha256 });
    const lines = jsonl.bytes.toString('utf8').split('\n');
    expect(lines.pop()).toBe('');
    expect(new Set(lines.map((l) => (JSON.parse(l) as { id: string }).id)).size).toBe(BULK);
    expect((await auditOf(owner, tenant.id, { subject: `export:${killed.id}`, types: ['export.completed'] })).length).toBe(1);
  });
});

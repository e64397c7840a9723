import { randomBytes, randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';
import { buildInternalApi, type TestApi } from '../support/api.js';
import { buildAuthApi, PROBLEM_JSON } from '../support/auth-client.js';
import { findChromium, renderPage } from '../support/chromium.js';
import { ownerPool } from '../support/db.js';

/**
 * Bull Board at /internal/queues (internal listener only): a signed, audited platform-admin request
 * mints a one-time ticket; the ticket opens the board once and sets a session cookie scoped to
 * /internal/queues; everything under /internal/queues needs that cookie.
 */
describe('internal queue board', () => {
  const owner = ownerPool();
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const operators = { admin: randomUUID(), support: randomUUID() };
  let internal: TestApi;
  let pub: TestApi;

  beforeAll(async () => {
    const insert = (id: string, roles: string[]) =>
      owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, $3, $4, 'active')`, [id, `op-${id}@benteng.example`, 'Queue board test operator', roles]);
    await insert(operators.admin, ['platform-admin']);
    await insert(operators.support, ['support']);
    internal = await buildInternalApi();
    pub = await buildAuthApi();
  });

  afterAll(async () => {
    await internal?.close();
    await pub?.close();
  });

  const server = () => internal.app.getHttpServer();

  function createSession(operatorId: string, reason: string | null): request.Test {
    const path = '/internal/v1/queues/session';
    const headers = signServiceRequest({ method: 'POST', url: path, keyId: dev.kid, secret: dev.secret, operatorId, ...(reason === null ? {} : { reason }) });
    let test = request(server()).post(path);
    for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
    return test;
  }

  async function ticketUrl(): Promise<string> {
    const res = await createSession(operators.admin, 'ticket 91: stuck webhook jobs');
    expect(res.status, `${res.text}`).toBe(201);
    return (res.body as { url: string }).url;
  }

  async function openBoard(): Promise<string> {
    const res = await request(server()).get(await ticketUrl());
    expect(res.status, `${res.text}`).toBe(200);
    const cookie = ([] as string[]).concat(res.headers['set-cookie'] ?? [])[0]!;
    return cookie.split(';')[0]!;
  }

  it('refuses every board request without a session cookie (401 problem+json)', async () => {
    for (const path of ['/internal/queues/', '/internal/queues/api/queues']) {
      const res = await request(server()).get(path);
      expect(res.status, `${path}`).toBe(401);
      expect(res.headers['content-type']).toMatch(PROBLEM_JSON);
    }
    const bogus = await request(server()).get('/internal/queues/api/queues').set('cookie', `benteng_queues=${randomBytes(32).toString('base64url')}`);
    expect(bogus.status).toBe(401);
  });

  it('mints a one-time ticket for a platform-admin (signed, audited with the reason)', async () => {
    const res = await createSession(operators.admin, 'ticket 90: queue backlog');
    expect(res.status, `${res.text}`).toBe(201);
    const body = res.body as { url: string; expiresAt: string };
    expect(body.url).toMatch(/^\/internal\/queues\/\?ticket=[A-Za-z0-9_-]{43}$/);
    const ttl = Date.parse(body.expiresAt) - Date.now();
    expect(ttl).toBeGreaterThan(50_000);
    expect(ttl).toBeLessThanOrEqual(61_000);
    const { rows } = await owner.query(`SELECT type, actor, subject, reason FROM platform_audit_events WHERE request_id = $1`, [res.headers['x-request-id']]);
    expect(rows).toEqual([{ type: 'internal.queue_board_ticket', actor: `operator:${operators.admin}`, subject: '/internal/queues', reason: 'ticket 90: queue backlog' }]);
  });

  it('opens the board once with the ticket and sets a strict session cookie; the ticket is then spent', async () => {
    const url = await ticketUrl();
    const first = await request(server()).get(url);
    expect(first.status, `${first.text}`).toBe(200);
    expect(first.headers['content-type']).toMatch(/^text\/html/);
    const cookie = ([] as string[]).concat(first.headers['set-cookie'] ?? [])[0]!;
    expect(cookie).toMatch(/^benteng_queues=[A-Za-z0-9_-]{43}; Path=\/internal\/queues; Max-Age=900; HttpOnly; SameSite=Strict$/);
    const again = await request(server()).get(url);
    expect(again.status).toBe(401);
    expect(again.headers['set-cookie']).toBeUndefined();
    // The request log keeps the path, never the ticket or the session id.
    const ticket = new URL(url, 'http://x').searchParams.get('ticket')!;
    expect(internal.logs.raw).toContain('/internal/queues/');
    expect(internal.logs.raw).not.toContain(ticket);
    expect(internal.logs.raw).not.toContain(cookie.split(';')[0]!.split('=')[1]!);
  });

  it('refuses an unknown or malformed ticket (401)', async () => {
    for (const ticket of [randomBytes(32).toString('base64url'), 'short', '']) {
      const res = await request(server()).get(`/internal/queues/?ticket=${ticket}`);
      expect(res.status, `${ticket}`).toBe(401);
      expect(res.headers['set-cookie']).toBeUndefined();
    }
  });

  it('with the cookie, lists the jobs and platform queues (read-only)', async () => {
    const cookie = await openBoard();
    const res = await request(server()).get('/internal/queues/api/queues').set('cookie', cookie);
    expect(res.status, `${res.text}`).toBe(200);
    const queues = (res.body as { queues: { name: string; readOnlyMode: boolean }[] }).queues;
    expect(queues.map((q) => q.name).sort()).toEqual(['jobs', 'platform']);
    expect(queues.every((q) => q.readOnlyMode)).toBe(true);
    // the page itself too
    expect((await request(server()).get('/internal/queues/').set('cookie', cookie)).status).toBe(200);
  });

  it('refuses a state-changing board call without a JSON content type (CSRF), and audits one with it', async () => {
    const cookie = await openBoard();
    const form = await request(server()).put('/internal/queues/api/queues/jobs/retry/failed').set('cookie', cookie).set('content-type', 'application/x-www-form-urlencoded').send('a=b');
    expect(form.status).toBe(403);
    const json = await request(server()).put('/internal/queues/api/queues/jobs/retry/failed').set('cookie', cookie).set('content-type', 'application/json').send('{}');
    expect(json.status, `${json.text}`).toBeGreaterThanOrEqual(400); // read-only adapters refuse it
    await new Promise((resolve) => setTimeout(resolve, 200));
    const { rows } = await owner.query(`SELECT type, actor, subject, outcome FROM platform_audit_events WHERE request_id = $1`, [json.headers['x-request-id']]);
    expect(rows).toEqual([{ type: 'internal.queue_board_action', actor: `operator:${operators.admin}`, subject: 'PUT /internal/queues/api/queues/jobs/retry/failed', outcome: 'failure' }]);
  });

  it('stops admitting a session once its operator is disabled', async () => {
    const id = randomUUID();
    await owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, 'Disabled later', $3, 'active')`, [id, `op-${id}@benteng.example`, ['platform-admin']]);
    const res = await createSession(id, 'ticket 92: checking');
    expect(res.status, `${res.text}`).toBe(201);
    const opened = await request(server()).get((res.body as { url: string }).url);
    expect(opened.status).toBe(200);
    const cookie = ([] as string[]).concat(opened.headers['set-cookie'] ?? [])[0]!.split(';')[0]!;
    await owner.query(`UPDATE operators SET status = 'disabled' WHERE id = $1`, [id]);
    expect((await request(server()).get('/internal/queues/api/queues').set('cookie', cookie)).status).toBe(401);
  });

  it('refuses a support operator (403) and a request without a reason (400)', async () => {
    expect((await createSession(operators.support, 'ticket 93: curious')).status).toBe(403);
    const noReason = await createSession(operators.admin, null);
    expect(noReason.status).toBe(400);
  });

  // Bull Board is a browser application: the HTML above is only its shell. Headless Chromium opens
  // the ticket link on a real listener and must see the queue list rendered by its scripts, under
  // the board's own Content-Security-Policy, with nothing the policy refused except the web font
  // the page asks a third-party host for (this machine has no internet and the policy allows none).
  it.skipIf(!findChromium())('renders in headless Chromium: the queue list, with no script, style or request refused by its CSP', async () => {
    const listener = await buildInternalApi();
    try {
      await listener.app.listen(0, '127.0.0.1');
      const { port } = listener.app.getHttpServer().address() as { port: number };
      const { dom, console } = await renderPage(findChromium()!, `http://127.0.0.1:${port}${await ticketUrl()}`);
      expect(dom).not.toContain('>\n    Loading');
      expect(dom).toContain('Benteng queues');
      for (const queue of ['jobs', 'platform']) expect(dom).toMatch(new RegExp(`>${queue}<`));
      const refused = console.split('\n').filter((line) => /Refused to/.test(line) && !/fonts\.googleapis\.com/.test(line));
      expect(refused).toEqual([]);
    } finally {
      await listener.close();
    }
  }, 90_000);

  it('is absent from the public listener (404)', async () => {
    for (const path of ['/internal/queues', '/internal/queues/', '/internal/queues/api/queues']) {
      expect((await request(pub.app.getHttpServer()).get(path)).status, `${path}`).toBe(404);
    }
  });
});

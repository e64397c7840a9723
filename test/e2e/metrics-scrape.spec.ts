import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { projectRoot } from '@benteng/database';
import { signServiceRequest } from '@benteng/security';
import { listRoutes } from '../../apps/api/src/http/route-catalog.js';
import { buildInternalApi, type TestApi } from '../support/api.js';
import { appPool, ownerPool } from '../support/db.js';
import { freePort } from '../support/net.js';

/**
 * Prometheus scrape credentials (issue 17, item 8): a stock Prometheus scrapes GET /internal/metrics
 * with a bearer credential instead of a signed request. The credential is created by a
 * platform-admin (shown once, stored only as an HMAC the runtime role cannot read), opens that one
 * route and no other (a matrix over every internal route), and stops on the next scrape once revoked
 * or expired. A real Prometheus from the Debian package runs examples/prometheus/prometheus.yml
 * against the listener; promtool checks the exposition.
 */
const run = promisify(execFile);
const PROMETHEUS = '/usr/bin/prometheus';
const PROMTOOL = '/usr/bin/promtool';
const prometheusPresent = existsSync(PROMETHEUS) && existsSync(PROMTOOL);
// .ci/run installs it, so CI always runs the Prometheus test; elsewhere it is skipped, saying so, when absent.
if (!prometheusPresent) console.warn('[metrics-scrape] Prometheus test skipped: no /usr/bin/prometheus and /usr/bin/promtool (Debian package prometheus); .ci/run installs it.');

describe('metrics scrape credentials', () => {
  const owner = ownerPool();
  const runtime = appPool(1);
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const operators = { admin: randomUUID(), support: randomUUID() };
  let internal: TestApi;

  beforeAll(async () => {
    const insert = (id: string, roles: string[]) =>
      owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, $3, $4, 'active')`, [id, `op-${id}@benteng.example`, 'Scrape test operator', roles]);
    await insert(operators.admin, ['platform-admin']);
    await insert(operators.support, ['support']);
    internal = await buildInternalApi();
  });

  afterAll(async () => {
    await internal?.close();
  });

  function signed(method: 'GET' | 'POST', path: string, operatorId: string, body?: object): request.Test {
    const text = body === undefined ? undefined : JSON.stringify(body);
    const headers = signServiceRequest({ method, url: path, keyId: dev.kid, secret: dev.secret, operatorId, ...(method === 'POST' ? { reason: 'scrape credential test' } : {}), ...(text ? { body: text } : {}) });
    let test = method === 'GET' ? request(internal.app.getHttpServer()).get(path) : request(internal.app.getHttpServer()).post(path);
    for (const [name, value] of Object.entries(headers)) test = test.set(name, value);
    if (text !== undefined) test = test.set('content-type', 'application/json').send(text);
    return test;
  }

  const scrape = (token: string) => request(internal.app.getHttpServer()).get('/internal/metrics').set('authorization', `Bearer ${token}`);

  async function created(name: string, expiresAt?: string): Promise<{ id: string; token: string; prefix: string }> {
    const res = await signed('POST', '/internal/v1/metrics/credentials', operators.admin, { name, ...(expiresAt ? { expiresAt } : {}) });
    expect(res.status, `${res.text}`).toBe(201);
    return res.body as { id: string; token: string; prefix: string };
  }

  it('a platform-admin creates one, shown once; it is stored only as an HMAC the runtime role cannot read', async () => {
    const res = await signed('POST', '/internal/v1/metrics/credentials', operators.admin, { name: 'prometheus-test' });
    expect(res.status, `${res.text}`).toBe(201);
    const body = res.body as Record<string, unknown>;
    expect(Object.keys(body).sort()).toEqual(['active', 'createdAt', 'createdBy', 'expiresAt', 'id', 'lastUsedAt', 'name', 'prefix', 'revokedAt', 'token']);
    expect(body.token).toMatch(/^bt_ms_[a-z2-7]{12}_[A-Za-z0-9_-]{43}$/);
    expect(body).toMatchObject({ name: 'prometheus-test', active: true, createdBy: operators.admin, revokedAt: null });

    const { rows } = await owner.query<Record<string, unknown>>('SELECT * FROM metrics_scrape_credentials WHERE id = $1', [body.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.secret_hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(rows[0])).not.toContain(String(body.token).slice(19));
    await expect(runtime.query('SELECT secret_hash FROM metrics_scrape_credentials')).rejects.toThrow(/permission denied/);

    const list = await signed('GET', '/internal/v1/metrics/credentials', operators.admin);
    expect(list.status).toBe(200);
    const listed = (list.body as { items: Record<string, unknown>[] }).items.find((c) => c.id === body.id)!;
    expect(listed).toMatchObject({ name: 'prometheus-test', prefix: body.prefix, active: true });
    expect(JSON.stringify(list.body)).not.toContain('bt_ms_');

    const audit = await owner.query(`SELECT actor, reason FROM platform_audit_events WHERE type = 'internal.metrics_credential_created' AND subject = $1`, [`metrics_credential:${String(body.id)}`]);
    expect(audit.rows).toEqual([{ actor: `operator:${operators.admin}`, reason: 'scrape credential test' }]);
  });

  it('only platform-admins manage them: support gets 403 on create, list and revoke', async () => {
    const { id } = await created('support-cannot-see');
    expect((await signed('POST', '/internal/v1/metrics/credentials', operators.support, { name: 'x' })).status).toBe(403);
    expect((await signed('GET', '/internal/v1/metrics/credentials', operators.support)).status).toBe(403);
    expect((await signed('POST', `/internal/v1/metrics/credentials/${id}/revoke`, operators.support)).status).toBe(403);
  });

  it('scrapes /internal/metrics as Prometheus text, and opens no other internal route', async () => {
    const { token } = await created('matrix');
    const ok = await scrape(token);
    expect(ok.status, `${ok.text}`).toBe(200);
    expect(ok.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(ok.text).toContain('# TYPE benteng_http_requests_total counter');

    const others = listRoutes(internal.app).filter((r) => r.surface === 'internal' && !(r.method === 'GET' && r.path === '/internal/metrics'));
    expect(others.length).toBeGreaterThan(10);
    const server = internal.app.getHttpServer();
    const answers = await Promise.all(
      others.map(async (route) => {
        const path = route.path.replace(/:[A-Za-z0-9_]+/g, randomUUID());
        const method = route.method.toLowerCase() as 'get' | 'post' | 'put' | 'patch' | 'delete';
        const res = await request(server)[method](path).set('authorization', `Bearer ${token}`);
        return `${route.method} ${route.path} ${res.status}`;
      }),
    );
    expect(answers).toEqual(others.map((route) => `${route.method} ${route.path} 401`));
  });

  it('refuses a wrong secret, a revoked and an expired credential with one 401, audited with the cause', async () => {
    const good = await created('to-revoke');
    const forged = `${good.token.slice(0, 19)}${randomBytes(32).toString('base64url')}`;
    const refusals = [forged, `bt_ms_${'a'.repeat(12)}_${randomBytes(32).toString('base64url')}`, 'bt_ms_short'];
    const bodies = new Set<string>();
    for (const token of refusals) {
      const res = await scrape(token);
      expect(res.status).toBe(401);
      bodies.add(JSON.stringify({ ...(res.body as object), requestId: undefined }));
    }

    expect((await scrape(good.token)).status).toBe(200);
    const revoked = await signed('POST', `/internal/v1/metrics/credentials/${good.id}/revoke`, operators.admin);
    expect(revoked.status, `${revoked.text}`).toBe(200);
    expect(revoked.body).toEqual({ revoked: true });
    expect((await signed('POST', `/internal/v1/metrics/credentials/${good.id}/revoke`, operators.admin)).body).toEqual({ revoked: false });
    expect((await signed('POST', `/internal/v1/metrics/credentials/${randomUUID()}/revoke`, operators.admin)).status).toBe(404);
    const after = await scrape(good.token);
    expect(after.status).toBe(401);
    bodies.add(JSON.stringify({ ...(after.body as object), requestId: undefined }));

    const expired = await created('expired', new Date(Date.now() - 1000).toISOString());
    const late = await scrape(expired.token);
    expect(late.status).toBe(401);
    bodies.add(JSON.stringify({ ...(late.body as object), requestId: undefined }));
    expect(bodies.size).toBe(1);

    const { rows } = await owner.query<{ refusal: string }>(
      `SELECT data->>'refusal' AS refusal FROM platform_audit_events WHERE type = 'internal.auth_refused' AND data->>'refusal' LIKE 'scrape_credential.%' ORDER BY occurred_at DESC LIMIT 50`,
    );
    expect(new Set(rows.map((r) => r.refusal))).toEqual(new Set(['scrape_credential.mismatch', 'scrape_credential.unknown', 'scrape_credential.malformed', 'scrape_credential.revoked', 'scrape_credential.expired', 'scrape_credential.route']));
  });

  it.skipIf(!prometheusPresent)('a stock Prometheus scrapes it with examples/prometheus/prometheus.yml; revoked, the target goes down with 401; promtool accepts the exposition', { timeout: 90_000 }, async () => {
    const port = await freePort();
    await internal.app.listen(port, '127.0.0.1');
    // Created as examples/prometheus/prometheus.yml and docs/metrics.md say: the CLI's stdout is the body alone.
    const cli = join(projectRoot(), 'dist', 'apps', 'api', 'src', 'internal', 'internal.cli.js');
    if (!existsSync(cli)) throw new Error('dist/ is missing: run the suite with `npm test`, which builds first');
    // Asynchronously: the listener runs in this process, so a synchronous spawn would block it.
    const made = await run(process.execPath, [cli, 'POST', '/internal/v1/metrics/credentials', '--operator', operators.admin, '--reason', 'prometheus scrape', '--body', '{"name":"prometheus"}'], {
      encoding: 'utf8',
      env: { ...process.env, INTERNAL_HOST: '127.0.0.1', INTERNAL_PORT: String(port) },
    });
    expect(made.stderr).toMatch(/^201 Created\n/);
    const { id, token } = JSON.parse(made.stdout) as { id: string; token: string };
    const dir = mkdtempSync(join(tmpdir(), 'benteng-prometheus-'));
    let prometheus: ChildProcess | undefined;
    try {
      const tokenFile = join(dir, 'benteng-scrape-token');
      writeFileSync(tokenFile, token, { mode: 0o400 });
      const example = readFileSync(join(projectRoot(), 'examples', 'prometheus', 'prometheus.yml'), 'utf8');
      const config = example
        .replace('scrape_interval: 15s', 'scrape_interval: 1s')
        .replace('credentials_file: /etc/prometheus/benteng-scrape-token', `credentials_file: ${tokenFile}`)
        .replace("'127.0.0.1:3001'", `'127.0.0.1:${port}'`);
      expect(config).not.toBe(example);
      writeFileSync(join(dir, 'prometheus.yml'), config);
      const check = spawnSync(PROMTOOL, ['check', 'config', join(dir, 'prometheus.yml')], { encoding: 'utf8' });
      expect(check.status, `${check.stdout + check.stderr}`).toBe(0);

      const web = await freePort();
      prometheus = spawn(PROMETHEUS, [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${web}`], { stdio: 'ignore' });
      type Target = { health: string; lastError: string; labels: { job: string } };
      const target = async (): Promise<Target | undefined> => {
        try {
          const res = await fetch(`http://127.0.0.1:${web}/api/v1/targets?state=active`);
          return ((await res.json()) as { data: { activeTargets: Target[] } }).data.activeTargets.find((t) => t.labels.job === 'benteng');
        } catch {
          return undefined;
        }
      };
      const until = async (wanted: (t: Target) => boolean, what: string) => {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const t = await target();
          if (t && wanted(t)) return t;
          if (Date.now() > deadline) throw new Error(`Prometheus: no ${what} within 30 s; last: ${JSON.stringify(t)}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      };

      await until((t) => t.health === 'up', 'healthy target');
      const query = await fetch(`http://127.0.0.1:${web}/api/v1/query?query=${encodeURIComponent('count(benteng_http_requests_total) or vector(0)')}`);
      expect(((await query.json()) as { status: string }).status).toBe('success');

      expect((await signed('POST', `/internal/v1/metrics/credentials/${id}/revoke`, operators.admin)).status).toBe(200);
      const down = await until((t) => t.health === 'down', 'target down after the revoke');
      expect(down.lastError).toMatch(/401/);

      // promtool reads the exposition as Prometheus does and finds nothing malformed.
      const fresh = await created('promtool');
      const text = (await scrape(fresh.token)).text;
      const lint = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
      expect(lint.error).toBeUndefined();
      expect(lint.stdout + lint.stderr).not.toMatch(/error|parse/i);
    } finally {
      if (prometheus && prometheus.exitCode === null) {
        const exited = new Promise((resolve) => prometheus!.once('exit', resolve));
        prometheus.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '@benteng/database';
import { buildInternalApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';

const run = promisify(execFile);
const CLI = join(projectRoot(), 'dist', 'apps', 'api', 'src', 'internal', 'internal.cli.js');

/** `npm run internal`: the compiled CLI signs requests the real internal listener accepts. */
describe('internal CLI', () => {
  const owner = ownerPool();
  const operatorId = randomUUID();
  let api: TestApi;
  let port: number;

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error('dist/ is missing: run the suite with `npm test`, which builds first');
    await owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, 'CLI operator', '{support}')`, [operatorId, `cli-${operatorId}@benteng.example`]);
    api = await buildInternalApi();
    await api.app.listen({ host: '127.0.0.1', port: 0 });
    port = (api.app.getHttpServer().address() as { port: number }).port;
  });

  afterAll(() => api?.close());

  const cliAs = (operator: string, ...args: string[]) =>
    run(process.execPath, [CLI, ...args], { env: { ...process.env, INTERNAL_HOST: '127.0.0.1', INTERNAL_PORT: String(port), INTERNAL_OPERATOR_ID: operator } }).then(
      (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
    );
  const cli = (...args: string[]) => cliAs(operatorId, ...args);

  it('signs a GET as the operator from INTERNAL_OPERATOR_ID', async () => {
    const res = await cli('GET', '/internal/v1/whoami');
    expect(res.code, `${res.stderr}`).toBe(0);
    expect(res.stderr).toMatch(/^200 OK\n/);
    expect(JSON.parse(res.stdout)).toMatchObject({ service: 'ops-cli', operator: { id: operatorId, roles: ['support'] } });
  });

  it('signs a POST with a body and a reason, and shows the 400 without a reason', async () => {
    expect((await cli('POST', '/internal/v1/operators/me/ping', '--body', '{"note":"from the cli"}', '--reason', 'checking the CLI')).stderr).toMatch(/^200 OK\n/);
    const noReason = await cli('POST', '/internal/v1/operators/me/ping', '--body', '{}');
    expect(noReason.code).toBe(1);
    expect(noReason.stderr).toMatch(/^400 Bad Request\n/);
    expect(JSON.parse(noReason.stdout)).toMatchObject({ status: 400 });
  });

  it('signs the query too', async () => {
    // Keys out of canonical order and a value with a space. The listener validates a query like a
    // body (unknown keys are 400 on every route), so the query is one the route declares: the audit
    // search, which needs a security operator.
    const security = randomUUID();
    await owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, 'CLI security operator', '{security}')`, [security, `cli-${security}@benteng.example`]);
    const res = await cliAs(security, 'GET', '/internal/v1/audit?type=operator.ping&actor=x%20y');
    expect(res.stderr).toMatch(/^200 OK\n/);
    // The same signed request with a key the route does not declare reaches validation (so it was signed correctly) and is refused there.
    expect((await cliAs(security, 'GET', '/internal/v1/audit?b=2&a=x%20y')).stderr).toMatch(/^400 Bad Request\n/);
  });

  it('writes the response body alone to stdout, so it pipes into other tools (the status line goes to stderr)', async () => {
    // Prometheus text: stdout is the exact body the listener sent, as `promtool check metrics` reads it.
    const res = await cli('GET', '/internal/metrics');
    expect(res.code, `${res.stderr}`).toBe(0);
    expect(res.stderr).toBe('200 OK\n');
    const direct = await fetch(`http://127.0.0.1:${port}/internal/metrics`);
    expect(direct.status).toBe(401);
    expect(res.stdout).toMatch(/^# HELP /);
    expect(res.stdout).not.toMatch(/^\d{3} /m);
    for (const line of res.stdout.split('\n').filter(Boolean)) expect(line).toMatch(/^(# (HELP|TYPE) \w+ .+|\w+(\{[^}]*\})? \S+)$/);
    // JSON: parseable as it stands.
    const whoami = await cli('GET', '/internal/v1/whoami');
    expect(JSON.parse(whoami.stdout)).toMatchObject({ operator: { id: operatorId } });
  });
});

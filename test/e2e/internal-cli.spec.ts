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
      (r) => ({ code: 0, stdout: r.stdout }),
      (e: { code: number; stdout: string }) => ({ code: e.code, stdout: e.stdout }),
    );
  const cli = (...args: string[]) => cliAs(operatorId, ...args);

  it('signs a GET as the operator from INTERNAL_OPERATOR_ID', async () => {
    const res = await cli('GET', '/internal/v1/whoami');
    expect(res.code, `${res.stdout}`).toBe(0);
    expect(res.stdout).toMatch(/^200 OK\n/);
    expect(JSON.parse(res.stdout.slice(res.stdout.indexOf('\n') + 1))).toMatchObject({ service: 'ops-cli', operator: { id: operatorId, roles: ['support'] } });
  });

  it('signs a POST with a body and a reason, and shows the 400 without a reason', async () => {
    expect((await cli('POST', '/internal/v1/operators/me/ping', '--body', '{"note":"from the cli"}', '--reason', 'checking the CLI')).stdout).toMatch(/^200 OK\n/);
    const noReason = await cli('POST', '/internal/v1/operators/me/ping', '--body', '{}');
    expect(noReason.code).toBe(1);
    expect(noReason.stdout).toMatch(/^400 Bad Request\n/);
  });

  it('signs the query too', async () => {
    // Keys out of canonical order and a value with a space. The listener validates a query like a
    // body (unknown keys are 400 on every route), so the query is one the route declares: the audit
    // search, which needs a security operator.
    const security = randomUUID();
    await owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, 'CLI security operator', '{security}')`, [security, `cli-${security}@benteng.example`]);
    const res = await cliAs(security, 'GET', '/internal/v1/audit?type=operator.ping&actor=x%20y');
    expect(res.stdout).toMatch(/^200 OK\n/);
    // The same signed request with a key the route does not declare reaches validation (so it was signed correctly) and is refused there.
    expect((await cliAs(security, 'GET', '/internal/v1/audit?b=2&a=x%20y')).stdout).toMatch(/^400 Bad Request\n/);
  });
});

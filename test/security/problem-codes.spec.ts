import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { internalServiceKeys, loadConfig } from '@benteng/config';
import { signServiceRequest } from '@benteng/security';
import { buildInternalApi, type TestApi } from '../support/api.js';
import { buildAuthApi, Caller, PROBLEM_JSON, SecretLedger, setPassword } from '../support/auth-client.js';
import { ownerPool } from '../support/db.js';
import { createTenant } from '../support/factories.js';
import { problemCodes } from '../support/problem-codes.js';
import { tag } from './support/controls.js';

/**
 * Every refusal carries a `code` and its `urn:benteng:problem:<code>` type (issue 17, item 9),
 * including those no feature raises: the guards (deny by default, a CASL denial, an operator
 * without the role), the router (unknown route), Fastify's body and URL checks, the internal
 * signature check and the queue board's gate. These paths answered `type: about:blank` without a
 * code before. Beyond this list, test/support/problem-codes.ts checks every problem+json answer of
 * every test file, so a new refusal path without a code fails the spec that first reaches it.
 */
describe('problem codes', () => {
  const owner = ownerPool();
  const ledger = new SecretLedger();
  const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
  const roleless = randomUUID();
  let pub: TestApi;
  let internal: TestApi;
  let viewerToken: string;

  beforeAll(async () => {
    await owner.query(`INSERT INTO operators (id, email, display_name, roles, status) VALUES ($1, $2, 'Problem-code test operator', '{}', 'active')`, [roleless, `op-${roleless}@benteng.example`]);
    const tenant = await createTenant(owner, 'problem-codes');
    pub = ledger.watch(await buildAuthApi({ env: { BODY_LIMIT_BYTES: '2048' } }));
    internal = ledger.watch(await buildInternalApi());
    const password = await setPassword(owner, ledger, tenant.users.viewer.id);
    viewerToken = (await new Caller(pub, ledger).loginOk(tenant.users.viewer.email, password)).accessToken;
  });

  afterAll(async () => {
    await pub?.close();
    await internal?.close();
  });

  const signed = (path: string, operatorId: string): request.Test => {
    let test = request(internal.app.getHttpServer()).get(path);
    for (const [name, value] of Object.entries(signServiceRequest({ method: 'GET', url: path, keyId: dev.kid, secret: dev.secret, operatorId }))) test = test.set(name, value);
    return test;
  };

  it(tag('ERROR-PROBLEM', 'every refusal of the HTTP layer (guards, router, parser, signature check, queue board gate) carries a code and its urn:benteng:problem type'), async () => {
    const server = () => pub.app.getHttpServer();
    const cases: [string, () => request.Test, number, string][] = [
      ['unknown route', () => request(server()).get('/v1/no-such-route'), 404, 'http.not_found'],
      ['CASL denial (a viewer creating an invoice)', () => request(server()).post('/v1/invoices').set('authorization', `Bearer ${viewerToken}`).send({}), 403, 'access.denied'],
      ['malformed JSON body', () => request(server()).post('/v1/auth/login').set('content-type', 'application/json').send('{"email":'), 400, 'http.bad_request'],
      ['body over BODY_LIMIT_BYTES', () => request(server()).post('/v1/auth/login').send({ email: 'a@b.example', password: 'x'.repeat(4096) }), 413, 'http.content_too_large'],
      ['undeclared media type', () => request(server()).post('/v1/auth/login').set('content-type', 'text/plain').send('hello'), 415, 'request.unsupported_media_type'],
      ['path parameter over maxParamLength', () => request(server()).get(`/v1/invoices/${'a'.repeat(600)}`).set('authorization', `Bearer ${viewerToken}`), 414, 'http.uri_too_long'],
      ['internal: unsigned request', () => request(internal.app.getHttpServer()).get('/internal/v1/whoami'), 401, 'http.unauthenticated'],
      ['internal: operator without a role the route names', () => signed('/internal/metrics', roleless), 403, 'access.denied'],
      ['queue board without a session', () => request(internal.app.getHttpServer()).get('/internal/queues/'), 401, 'queue_board.session_required'],
    ];
    const seen: string[] = [];
    for (const [name, send, status, code] of cases) {
      const res = await send();
      const body = res.body as { type?: unknown; code?: unknown; status?: unknown };
      seen.push(`${name}: ${res.status} ${String(res.headers['content-type']).split(';')[0]} ${String(body.code)} ${String(body.type)}`);
      expect(res.status, `${name}`).toBe(status);
      expect(res.headers['content-type'], `${name}`).toMatch(PROBLEM_JSON);
      expect({ code: body.code, type: body.type, status: body.status }, `${name}`).toEqual({ code, type: `urn:benteng:problem:${code}`, status });
    }
    expect(seen).toHaveLength(cases.length);
    // The whole-file check saw these answers too (it is fed by the same apps), all but the 414:
    // Fastify answers router refusals without running hooks.
    expect(problemCodes.count).toBeGreaterThanOrEqual(cases.length - 1);
    expect(problemCodes.problems()).toEqual([]);
  });
});

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LogRedaction } from '../../apps/api/src/logging/logging.js';
import { buildApi, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, type TestTenant } from '../support/factories.js';
import { LeakRegistry, leakRegistry } from '../support/leak-registry.js';
import { PublicClient, setPasswords, testPassword } from '../support/public-api.js';
import { LogsItsInputController, NoLogRedaction } from './kill-switches/edge.js';
import { tag } from './support/controls.js';

/**
 * The whole-run secret-leakage check (test/support/leak-registry.ts, run by setup-env.ts after
 * every test file) must notice a leak, or its silence proves nothing. Here it is shown a password
 * that reaches the log once redaction is removed, and credentials that a response repeats.
 */
describe(tag('LOG-REDACTION', 'the secret-leakage detector finds a login\u2019s password in the logs once redaction is removed'), () => {
  const owner = ownerPool();
  let tenant: TestTenant;
  let password: string;

  beforeAll(async () => {
    tenant = await createTenant(owner, 'leak');
    password = testPassword();
    await setPasswords(owner, [tenant.users.owner.id], password);
  });

  /** Logs in on the real route, then posts the same login to a handler that logs what it received. */
  async function loginAndLog(api: TestApi): Promise<void> {
    const client = new PublicClient(api);
    await client.login(tenant.users.owner.email, password);
    const res = await client.call('POST', '/probe/edge/login', { body: { email: tenant.users.owner.email, password } });
    expect(res.status).toBe(201);
  }

  for (const [intact, title] of [
    [true, 'with redaction: no leak is reported'],
    [false, 'without redaction (LogRedaction replaced by a no-op): the password is reported in a log line'],
  ] as const) {
    it(`${title}`, async () => {
      const api = await buildApi({
        controllers: [LogsItsInputController],
        ownLogger: true,
        // The file's own registry must not see the leak provoked here: a registry of this test's own.
        expectLeaks: true,
        ...(intact ? {} : { overrides: [{ token: LogRedaction, useClass: NoLogRedaction }] }),
      });
      try {
        await loginAndLog(api);
      } finally {
        await api.close();
      }
      const detector = new LeakRegistry();
      detector.seeded('password', password);
      detector.watchLogs(api.logs);
      expect(api.logs.lines.some((l) => l.msg === 'login attempt received')).toBe(true);
      const leaks = detector.leaks();
      expect(leaks).toEqual(intact ? [] : [{ kind: 'password', hint: `${password.slice(0, 6)}…`, where: 'a log line' }]);
    });
  }
});

describe(tag('OUTPUT-ALLOWLIST', 'the secret-leakage detector allows a credential in the one response that issued it, and nowhere else'), () => {
  it('reports a password in any response, and an issued credential in a second response', () => {
    const detector = new LeakRegistry();
    const issued = `bt_cs_${'A'.repeat(43)}`;
    const seeded = 'pw-seeded-password-123456';
    detector.issued('partner client secret', issued);
    detector.seeded('password', seeded);
    detector.recordResponse({ method: 'POST', url: '/v1/partner-clients', status: 201, body: JSON.stringify({ clientSecret: issued }) });
    expect(detector.leaks()).toEqual([]);
    detector.recordResponse({ method: 'GET', url: '/v1/partner-clients/1?x=1', status: 200, body: JSON.stringify({ secret: issued }) });
    detector.recordResponse({ method: 'POST', url: '/v1/auth/login', status: 400, body: `{"detail":"${seeded}"}` });
    expect(detector.leaks()).toEqual([
      { kind: 'partner client secret', hint: 'bt_cs_…', where: 'the response body of GET /v1/partner-clients/1 (200)' },
      { kind: 'password', hint: 'pw-see…', where: 'the response body of POST /v1/auth/login (400)' },
    ]);
  });

  describe('on the real API, the file\u2019s own registry', () => {
    const owner = ownerPool();
    let api: TestApi;
    let tenant: TestTenant;
    let token: string;

    beforeAll(async () => {
      tenant = await createTenant(owner, 'leak-real');
      const password = testPassword();
      await setPasswords(owner, [tenant.users.owner.id], password);
      api = await buildApi();
      token = (await new PublicClient(api).login(tenant.users.owner.email, password)).accessToken;
    });
    afterAll(() => api?.close());

    it('registers the credentials a response issues (tokens, a webhook secret) and checks every later response and log line for them', async () => {
      const client = new PublicClient(api);
      const before = leakRegistry.counts;
      const created = await client.call('POST', '/v1/webhook-endpoints', { token, body: { url: 'https://hooks.example.com/leak', events: ['invoice.paid'] } });
      expect(created.status).toBe(201);
      const { id, secret } = created.body as { id: string; secret: string };
      expect(secret).toMatch(/^whsec_/);
      expect(leakRegistry.counts.secrets).toBe(before.secrets + 1);
      // Read back: the secret must not be there (the file's afterAll would report it).
      const read = await client.call('GET', `/v1/webhook-endpoints/${id}`, { token });
      expect(read.status).toBe(200);
      expect(read.text).not.toContain(secret);
      expect(leakRegistry.leaks()).toEqual([]);
    });
  });
});

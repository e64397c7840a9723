// Revocation and limits under load (issue 9, part 4), with two API instances sharing one Redis and
// one database, load spread over both.
//  1. Session revocation: a load loop reads GET /v1/invoices/:id with one access token on both
//     instances; mid-run DELETE /v1/sessions/:id (another session of the same owner) revokes that
//     token's session on instance 1. Counted: requests *sent after the revoke call returned* that
//     were still answered 200 (target 0). Requests in flight at that moment are reported apart.
//  2. API key revocation: the same with GET /partner/v1/invoices/:id and an API key, revoked by
//     POST /v1/partner-clients/:id/keys/:keyId/revoke.
//  3. Rate limit across instances: a `partner:free` client (RATE_LIMIT_POLICY `partner:free` read =
//     BENCH_LIMIT per hour, so the window cannot roll over during the run) reads through both
//     instances until twice the limit has been offered; accepted (200) vs the limit (target within
//     1 %). Redis is a database of its own, flushed at start, so no earlier run's counts remain.
// Other classes and the tenant aggregate get limits the load never reaches; the abuse detector's
// thresholds likewise (it still counts). Load: a keep-alive node:http loop, BENCH_CONNECTIONS (64).
import { setTimeout as sleep } from 'node:timers/promises';
import {
  appEnv,
  appSecrets,
  benchRedisUrl,
  call,
  expectStatus,
  hammer,
  intFromEnv,
  invoiceId,
  logger,
  login,
  machine,
  openBenchDb,
  printTable,
  QUICK,
  round1,
  round2,
  seedTenants,
  startApi,
  writeResult,
  type ApiProcess,
  type Sample,
} from './lib/harness.js';

const log = logger('revocation-limits');
const T = 13;
const INVOICES = 1_000;
const CONNECTIONS = intFromEnv('BENCH_CONNECTIONS', 64, 1, 512);
const LIMIT = intFromEnv('BENCH_LIMIT', QUICK ? 500 : 3_000, 10, 1_000_000);
const BEFORE_MS = intFromEnv('BENCH_REVOKE_AFTER_MS', QUICK ? 1_500 : 3_000, 200, 60_000);
const AFTER_MS = intFromEnv('BENCH_REVOKE_TAIL_MS', QUICK ? 1_500 : 3_000, 200, 60_000);
const POLICY = JSON.stringify({
  user: { read: [10_000_000, 60], write: [10_000, 60] },
  'partner:standard': { read: [10_000_000, 60] },
  'partner:free': { read: [LIMIT, 3600] },
  tenant: [10_000_000, 60],
});

interface RevocationFigures {
  requests: number;
  acceptedBeforeRevoke: number;
  /** Sent before the revoke call returned, answered 200 after it: in flight, not a leak. */
  inFlightAcceptedAtRevoke: number;
  /** Sent after the revoke call returned and answered 200: the target is 0. */
  acceptedAfterRevoke: number;
  rejectedAfterRevoke: number;
  otherAfterRevoke: number;
  revokeCallMs: number;
}

async function revocationRun(apis: ApiProcess[], path: () => string, credential: string, revoke: () => Promise<void>): Promise<RevocationFigures> {
  let revokedAt = Number.POSITIVE_INFINITY;
  let revokeStartedAt = 0;
  const load = hammer({
    concurrency: CONNECTIONS,
    durationMs: BEFORE_MS + AFTER_MS,
    maxRequests: 1_000_000,
    next: (i) => ({ base: apis[i % apis.length]!.base, path: path(), authorization: `Bearer ${credential}` }),
  });
  await sleep(BEFORE_MS);
  revokeStartedAt = performance.now();
  await revoke();
  revokedAt = performance.now();
  const samples: Sample[] = await load;
  const after = samples.filter((s) => s.sentAt > revokedAt);
  return {
    requests: samples.length,
    acceptedBeforeRevoke: samples.filter((s) => s.sentAt <= revokedAt && s.status === 200).length,
    inFlightAcceptedAtRevoke: samples.filter((s) => s.sentAt <= revokedAt && s.doneAt > revokedAt && s.status === 200).length,
    acceptedAfterRevoke: after.filter((s) => s.status === 200).length,
    rejectedAfterRevoke: after.filter((s) => s.status === 401).length,
    otherAfterRevoke: after.filter((s) => s.status !== 200 && s.status !== 401).length,
    revokeCallMs: round1(revokedAt - revokeStartedAt),
  };
}

async function main(): Promise<void> {
  const db = await openBenchDb(log);
  const apis: ApiProcess[] = [];
  try {
    await seedTenants(db, [{ t: T, invoices: INVOICES, linesPerInvoice: 1 }], log);
    const redisUrl = await benchRedisUrl(db.config);
    const env = appEnv(db, redisUrl, await appSecrets(), { RATE_LIMIT_POLICY: POLICY });
    apis.push(...(await Promise.all([startApi('api-1', env), startApi('api-2', env)])));
    const randomInvoice = () => invoiceId(T, 1 + Math.floor(Math.random() * INVOICES));

    // 1. Session revocation.
    const victim = await login(apis[0]!.base, T);
    const admin = await login(apis[1]!.base, T);
    const sessions = await expectStatus(call(apis[0]!.base, 'GET', '/v1/sessions', { token: victim.accessToken }), 200, 'list sessions');
    const sessionId = (sessions.items as { id: string; current: boolean }[]).find((s) => s.current)!.id;
    const session = await revocationRun(
      apis,
      () => `/v1/invoices/${randomInvoice()}`,
      victim.accessToken,
      async () => void (await expectStatus(call(apis[0]!.base, 'DELETE', `/v1/sessions/${sessionId}`, { token: admin.accessToken }), 204, 'revoke session')),
    );
    log(`session revocation: ${JSON.stringify(session)}`);

    // 2. API key revocation.
    const client = await expectStatus(
      call(apis[0]!.base, 'POST', '/v1/partner-clients', { token: admin.accessToken, body: { name: `bench revoke ${Date.now()}`, environment: 'test', scopes: ['invoices:read'], tier: 'standard' } }),
      201,
      'create partner client',
    );
    const key = await expectStatus(call(apis[0]!.base, 'POST', `/v1/partner-clients/${client.id}/keys`, { token: admin.accessToken, body: {} }), 201, 'create partner key');
    const apiKey = await revocationRun(
      apis,
      () => `/partner/v1/invoices/${randomInvoice()}`,
      key.key as string,
      async () => void (await expectStatus(call(apis[0]!.base, 'POST', `/v1/partner-clients/${client.id}/keys/${key.id}/revoke`, { token: admin.accessToken }), 200, 'revoke key')),
    );
    log(`API key revocation: ${JSON.stringify(apiKey)}`);

    // 3. Rate limit across two instances.
    const free = await expectStatus(
      call(apis[0]!.base, 'POST', '/v1/partner-clients', { token: admin.accessToken, body: { name: `bench limit ${Date.now()}`, environment: 'test', scopes: ['invoices:read'], tier: 'free' } }),
      201,
      'create free partner client',
    );
    const freeKey = await expectStatus(call(apis[0]!.base, 'POST', `/v1/partner-clients/${free.id}/keys`, { token: admin.accessToken, body: {} }), 201, 'create free partner key');
    const started = performance.now();
    const samples = await hammer({
      concurrency: CONNECTIONS,
      durationMs: 120_000,
      maxRequests: LIMIT * 2,
      next: (i) => ({ base: apis[i % apis.length]!.base, path: `/partner/v1/invoices/${randomInvoice()}`, authorization: `Bearer ${freeKey.key}` }),
    });
    const elapsedS = (performance.now() - started) / 1000;
    const accepted = samples.filter((s) => s.status === 200).length;
    const limited = samples.filter((s) => s.status === 429).length;
    const other = samples.length - accepted - limited;
    const limits = {
      limit: LIMIT,
      windowS: 3600,
      instances: apis.length,
      offered: samples.length,
      accepted,
      limited,
      other,
      deviationPct: round2(((accepted - LIMIT) / LIMIT) * 100),
      offeredPerSecond: round1(samples.length / elapsedS),
    };
    log(`rate limit: ${JSON.stringify(limits)}`);

    const targets = {
      'session: accepted after revoke = 0': { met: session.acceptedAfterRevoke === 0, value: session.acceptedAfterRevoke },
      'API key: accepted after revoke = 0': { met: apiKey.acceptedAfterRevoke === 0, value: apiKey.acceptedAfterRevoke },
      'rate limit: accepted within 1 % of the limit': { met: Math.abs(limits.deviationPct) <= 1, value: `${limits.deviationPct} %` },
    };
    process.stdout.write('\n');
    printTable(
      ['revocation (2 instances)', 'requests', 'accepted before', 'in flight at revoke (200)', 'accepted after revoke', '401 after', 'other after', 'revoke call ms'],
      [
        ['session (DELETE /v1/sessions/:id)', session],
        ['API key (POST .../keys/:id/revoke)', apiKey],
      ].map(([label, f]) => {
        const r = f as RevocationFigures;
        return [label as string, String(r.requests), String(r.acceptedBeforeRevoke), String(r.inFlightAcceptedAtRevoke), String(r.acceptedAfterRevoke), String(r.rejectedAfterRevoke), String(r.otherAfterRevoke), r.revokeCallMs.toFixed(1)];
      }),
    );
    process.stdout.write('\n');
    printTable(
      ['rate limit (2 instances)', 'limit', 'offered', 'accepted', '429', 'other', 'deviation'],
      [['partner:free read, 1 h window', String(LIMIT), String(limits.offered), String(accepted), String(limited), String(other), `${limits.deviationPct} %`]],
    );
    for (const [name, t] of Object.entries(targets)) log(`target ${name}: ${t.met ? 'met' : 'NOT met'} (${t.value})`);
    await writeResult('revocation-limits', {
      benchmark: 'revocation-limits',
      generatedAt: new Date().toISOString(),
      machine: machine(db.postgresVersion),
      settings: { connections: CONNECTIONS, instances: apis.length, loadBeforeRevokeMs: BEFORE_MS, loadAfterRevokeMs: AFTER_MS, rateLimitPolicy: POLICY, quick: QUICK },
      session,
      apiKey,
      limits,
      targets,
    });
  } finally {
    await Promise.all(apis.map((a) => a.stop()));
    await db.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench revocation-limits failed: ${(error as Error).stack ?? error}\n`);
  process.exitCode = 1;
});

import { spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyRotationHandler, KeyRotationService } from '@benteng/auth';
import { internalServiceKeys, keyRingRootKeys, loadConfig } from '@benteng/config';
import { KeyRingRepository, openKeyMaterial, PrismaService, projectRoot } from '@benteng/database';
import { jobEnvelopeKeyOverlapS, JobSigner, JOBS_QUEUE, PLATFORM_QUEUE, QueuedJobRevocation } from '@benteng/jobs';
import { signServiceRequest } from '@benteng/security';
import { DATA_REENCRYPTION_JOB } from '@benteng/webhooks';
import { KeyAges, processMetrics } from '../../apps/api/src/metrics/metrics.js';
import { buildApi, buildInternalApi, type TestApi } from '../support/api.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool } from '../support/db.js';
import { waitForExport } from '../support/exports.js';
import { createTenantWithLogins } from '../support/tenants.js';
import { arranged, PublicClient, testPassword } from '../support/public-api.js';
import { obliterateQueues, startReadyWorker, testQueue, uniqueQueuePrefix, type WorkerProcess } from '../support/worker.js';
import type { TestTenant } from '../support/factories.js';
import { tag } from '../security/support/controls.js';

/**
 * Job-envelope HMAC keys in the key ring (docs/operations.md, "Key rotation"), rotated while jobs
 * flow: the API (in this process) queues exports continuously, the compiled worker runs them, and
 * the compiled `keys:rotate -- job-envelope` rotates the family several times; every export runs
 * exactly once and no job is refused. Then an emergency rotation: the queued job the exposed key
 * signed is taken out of the queue and counted, a job forged with the exposed key is refused
 * (`revoked_key`) and recorded, and the incident view lists both. Last, the scheduled platform job
 * rotates at JOB_ENVELOPE_KEY_MAX_AGE_S and the key age of every family is exported beside its policy.
 */

const owner = ownerPool();
const root = projectRoot();
const prefix = uniqueQueuePrefix('job-envelope-ring');
const rootKid = `j${randomBytes(3).toString('hex')}`;
/** The environment key that signs until the ring has an active key, and keeps verifying after. */
const envKey = `k20261101-${randomBytes(3).toString('hex')}:${randomBytes(32).toString('base64url')}`;
const ringEnv = {
  KEY_RING_ROOT_KEYS: `${rootKid}:${randomBytes(32).toString('base64')}`,
  JOB_SIGNING_KEYS: envKey,
  KEY_PUBLISH_LEAD_S: '0',
  KEY_RING_REFRESH_S: '1',
  QUEUE_PREFIX: prefix,
  // The traffic below is one user requesting exports as fast as it can: not what this test is about.
  RATE_LIMIT_POLICY: JSON.stringify({ user: { export: [1_000_000, 60], read: [1_000_000, 60] }, tenant: [1_000_000, 60] }),
};

let api: TestApi;
let worker: WorkerProcess;
let tenant: TestTenant;
let token: string;
let platformQueue: Queue;
let tenantQueue: Queue;

beforeAll(async () => {
  const password = testPassword();
  [api, worker, tenant] = await Promise.all([buildApi({ env: ringEnv }), startReadyWorker(prefix, ringEnv), createTenantWithLogins(owner, 'job-envelope-ring', password)]);
  token = (await new PublicClient(api).login(tenant.users.owner.email, password)).accessToken;
  platformQueue = testQueue(PLATFORM_QUEUE, prefix);
  tenantQueue = testQueue(JOBS_QUEUE, prefix);
}, 60_000);
afterAll(async () => {
  await worker?.stop();
  await api?.close();
  await platformQueue?.close();
  await tenantQueue?.close();
  await obliterateQueues(prefix);
});

/** `npm run keys:rotate -- job-envelope [--emergency]`, as compiled. */
function keysRotate(...args: string[]): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'dist', 'apps', 'worker', 'src', 'keys-rotate.cli.js'), 'job-envelope', ...args], {
      env: { ...process.env, ...ringEnv, NODE_ENV: 'test' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (status) => resolve({ status, stdout, stderr }));
  });
}

interface Outcome {
  active?: string;
  next?: string;
  demoted?: { kid: string; state: string };
  waiting?: string;
  queuedJobs?: { refused: number; jobs: string[]; schedules: number };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A signer holding one key of this file's ring (what someone who stole it holds). */
async function signerFor(kid: string): Promise<JobSigner> {
  const config = loadConfig({ ...process.env, ...ringEnv });
  const prisma = new PrismaService(config);
  try {
    const row = (await new KeyRingRepository(prisma).entries('job-envelope')).find((r) => r.kid === kid && r.rootKid === rootKid)!;
    const secret = openKeyMaterial(keyRingRootKeys(config)!, 'job-envelope', kid, row.rootKid, row.material)!.toString('utf8');
    return new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: `${kid}:${secret}` }));
  } finally {
    await prisma.onModuleDestroy();
  }
}

/** A real platform job the worker serves (a no-op without an older data-encryption key), signed by `signer`. */
async function queuePlatformJob(signer: JobSigner, delayMs?: number): Promise<string> {
  const signed = signer.sign({ v: 1, kind: 'platform', name: DATA_REENCRYPTION_JOB, requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} });
  return (await platformQueue.add(DATA_REENCRYPTION_JOB, signed, { attempts: 1, ...(delayMs ? { delay: delayMs } : {}) })).id!;
}
async function outcomeOf(jobId: string): Promise<{ state: string; failedReason?: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = await platformQueue.getJob(jobId);
    const state = (await job?.getState()) ?? 'missing';
    if (state === 'completed' || state === 'failed') return { state, ...(job?.failedReason ? { failedReason: job.failedReason } : {}) };
    if (Date.now() > deadline) return { state };
    await sleep(50);
  }
}

async function requestExport(): Promise<string> {
  return (arranged(await new PublicClient(api).call('POST', '/v1/exports', { token, body: { type: 'invoices', format: 'csv' } }), 202, 'request export').body as { id: string }).id;
}

describe('job-envelope keys in the key ring', () => {
  let lastActive: string;

  it(tag('SECRETS-LIFECYCLE', 'keys:rotate -- job-envelope runs four times while the API queues exports: every export runs exactly once, no job is refused'), async () => {
    const exports: string[] = [];
    const errors: unknown[] = [];
    let stop = false;
    const traffic = (async () => {
      while (!stop) {
        try {
          exports.push(await requestExport());
        } catch (error) {
          errors.push(error);
        }
        await sleep(40);
      }
    })();
    const outcomes: Outcome[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        await sleep(1_500);
        const run = await keysRotate();
        expect({ status: run.status, stderr: run.stderr }).toMatchObject({ status: 0 });
        outcomes.push(JSON.parse(run.stdout) as Outcome);
      }
      await sleep(1_500);
    } finally {
      stop = true;
      await traffic;
    }
    expect(errors).toEqual([]);
    // A run promotes the published next key and retires the active one (the first promotion takes
    // over from JOB_SIGNING_KEYS; the worker's scheduled check may have published the first next
    // key at its start, else the first run only publishes it).
    for (let i = 1; i < outcomes.length; i++) {
      const previous = outcomes[i - 1]!;
      expect(outcomes[i]).toMatchObject({ active: previous.next, ...(previous.active ? { demoted: { kid: previous.active, state: 'retired' } } : {}) });
    }
    expect(new Set(outcomes.map((o) => o.active).filter(Boolean)).size).toBeGreaterThanOrEqual(3);
    lastActive = outcomes[3]!.active!;

    expect(exports.length).toBeGreaterThan(40);
    for (const id of exports) await waitForExport(owner, tenant.id, id, (row) => row.status === 'ready' || row.status === 'failed', 60_000);
    const { rows } = await owner.query<{ status: string; n: number }>(`SELECT status::text, count(*)::int AS n FROM exports WHERE tenant_id = $1 AND id = ANY($2::uuid[]) GROUP BY status`, [tenant.id, exports]);
    expect(rows).toEqual([{ status: 'ready', n: exports.length }]);
    // Exactly once: one start per export job, and no refusal of any job.
    const lines = worker.lines();
    const started = lines.filter((l) => l.msg === 'job started' && l.job === 'exports.run').map((l) => l.jobId as string);
    expect(started.filter((id) => exports.includes(id)).sort()).toEqual([...exports].sort());
    expect(lines.filter((l) => typeof l.msg === 'string' && (l.msg as string).startsWith('job refused'))).toEqual([]);
    // The jobs were signed by the environment key and by the ring's successive keys.
    const kids = new Set<string>();
    for (const id of exports) kids.add(((await tenantQueue.getJob(id))!.data as { kid: string }).kid);
    // The ring had no active key before the first run: JOB_SIGNING_KEYS signed until the first promotion.
    expect(outcomes[0]!.demoted).toBeUndefined();
    expect(kids).toContain(envKey.split(':')[0]);
    expect([...kids].filter((k) => outcomes.some((o) => o.active === k)).length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it(tag('SECRETS-LIFECYCLE', 'keys:rotate -- job-envelope --emergency: the queued jobs of the exposed key never run, a job forged with it is refused, the incident view lists both'), async () => {
    const exposed = await signerFor(lastActive);
    // Queued before the emergency (a retry waiting its turn): signed with the key about to be revoked.
    const queued = await queuePlatformJob(exposed, 120_000);
    const emergency = await keysRotate('--emergency');
    expect({ status: emergency.status, stderr: emergency.stderr }).toMatchObject({ status: 0 });
    const outcome = JSON.parse(emergency.stdout) as Outcome;
    expect(outcome.demoted).toEqual({ kid: lastActive, state: 'revoked', activatedAt: expect.any(String) });
    expect(outcome.queuedJobs).toMatchObject({ refused: 1, jobs: [`${PLATFORM_QUEUE}/${queued}/${DATA_REENCRYPTION_JOB}`] });
    expect(await platformQueue.getJob(queued)).toBeUndefined();

    // Within KEY_RING_REFRESH_S the worker knows the key is revoked: a job forged with it is refused, never run.
    await sleep(1_500);
    const forged = await queuePlatformJob(exposed);
    expect(await outcomeOf(forged)).toMatchObject({ state: 'failed', failedReason: expect.stringContaining('revoked_key') });
    // The API signs with the new key: its jobs run.
    const after = await requestExport();
    expect(await waitForExport(owner, tenant.id, after, (row) => row.status === 'ready' || row.status === 'failed', 30_000)).toMatchObject({ status: 'ready' });

    const { rows } = await owner.query<{ type: string; subject: string; data: Record<string, unknown> }>(
      `SELECT type, subject, data FROM platform_audit_events WHERE subject = $1 ORDER BY occurred_at, id`,
      [`job-envelope:${lastActive}`],
    );
    expect(rows).toEqual([
      {
        type: 'platform.key_revoked',
        subject: `job-envelope:${lastActive}`,
        data: expect.objectContaining({ family: 'job-envelope', revokedKid: lastActive, activeKid: outcome.active, signingSince: expect.any(String), revokedAt: expect.any(String), queuedJobsRefused: 1 }),
      },
      { type: 'platform.job_refused', subject: `job-envelope:${lastActive}`, data: expect.objectContaining({ kid: lastActive, reason: 'revoked_key', queue: PLATFORM_QUEUE, jobId: forged }) },
    ]);

    const operatorId = randomUUID();
    await owner.query(`INSERT INTO operators (id, email, display_name, roles) VALUES ($1, $2, 'Job key test operator', '{security}')`, [operatorId, `op-${operatorId}@benteng.example`]);
    const internal = await buildInternalApi({ env: ringEnv });
    try {
      const dev = internalServiceKeys(loadConfig()).keys.get('derived')!;
      const path = `/internal/v1/incidents?principal=${encodeURIComponent(`user:${tenant.users.owner.id}`)}`;
      let call = request(internal.app.getHttpServer()).get(path);
      for (const [name, value] of Object.entries(signServiceRequest({ method: 'GET', url: path, keyId: dev.kid, secret: dev.secret, operatorId }))) call = call.set(name, value);
      const view = await call;
      expect(view.status).toBe(200);
      const keys = (view.body as { keys: { type: string; subject: string; data: Record<string, unknown> }[] }).keys.filter((k) => k.subject === `job-envelope:${lastActive}`);
      expect(keys.map((k) => [k.type, k.data.queuedJobsRefused ?? k.data.jobId])).toEqual([
        ['platform.key_revoked', 1],
        ['platform.job_refused', forged],
      ]);
    } finally {
      await internal.close();
    }
  }, 90_000);

  it(tag('SECRETS-LIFECYCLE', 'the scheduled platform job rotates the job-envelope key at JOB_ENVELOPE_KEY_MAX_AGE_S; every family exports its key age beside its policy'), async () => {
    const day = (iso: string) => new Date(`${iso}T00:00:00Z`).getTime();
    const secret = () => randomBytes(32).toString('base64url');
    const internal = await buildInternalApi({
      env: {
        ...ringEnv,
        JOB_ENVELOPE_KEY_MAX_AGE_S: '86400',
        INTERNAL_SIGNATURE_KEY_MAX_AGE_S: '7776000',
        DATA_ENCRYPTION_KEYS: `k20261101-a1b2c3:${randomBytes(32).toString('base64')},k20250101-d4e5f6:${randomBytes(32).toString('base64')}`,
        // ops-cli's newest key is from 2026-11-07, billing's from 2026-10-01: the family is as old as billing's.
        INTERNAL_SERVICE_KEYS: `ops-cli:k20261107-aaaaaa:${secret()},ops-cli:k20250101-bbbbbb:${secret()},billing:k20261001-cccccc:${secret()}`,
      },
    });
    try {
      const before = Date.now();
      await internal.app.get(KeyAges).refresh();
      const after = Date.now();
      const age = Object.fromEntries((await processMetrics.keyAge.get()).values.map((v) => [v.labels.family, v.value]));
      const max = Object.fromEntries((await processMetrics.keyMaxAge.get()).values.map((v) => [v.labels.family, v.value]));
      expect(max).toEqual({ 'access-token': 2_592_000, 'job-envelope': 86_400, 'internal-signature': 7_776_000, 'data-encryption': 31_536_000 });
      expect(age['job-envelope']).toBeGreaterThanOrEqual(0);
      expect(age['job-envelope']).toBeLessThan(60);
      expect(age['data-encryption']).toBeGreaterThanOrEqual((before - day('2026-11-01')) / 1000 - 1);
      expect(age['data-encryption']).toBeLessThanOrEqual((after - day('2026-11-01')) / 1000 + 1);
      expect(age['internal-signature']).toBeGreaterThanOrEqual((before - day('2026-10-01')) / 1000 - 1);
      expect(age['internal-signature']).toBeLessThanOrEqual((after - day('2026-10-01')) / 1000 + 1);
      const text = await processMetrics.registry.metrics();
      expect(text).toMatch(/^benteng_key_max_age_seconds\{family="job-envelope"\} 86400$/m);
    } finally {
      await internal.close();
    }

    // The worker's job (KeyRotationHandler), with a policy of 10 minutes and a clock 11 minutes on.
    const config = loadConfig({ ...process.env, ...ringEnv, JOB_ENVELOPE_KEY_MAX_AGE_S: '600' });
    const prisma = new PrismaService(config);
    try {
      const logger = { setContext: () => undefined, info: () => undefined, warn: () => undefined };
      const ring = new KeyRingRepository(prisma);
      const entries = async () => (await ring.entries('job-envelope')).filter((r) => r.rootKid === rootKid);
      const active = (await entries()).find((r) => r.state === 'active')!;
      const now = new Date(Date.now() + 660_000);
      const sut = new KeyRotationHandler(new KeyRotationService(ring, config, new FakeClock(now), logger as never, undefined, new QueuedJobRevocation(config)), config, logger as never);
      await sut.handle({}, { requestId: 'job-envelope-ring-spec' } as never);
      const rotated = await entries();
      const retired = rotated.find((r) => r.kid === active.kid)!;
      expect(retired.state).toBe('retired');
      // It verifies until every job it signed has run or expired: the bound of docs/operations.md.
      expect((retired.verifyUntil!.getTime() - now.getTime()) / 1000).toBe(jobEnvelopeKeyOverlapS(config));
      expect(jobEnvelopeKeyOverlapS(config)).toBe(1 + 36_000 + 127 + 7 * 86_400 + 60);
      expect(rotated.filter((r) => r.state === 'active').map((r) => r.kid)).not.toContain(active.kid);
      expect(rotated.filter((r) => r.state === 'next')).toHaveLength(1);
    } finally {
      await prisma.onModuleDestroy();
    }
  });
});

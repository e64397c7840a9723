import { randomBytes, randomUUID } from 'node:crypto';
import { getQueueToken } from '@nestjs/bullmq';
import { Controller, Injectable, Post } from '@nestjs/common';
import { Test, type TestingModule } from '@nestjs/testing';
import { Queue, type Job } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Principal } from '@benteng/authz';
import { AppConfig, loadConfig } from '@benteng/config';
import { TenantDatabase } from '@benteng/database';
import { JOBS_QUEUE, JobQueue, JobRejection, JobSigner, PLATFORM_QUEUE, PlatformJob, TenantJob, type PlatformJobHandler, type JobRun, type TenantJobHandler, type TenantJobOptions } from '@benteng/jobs';
import { RequestContext, Scope } from '@benteng/tenancy';
import { Authorize } from '../../apps/api/src/http/access.decorator.js';
import { CurrentScope } from '../../apps/api/src/http/request-auth.js';
import { WORKER_LOG_DESTINATION } from '../../apps/worker/src/worker-logging.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { buildApi, LogCapture, type TestApi } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { createPartnerClient, createPartnerKey } from '../support/partners.js';
import { arranged, PublicClient, setPasswords, testPassword } from '../support/public-api.js';
import { obliterateQueues, startReadyWorker, testQueue, uniqueQueuePrefix, type WorkerProcess } from '../support/worker.js';
import { tag } from '../security/support/controls.js';

/**
 * Tenant jobs (libs/jobs, docs/architecture.md, invariant 7): a job carries a signed envelope, and the
 * worker verifies it, re-derives the actor from current state and runs the handler in that
 * actor's Scope. The worker module runs here in-process (the real WorkerModule, real BullMQ on
 * Redis, real PostgreSQL) with a few test-only handlers that record what they saw; the last part
 * starts the compiled worker as a real process and drives it from a real API request.
 *
 * Each part has its own QUEUE_PREFIX, so neither takes the other's jobs, nor any other file's.
 */

/** What a recording handler saw, by job id. */
const seen = new Map<string, { principal: Principal; tenantId: string; requestId: string | undefined; attempt: number; invoiceTenants?: string[]; otherInvoiceFound?: boolean; explicitOtherTenantRows?: number }>();

@TenantJob('test.record')
@Injectable()
class RecordScopeHandler implements TenantJobHandler {
  constructor(private readonly context: RequestContext) {}

  async handle(scope: Scope, _data: unknown, context: JobRun): Promise<void> {
    seen.set(context.jobId, { principal: scope.principal, tenantId: scope.tenantId, requestId: this.context.requestId, attempt: context.attempt });
  }
}

/**
 * A handler that "forgets" its CASL condition: it queries invoices with no accessibleWhere, and
 * even asks for another tenant's rows by id and by tenant. Row-level security still shows it only
 * the envelope tenant's rows.
 */
@TenantJob('test.forgetful')
@Injectable()
class ForgetfulHandler implements TenantJobHandler<{ otherInvoiceId: string; otherTenant: string }> {
  constructor(private readonly db: TenantDatabase) {}

  async handle(scope: Scope, data: { otherInvoiceId: string; otherTenant: string }, context: JobRun): Promise<void> {
    const result = await this.db.run(scope, async (tx) => ({
      all: await tx.invoice.findMany({ select: { tenantId: true } }),
      other: await tx.invoice.findFirst({ where: { id: data.otherInvoiceId } }),
      explicit: await tx.invoice.count({ where: { tenantId: data.otherTenant } }),
    }));
    seen.set(context.jobId, {
      principal: scope.principal,
      tenantId: scope.tenantId,
      requestId: context.requestId,
      attempt: context.attempt,
      invoiceTenants: [...new Set(result.all.map((r) => r.tenantId))],
      otherInvoiceFound: result.other !== null,
      explicitOtherTenantRows: result.explicit,
    });
  }
}

/** Fails `failTimes` attempts with an ordinary error, then succeeds. */
@TenantJob('test.flaky')
@Injectable()
class FlakyHandler implements TenantJobHandler<{ failTimes: number }> {
  async handle(scope: Scope, data: { failTimes: number }, context: JobRun): Promise<void> {
    if (context.attempt <= data.failTimes) throw new Error('transient failure');
    seen.set(context.jobId, { principal: scope.principal, tenantId: scope.tenantId, requestId: context.requestId, attempt: context.attempt });
  }
}

/** Refuses for a reason of its own: permanent, audited. */
@TenantJob('test.refuse')
@Injectable()
class RefusingHandler implements TenantJobHandler {
  async handle(): Promise<void> {
    throw new JobRejection('export_gone');
  }
}

/** Takes a while, so shutdown can be caught while it runs. */
@TenantJob('test.slow')
@Injectable()
class SlowHandler implements TenantJobHandler<{ ms: number }> {
  async handle(scope: Scope, data: { ms: number }, context: JobRun): Promise<void> {
    await new Promise((r) => setTimeout(r, data.ms));
    seen.set(context.jobId, { principal: scope.principal, tenantId: scope.tenantId, requestId: context.requestId, attempt: context.attempt });
  }
}

const platformRuns: { requestId: string; contextRequestId: string | undefined; data: unknown }[] = [];

@PlatformJob('test.platform')
@Injectable()
class PlatformRecorder implements PlatformJobHandler {
  constructor(private readonly context: RequestContext) {}

  async handle(data: unknown, context: { requestId: string }): Promise<void> {
    platformRuns.push({ requestId: context.requestId, contextRequestId: this.context.requestId, data });
  }
}

@PlatformJob('test.scheduled', { everyMs: () => 60_000, data: { sweep: true } })
@Injectable()
class ScheduledRecorder implements PlatformJobHandler {
  async handle(): Promise<void> {}
}

interface Finished {
  state: string;
  attemptsMade: number;
  failedReason: string | undefined;
}

/** Waits until a job has completed or failed for good. */
async function finished(queue: Queue, jobId: string, ms = 15_000): Promise<Finished> {
  const deadline = Date.now() + ms;
  for (;;) {
    const state = await queue.getJobState(jobId);
    if (state === 'completed' || state === 'failed') {
      // Read after the state, so the job's fields are those of its final state.
      const job: Job | undefined = await queue.getJob(jobId);
      return { state, attemptsMade: job?.attemptsMade ?? -1, failedReason: job?.failedReason || undefined };
    }
    if (Date.now() > deadline) throw new Error(`job ${jobId} did not finish (state ${state})`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

describe('tenant jobs, in-process worker', () => {
  const owner = ownerPool();
  const prefix = uniqueQueuePrefix('worker-jobs');
  const logs = new LogCapture();
  let moduleRef: TestingModule;
  let jobs: JobQueue;
  let queue: Queue;
  let platformQueue: Queue;
  let acme: TestTenant;
  let globex: TestTenant;

  beforeAll(async () => {
    const config = loadConfig({ ...process.env, QUEUE_PREFIX: prefix, LOG_LEVEL: 'info' });
    moduleRef = await Test.createTestingModule({
      imports: [WorkerModule],
      providers: [RecordScopeHandler, ForgetfulHandler, FlakyHandler, RefusingHandler, SlowHandler, PlatformRecorder, ScheduledRecorder],
    })
      .overrideProvider(AppConfig)
      .useValue(config)
      .overrideProvider(WORKER_LOG_DESTINATION)
      .useValue(logs)
      .compile();
    await moduleRef.init();
    jobs = moduleRef.get(JobQueue);
    queue = moduleRef.get<Queue>(getQueueToken(JOBS_QUEUE));
    platformQueue = moduleRef.get<Queue>(getQueueToken(PLATFORM_QUEUE));
    [acme, globex] = await Promise.all([createTenant(owner, 'jobs-acme'), createTenant(owner, 'jobs-globex')]);
  });

  afterAll(async () => {
    await moduleRef?.close();
    await obliterateQueues(prefix);
  });

  async function rejections(tenantId: string, jobId: string): Promise<{ actor: string; outcome: string; request_id: string; data: Record<string, unknown> }[]> {
    const { rows } = await owner.query("SELECT actor, outcome, request_id, data FROM audit_events WHERE tenant_id = $1 AND type = 'job.rejected' AND subject = $2", [tenantId, `job:${jobId}`]);
    return rows;
  }

  /** Enqueues, waits, and returns the outcome plus the audit rows in the envelope's tenant. */
  async function run(scope: Scope, name: string, data: unknown = {}, opts: TenantJobOptions = {}) {
    const jobId = await jobs.enqueueTenantJob(scope, name, data, opts);
    const outcome = await finished(queue, jobId);
    return { jobId, ...outcome, audited: await rejections(scope.tenantId, jobId) };
  }

  const userScope = (tenant: TestTenant, role: 'owner' | 'admin' | 'member' | 'viewer', sessionId?: string) =>
    Scope.for(tenant.id, { kind: 'user', userId: tenant.users[role].id, role, ...(sessionId ? { sessionId } : {}) });

  async function insertSession(tenant: TestTenant, userId: string, fields: { revokedAt?: Date; expiresAt?: Date } = {}): Promise<string> {
    const id = randomUUID();
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id]);
      await client.query('INSERT INTO sessions (tenant_id, id, user_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)', [
        tenant.id,
        id,
        userId,
        fields.expiresAt ?? new Date(Date.now() + 3600_000),
        fields.revokedAt ?? null,
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    return id;
  }

  describe(tag('JOB-ENVELOPE', 'runs a job in the Scope of its actor as they are now'), () => {
    it('a user: the membership role read when the job runs, not the one the producer had', async () => {
      const tenant = await createTenant(owner, 'jobs-role');
      const sessionId = await insertSession(tenant, tenant.users.admin.id);
      // Queued as an admin, demoted before it runs.
      await owner.query('UPDATE memberships SET role = $3 WHERE tenant_id = $1 AND user_id = $2', [tenant.id, tenant.users.admin.id, 'viewer']);
      const { jobId, state } = await run(userScope(tenant, 'admin', sessionId), 'test.record');
      expect(state).toBe('completed');
      expect(seen.get(jobId)).toMatchObject({ tenantId: tenant.id, principal: { kind: 'user', userId: tenant.users.admin.id, role: 'viewer', sessionId } });
    });

    it('a partner client: its current scopes, never more than the request had', async () => {
      const { clientId } = await createPartnerClient(owner, acme.id, acme.users.owner.id, { scopes: ['invoices:read', 'tickets:read'] });
      const scope = Scope.for(acme.id, { kind: 'partner', clientId, scopes: ['invoices:read', 'invoices:write'], tier: 'premium' });
      const { jobId, state } = await run(scope, 'test.record');
      expect(state).toBe('completed');
      expect(seen.get(jobId)?.principal).toEqual({ kind: 'partner', clientId, scopes: ['invoices:read'], tier: 'standard' });
    });

    it('a system principal: by its name', async () => {
      const { jobId, state } = await run(Scope.for(acme.id, { kind: 'system', name: 'webhooks' }), 'test.record');
      expect(state).toBe('completed');
      expect(seen.get(jobId)?.principal).toEqual({ kind: 'system', name: 'webhooks' });
    });

    it('hands the request id to RequestContext inside the handler, as a request would', async () => {
      const { jobId } = await run(userScope(acme, 'member'), 'test.record');
      const entry = seen.get(jobId)!;
      expect(entry.requestId).toMatch(/^[0-9a-f-]{36}$/);
      const line = logs.lines.find((l) => l.jobId === jobId && l.msg === 'job finished');
      expect(line).toMatchObject({ job: 'test.record', tenantId: acme.id, requestId: entry.requestId, actor: `user:${acme.users.member.id}`, attempt: 1 });
    });
  });

  describe('row-level security holds even when a handler forgets its CASL condition', () => {
    it('sees only the envelope tenant rows, and finds another tenant row neither by id nor by tenant', async () => {
      await insertInvoice(owner, acme.id, { createdById: acme.users.owner.id });
      const otherInvoiceId = await insertInvoice(owner, globex.id, { createdById: globex.users.owner.id });
      const { jobId, state } = await run(userScope(acme, 'viewer'), 'test.forgetful', { otherInvoiceId, otherTenant: globex.id });
      expect(state).toBe('completed');
      expect(seen.get(jobId)).toMatchObject({ invoiceTenants: [acme.id], otherInvoiceFound: false, explicitOtherTenantRows: 0 });
    });
  });

  describe(tag('JOB-ENVELOPE', 'refuses for good, without retrying, and audits in the envelope tenant'), () => {
    const permanent = (outcome: { state: string; attemptsMade: number; failedReason: string | undefined }, reason: string) => {
      expect(outcome.state).toBe('failed');
      expect(outcome.attemptsMade).toBe(1);
      expect(outcome.failedReason).toContain(reason);
    };

    it('a tenantId in the data that disagrees with the envelope (a producer bug): tenant_mismatch', async () => {
      const outcome = await run(userScope(acme, 'admin'), 'test.record', { tenantId: globex.id });
      permanent(outcome, 'tenant_mismatch');
      expect(seen.has(outcome.jobId)).toBe(false);
      expect(outcome.audited).toEqual([
        expect.objectContaining({ actor: 'system:jobs', outcome: 'denied', data: { job: 'test.record', reason: 'tenant_mismatch', requestedBy: `user:${acme.users.admin.id}` } }),
      ]);
    });

    it('a mismatched tenant id deep in the payload: tenant_mismatch', async () => {
      const outcome = await run(userScope(acme, 'admin'), 'test.record', { items: [{ invoice: { id: randomUUID(), tenantId: acme.id } }, { invoice: { id: randomUUID(), tenantId: globex.id } }] });
      permanent(outcome, 'tenant_mismatch');
      expect(outcome.audited).toHaveLength(1);
    });

    it('a revoked session: actor_revoked (session_revoked)', async () => {
      const sessionId = await insertSession(acme, acme.users.member.id, { revokedAt: new Date() });
      const outcome = await run(userScope(acme, 'member', sessionId), 'test.record');
      permanent(outcome, 'actor_revoked');
      expect(outcome.audited[0]?.data).toMatchObject({ reason: 'actor_revoked', detail: 'session_revoked' });
    });

    it('but not when the producer chose not to tie the job to the session (bindSession: false)', async () => {
      const sessionId = await insertSession(acme, acme.users.member.id, { revokedAt: new Date() });
      const { jobId, state } = await run(userScope(acme, 'member', sessionId), 'test.record', {}, { bindSession: false });
      expect(state).toBe('completed');
      expect(seen.get(jobId)?.principal).toEqual({ kind: 'user', userId: acme.users.member.id, role: 'member' });
    });

    it('an ended session: actor_revoked (session_expired)', async () => {
      const sessionId = await insertSession(acme, acme.users.member.id, { expiresAt: new Date(Date.now() - 1000) });
      const outcome = await run(userScope(acme, 'member', sessionId), 'test.record');
      permanent(outcome, 'actor_revoked');
      expect(outcome.audited[0]?.data).toMatchObject({ detail: 'session_expired' });
    });

    it('a removed member: actor_revoked (not_a_member)', async () => {
      const tenant = await createTenant(owner, 'jobs-removed');
      await owner.query('DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenant.id, tenant.users.member.id]);
      const outcome = await run(userScope(tenant, 'member'), 'test.record');
      permanent(outcome, 'actor_revoked');
      expect(outcome.audited[0]?.data).toMatchObject({ detail: 'not_a_member' });
    });

    it('a member of another tenant only: actor_revoked (not_a_member)', async () => {
      const scope = Scope.for(acme.id, { kind: 'user', userId: globex.users.owner.id, role: 'owner' });
      const outcome = await run(scope, 'test.record');
      permanent(outcome, 'actor_revoked');
      expect(outcome.audited[0]?.data).toMatchObject({ detail: 'not_a_member' });
    });

    it('a locked user: actor_revoked (user_locked)', async () => {
      const tenant = await createTenant(owner, 'jobs-locked');
      await owner.query("UPDATE users SET status = 'locked' WHERE id = $1", [tenant.users.admin.id]);
      const outcome = await run(userScope(tenant, 'admin'), 'test.record');
      permanent(outcome, 'actor_revoked');
      expect(outcome.audited[0]?.data).toMatchObject({ detail: 'user_locked' });
    });

    it('a suspended tenant: tenant_suspended, whoever the actor', async () => {
      const tenant = await createTenant(owner, 'jobs-suspended');
      await owner.query("UPDATE tenants SET status = 'suspended' WHERE id = $1", [tenant.id]);
      for (const scope of [userScope(tenant, 'owner'), Scope.for(tenant.id, { kind: 'system', name: 'webhooks' })]) {
        const outcome = await run(scope, 'test.record');
        permanent(outcome, 'tenant_suspended');
        expect(outcome.audited).toHaveLength(1);
      }
    });

    it('a revoked partner client: actor_revoked (client_revoked)', async () => {
      const { clientId } = await createPartnerClient(owner, acme.id, acme.users.owner.id, { revokedAt: new Date() });
      const outcome = await run(Scope.for(acme.id, { kind: 'partner', clientId, scopes: ['invoices:read'], tier: 'standard' }), 'test.record');
      permanent(outcome, 'actor_revoked');
      expect(outcome.audited[0]?.data).toMatchObject({ detail: 'client_revoked', requestedBy: `partner:${clientId}` });
    });

    it('a revoked API key (the one the request used): actor_revoked (key_revoked)', async () => {
      const { clientId } = await createPartnerClient(owner, acme.id, acme.users.owner.id);
      const { keyId } = await createPartnerKey(owner, acme.id, clientId, acme.users.owner.id, { revokedAt: new Date() });
      const outcome = await run(Scope.for(acme.id, { kind: 'partner', clientId, keyId, scopes: ['invoices:read'], tier: 'standard' }), 'test.record');
      permanent(outcome, 'actor_revoked');
      expect(outcome.audited[0]?.data).toMatchObject({ detail: 'key_revoked' });
    });

    it('a partner client of another tenant: actor_revoked (client_unknown)', async () => {
      const { clientId } = await createPartnerClient(owner, globex.id, globex.users.owner.id);
      const outcome = await run(Scope.for(acme.id, { kind: 'partner', clientId, scopes: ['invoices:read'], tier: 'standard' }), 'test.record');
      permanent(outcome, 'actor_revoked');
      expect(outcome.audited[0]?.data).toMatchObject({ detail: 'client_unknown' });
    });

    it('a job no handler serves: unknown_job', async () => {
      const outcome = await run(userScope(acme, 'owner'), 'test.nobody');
      permanent(outcome, 'unknown_job');
      expect(outcome.audited).toHaveLength(1);
    });

    it('a handler refusal of its own (JobRejection)', async () => {
      const outcome = await run(userScope(acme, 'owner'), 'test.refuse');
      permanent(outcome, 'export_gone');
      expect(outcome.audited[0]?.data).toMatchObject({ reason: 'export_gone' });
    });
  });

  describe(tag('JOB-ENVELOPE', 'refuses envelopes that do not verify, and logs them without writing into the claimed tenant'), () => {
    const signer = () => moduleRef.get(JobSigner);

    async function addRaw(name: string, data: unknown): Promise<string> {
      const job = await queue.add(name, data, { attempts: 5, backoff: { type: 'fixed', delay: 10 } });
      return job.id!;
    }

    it('an envelope whose tenant was changed in Redis: bad_signature', async () => {
      const signed = signer().sign({ v: 1, kind: 'tenant', name: 'test.record', tenantId: acme.id, actor: { kind: 'user', userId: acme.users.owner.id }, requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} });
      const jobId = await addRaw('test.record', { ...signed, envelope: { ...signed.envelope, tenantId: globex.id } });
      const outcome = await finished(queue, jobId);
      expect(outcome).toMatchObject({ state: 'failed', attemptsMade: 1 });
      expect(outcome.failedReason).toContain('bad_signature');
      expect(seen.has(jobId)).toBe(false);
      expect(await rejections(globex.id, jobId)).toEqual([]);
      expect(await rejections(acme.id, jobId)).toEqual([]);
      expect(logs.lines.find((l) => l.jobId === jobId && l.msg === 'job refused: envelope not verified')).toMatchObject({ level: 40, reason: 'bad_signature' });
    });

    it('an envelope signed with an unknown key: unknown_key', async () => {
      const signed = signer().sign({ v: 1, kind: 'tenant', name: 'test.record', tenantId: acme.id, actor: { kind: 'system', name: 'webhooks' }, requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} });
      const jobId = await addRaw('test.record', { ...signed, kid: 'retired' });
      const outcome = await finished(queue, jobId);
      expect(outcome).toMatchObject({ state: 'failed', attemptsMade: 1 });
      expect(outcome.failedReason).toContain('unknown_key');
    });

    it('unsigned data (someone with Redis access adding a job by hand): malformed', async () => {
      const jobId = await addRaw('test.record', { tenantId: acme.id, actor: { kind: 'user', userId: acme.users.owner.id, role: 'owner' } });
      const outcome = await finished(queue, jobId);
      expect(outcome).toMatchObject({ state: 'failed', attemptsMade: 1 });
      expect(outcome.failedReason).toContain('malformed');
    });

    it('a genuine platform envelope on the tenant queue: wrong_kind', async () => {
      const jobId = await addRaw('test.record', signer().sign({ v: 1, kind: 'platform', name: 'test.record', requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} }));
      const outcome = await finished(queue, jobId);
      expect(outcome.failedReason).toContain('wrong_kind');
      expect(outcome.attemptsMade).toBe(1);
    });

    it('a genuine envelope relabelled as another job in BullMQ: malformed, audited (the envelope itself is genuine)', async () => {
      const signed = signer().sign({ v: 1, kind: 'tenant', name: 'test.record', tenantId: acme.id, actor: { kind: 'user', userId: acme.users.owner.id }, requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} });
      const jobId = await addRaw('test.forgetful', signed);
      const outcome = await finished(queue, jobId);
      expect(outcome.failedReason).toContain('malformed');
      expect(await rejections(acme.id, jobId)).toHaveLength(1);
    });
  });

  describe('retries ordinary failures', () => {
    it('with backoff until the handler succeeds', async () => {
      const { jobId, state, attemptsMade } = await run(userScope(acme, 'member'), 'test.flaky', { failTimes: 2 }, { attempts: 4, backoff: { type: 'fixed', delay: 20 } });
      expect(state).toBe('completed');
      // BullMQ counts every finished attempt, the successful one included.
      expect(attemptsMade).toBe(3);
      expect(seen.get(jobId)?.attempt).toBe(3);
      const retries = logs.lines.filter((l) => l.jobId === jobId && l.msg === 'job failed; will retry');
      expect(retries.map((l) => l.attempt)).toEqual([1, 2]);
    });

    it('and fails the job after its last attempt, unaudited (a failure, not a refusal)', async () => {
      const outcome = await run(userScope(acme, 'member'), 'test.flaky', { failTimes: 10 }, { attempts: 3, backoff: { type: 'fixed', delay: 10 } });
      expect(outcome).toMatchObject({ state: 'failed', attemptsMade: 3, failedReason: 'transient failure' });
      expect(outcome.audited).toEqual([]);
      expect(logs.lines.find((l) => l.jobId === outcome.jobId && l.msg === 'job failed')).toMatchObject({ level: 50, attempt: 3 });
    });

    it('by default eight times, exponentially from one second (about two minutes: a database restart does not use them up)', async () => {
      const jobId = await jobs.enqueueTenantJob(userScope(acme, 'member'), 'test.record', {}, { delayMs: 60_000 });
      const job = await queue.getJob(jobId);
      expect(job?.opts).toMatchObject({ attempts: 8, backoff: { type: 'exponential', delay: 1000 }, delay: 60_000 });
      await job?.remove();
    });
  });

  describe('platform jobs', () => {
    it('run their handler with no tenant, with the request id of the producer', async () => {
      const cls = moduleRef.get(RequestContext);
      expect(cls.requestId).toBeUndefined();
      const jobId = await jobs.enqueuePlatformJob('test.platform', { batch: 7 });
      expect(await finished(platformQueue, jobId)).toMatchObject({ state: 'completed', attemptsMade: 1 });
      expect(platformRuns).toEqual([{ requestId: expect.stringMatching(/^[0-9a-f-]{36}$/), contextRequestId: platformRuns[0]?.requestId, data: { batch: 7 } }]);
    });

    it('are refused on the platform queue when they carry a tenant envelope', async () => {
      const signed = moduleRef.get(JobSigner).sign({ v: 1, kind: 'tenant', name: 'test.platform', tenantId: acme.id, actor: { kind: 'system', name: 'cleanup' }, requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} });
      const job = await platformQueue.add('test.platform', signed, { attempts: 3 });
      const outcome = await finished(platformQueue, job.id!);
      expect(outcome).toMatchObject({ state: 'failed', attemptsMade: 1 });
      expect(outcome.failedReason).toContain('wrong_kind');
    });

    it('a handler that declares an interval is scheduled at start, with a signed envelope', async () => {
      const schedulers = await platformQueue.getJobSchedulers();
      expect(schedulers.filter((s) => s.key === 'test.scheduled')).toEqual([expect.objectContaining({ name: 'test.scheduled', every: 60_000 })]);
      const next = (await platformQueue.getDelayed()).find((j) => j.name === 'test.scheduled');
      expect(moduleRef.get(JobSigner).verify(next?.data)).toMatchObject({ kind: 'platform', name: 'test.scheduled', data: { sweep: true } });
    });
  });

  it('never writes job data into the logs', async () => {
    const marker = `SENTINEL-${randomBytes(6).toString('hex')}`;
    const { state } = await run(userScope(acme, 'member'), 'test.record', { note: marker });
    expect(state).toBe('completed');
    const refused = await run(userScope(acme, 'member'), 'test.record', { note: marker, tenantId: globex.id });
    expect(refused.state).toBe('failed');
    expect(logs.raw).not.toContain(marker);
  });

  // Last: it shuts the worker down.
  it('on shutdown, waits for running jobs to finish', async () => {
    const jobId = await jobs.enqueueTenantJob(userScope(acme, 'member'), 'test.slow', { ms: 1500 });
    const deadline = Date.now() + 10_000;
    while ((await (await queue.getJob(jobId))?.getState()) !== 'active') {
      if (Date.now() > deadline) throw new Error('job never started');
      await new Promise((r) => setTimeout(r, 20));
    }
    await moduleRef.close();
    expect(seen.get(jobId)).toBeDefined();
    // The module's queues are closed now: look through a connection of our own.
    const reader = testQueue(JOBS_QUEUE, prefix);
    try {
      expect(await (await reader.getJob(jobId))?.getState()).toBe('completed');
    } finally {
      await reader.close();
    }
  });
});

@Controller('test/jobs')
class ProbeJobController {
  constructor(private readonly jobs: JobQueue) {}

  /** Queues `jobs.probe` for the caller, with a marker in its data that must never reach a log. */
  @Post('probe')
  @Authorize('read', 'Tenant')
  async probe(@CurrentScope() scope: Scope): Promise<{ jobId: string }> {
    return { jobId: await this.jobs.enqueueTenantJob(scope, 'jobs.probe', { marker: MARKER }) };
  }
}

const MARKER = `SENTINEL-${randomBytes(6).toString('hex')}`;

describe('tenant jobs, real worker process', () => {
  const owner = ownerPool();
  const prefix = uniqueQueuePrefix('worker-jobs-e2e');
  const password = testPassword();
  let worker: WorkerProcess;
  let api: TestApi;
  let tenant: TestTenant;

  beforeAll(async () => {
    [worker, api, tenant] = await Promise.all([
      startReadyWorker(prefix),
      buildApi({ env: { QUEUE_PREFIX: prefix }, controllers: [ProbeJobController] }),
      createTenant(owner, 'jobs-e2e'),
    ]);
    await setPasswords(owner, [tenant.users.admin.id], password);
  });

  afterAll(async () => {
    await worker?.stop();
    await api?.close();
    await obliterateQueues(prefix);
  });

  it('runs a job queued by an API request in the caller Scope, and the request id follows it into the worker log', async () => {
    const { accessToken } = await new PublicClient(api).login(tenant.users.admin.email, password);
    const requestId = `e2e-job-${randomBytes(8).toString('hex')}`;
    const res = await api.app
      .getHttpAdapter()
      .getInstance()
      .inject({ method: 'POST', url: '/test/jobs/probe', headers: { authorization: `Bearer ${accessToken}`, 'x-request-id': requestId } });
    arranged({ status: res.statusCode, headers: res.headers, text: res.body, body: undefined }, 201, 'queue the probe');
    const { jobId } = JSON.parse(res.body) as { jobId: string };

    await worker.waitFor((l) => l.jobId === jobId && l.msg === 'job finished', 15_000);
    const finishedLine = worker.lines().find((l) => l.jobId === jobId && l.msg === 'job finished');
    expect(finishedLine).toMatchObject({ service: 'benteng-worker', job: 'jobs.probe', tenantId: tenant.id, requestId, actor: `user:${tenant.users.admin.id}` });
    expect(worker.lines().find((l) => l.jobId === jobId && l.msg === 'job started')).toMatchObject({ requestId, principal: `user:${tenant.users.admin.id}` });

    // The probe's own record of the Scope it ran with: the caller, their current role, same request id.
    const { rows } = await owner.query("SELECT actor, request_id, data FROM audit_events WHERE tenant_id = $1 AND type = 'job.probe' AND subject = $2", [tenant.id, `job:${jobId}`]);
    expect(rows).toEqual([{ actor: `user:${tenant.users.admin.id}`, request_id: requestId, data: { attempt: 1, role: 'admin', scopes: null } }]);
    expect(worker.output()).not.toContain(MARKER);
  });

  it(tag('JOB-ENVELOPE', 'refuses the job of a user locked between the request and the run, and audits it'), async () => {
    const { accessToken } = await new PublicClient(api).login(tenant.users.admin.email, password);
    await worker.stop();
    const res = await api.app.getHttpAdapter().getInstance().inject({ method: 'POST', url: '/test/jobs/probe', headers: { authorization: `Bearer ${accessToken}` } });
    expect(res.statusCode).toBe(201);
    const { jobId } = JSON.parse(res.body) as { jobId: string };
    await owner.query("UPDATE users SET status = 'locked' WHERE id = $1", [tenant.users.admin.id]);
    worker = await startReadyWorker(prefix);
    await worker.waitFor((l) => l.jobId === jobId && l.msg === 'job refused', 15_000);
    // The log line comes first; the audit row follows it.
    const deadline = Date.now() + 10_000;
    let rows: unknown[] = [];
    while (rows.length === 0 && Date.now() < deadline) {
      ({ rows } = await owner.query("SELECT actor, data FROM audit_events WHERE tenant_id = $1 AND type = 'job.rejected' AND subject = $2", [tenant.id, `job:${jobId}`]));
      if (rows.length === 0) await new Promise((r) => setTimeout(r, 50));
    }
    expect(rows).toEqual([{ actor: 'system:jobs', data: { job: 'jobs.probe', reason: 'actor_revoked', detail: 'user_locked', requestedBy: `user:${tenant.users.admin.id}` } }]);
  });
});

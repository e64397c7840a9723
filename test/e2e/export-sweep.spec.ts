import { randomUUID } from 'node:crypto';
import { getQueueToken } from '@nestjs/bullmq';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppConfig, loadConfig } from '@benteng/config';
import { EXPORT_MAX_REQUEUES, EXPORT_QUEUED_MAX_AGE_MS, EXPORT_RUN_JOB, EXPORTS_SWEEP_JOB, ExportsSweep } from '@benteng/exports';
import { JOBS_QUEUE, JobQueue, PLATFORM_QUEUE } from '@benteng/jobs';
import { WORKER_LOG_DESTINATION } from '../../apps/worker/src/worker-logging.js';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { LogCapture } from '../support/api.js';
import { ownerPool } from '../support/db.js';
import { auditOf, exportRow, waitForExport } from '../support/exports.js';
import { createTenant, insertInvoice, type TestTenant } from '../support/factories.js';
import { obliterateQueues, uniqueQueuePrefix } from '../support/worker.js';
import { Scope } from '@benteng/tenancy';

/**
 * The export sweeper (libs/exports/src/exports-sweep.ts) with the worker in process, real
 * PostgreSQL and Redis: an export whose `exports.run` job was lost (removed from Redis, as a Redis
 * failover or the emergency sweep of a revoked job-envelope key leaves it) is queued again and
 * built once; an export whose job is still there is left alone; a hopeless one is failed. Without
 * the sweeper the first export stays queued forever.
 *
 * The scheduled `exports.sweep` is set to a day apart (it may run once at start, before any export
 * here exists), and the test calls the sweep itself; its re-queue is guarded, so a scheduled run
 * racing it would not change the outcome.
 */
describe('export sweeper: lost export jobs', () => {
  const owner = ownerPool();
  const prefix = uniqueQueuePrefix('export-sweep');
  const logs = new LogCapture();
  let moduleRef: TestingModule;
  let sweeper: ExportsSweep;
  let jobs: JobQueue;
  let queue: Queue;
  let tenant: TestTenant;

  beforeAll(async () => {
    const config = loadConfig({ ...process.env, QUEUE_PREFIX: prefix, EXPORT_SWEEP_INTERVAL_S: '86400', PLATFORM_CLEANUP_INTERVAL_S: '86400', LOG_LEVEL: 'info' });
    moduleRef = await Test.createTestingModule({ imports: [WorkerModule] })
      .overrideProvider(AppConfig)
      .useValue(config)
      .overrideProvider(WORKER_LOG_DESTINATION)
      .useValue(logs)
      .compile();
    await moduleRef.init();
    sweeper = moduleRef.get(ExportsSweep);
    jobs = moduleRef.get(JobQueue);
    queue = moduleRef.get<Queue>(getQueueToken(JOBS_QUEUE));
    tenant = await createTenant(owner, 'export-sweep');
    await insertInvoice(owner, tenant.id, { createdById: tenant.users.owner.id });
  });

  afterAll(async () => {
    await moduleRef?.close();
    await obliterateQueues(prefix);
  });

  /** A queued export of the tenant's member, as POST /v1/exports records it, created `ageMs` ago. */
  async function insertQueuedExport(ageMs: number, fields: { requeues?: number; requestedById?: string } = {}): Promise<string> {
    const id = randomUUID();
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id]);
      await client.query("INSERT INTO exports (tenant_id, id, type, format, requested_by_id, created_at, requeues) VALUES ($1, $2, 'invoices', 'csv', $3, $4, $5)", [
        tenant.id,
        id,
        fields.requestedById ?? tenant.users.owner.id,
        new Date(Date.now() - ageMs),
        fields.requeues ?? 0,
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    return id;
  }

  /** Queues the export's job as ExportsService.request does (its id as job id), delayed so it does not run yet. */
  const enqueueDelayed = (exportId: string) =>
    jobs.enqueueTenantJob(tenant.scope('owner'), EXPORT_RUN_JOB, { exportId }, { jobId: exportId, delayMs: 3600_000, attempts: 5 });

  const requeues = async (id: string) => (await owner.query<{ requeues: number }>('SELECT requeues FROM exports WHERE tenant_id = $1 AND id = $2', [tenant.id, id])).rows[0]?.requeues;

  it('re-queues an export whose job was removed from Redis, and it becomes ready exactly once', async () => {
    const id = await insertQueuedExport(10 * 60_000);
    await enqueueDelayed(id);
    // The job is lost: what a failover to a replica that never got it, or the revocation sweep, leaves.
    await queue.remove(id);
    expect(await queue.getJob(id)).toBeUndefined();

    await sweeper.sweep();
    const row = await waitForExport(owner, tenant.id, id, (r) => r.status !== 'queued' && r.status !== 'running', 15_000);
    expect(row).toMatchObject({ status: 'ready', row_count: 1, error_code: null });
    expect(row.chunks).toBeGreaterThan(0);

    // A second sweep finds nothing to do: one re-queue, one run, one file.
    await sweeper.sweep();
    expect(await requeues(id)).toBe(1);
    const audit = await auditOf(owner, tenant.id, { subject: `export:${id}` });
    expect(audit.map((e) => [e.type, e.actor])).toEqual([
      ['export.requeued', 'system:cleanup'],
      ['export.completed', `user:${tenant.users.owner.id}`],
    ]);
    expect(audit[0]!.data).toEqual({ job: 'missing', requeue: 1 });
    expect(logs.lines.filter((l) => l.msg === 'lost export job re-queued' && l.exportId === id)).toHaveLength(1);
  });

  it('leaves an export whose job is still waiting alone: no second job, no re-queue', async () => {
    const id = await insertQueuedExport(10 * 60_000);
    await enqueueDelayed(id);
    const before = await queue.getJob(id);
    expect(await before!.getState()).toBe('delayed');

    await sweeper.sweep();
    const after = await queue.getJob(id);
    expect(await after!.getState()).toBe('delayed');
    expect(after!.timestamp).toBe(before!.timestamp);
    expect(after!.data).toEqual(before!.data);
    expect(await requeues(id)).toBe(0);
    expect((await exportRow(owner, tenant.id, id))!.status).toBe('queued');
    expect(await auditOf(owner, tenant.id, { subject: `export:${id}` })).toEqual([]);
    await queue.remove(id);
  });

  it('re-queues an export whose job failed for good without the export being marked (a job refused before it ran)', async () => {
    const id = await insertQueuedExport(10 * 60_000);
    // Unsigned data under the export's job id: the worker refuses it (malformed) and the failure
    // listener, which trusts only signed envelopes, leaves the export as it was.
    await queue.add(EXPORT_RUN_JOB, { exportId: id }, { jobId: id, attempts: 1 });
    await expect.poll(() => queue.getJobState(id), { timeout: 10_000 }).toBe('failed');
    expect((await exportRow(owner, tenant.id, id))!.status).toBe('queued');

    await sweeper.sweep();
    const row = await waitForExport(owner, tenant.id, id, (r) => r.status !== 'queued' && r.status !== 'running', 15_000);
    expect(row.status).toBe('ready');
    const audit = await auditOf(owner, tenant.id, { subject: `export:${id}`, types: ['export.requeued', 'export.completed'] });
    expect(audit.map((e) => e.type)).toEqual(['export.requeued', 'export.completed']);
    expect(audit[0]!.data).toEqual({ job: 'failed', requeue: 1 });
  });

  it('fails, rather than re-queues, an export whose genuine job the worker refused for its requester (a revoked session) when the failure went unrecorded', async () => {
    const id = await insertQueuedExport(10 * 60_000, { requestedById: tenant.users.member.id });
    const sessionId = randomUUID();
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id]);
      await client.query('INSERT INTO sessions (tenant_id, id, user_id, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5)', [
        tenant.id,
        sessionId,
        tenant.users.member.id,
        new Date(Date.now() + 3600_000),
        new Date(),
      ]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    const scope = Scope.for(tenant.id, { kind: 'user', userId: tenant.users.member.id, role: 'member', sessionId });
    await jobs.enqueueTenantJob(scope, EXPORT_RUN_JOB, { exportId: id }, { jobId: id, attempts: 5 });
    await expect.poll(() => queue.getJobState(id), { timeout: 10_000 }).toBe('failed');
    // The failure listener records it; undo that, as if no listener had been running.
    await waitForExport(owner, tenant.id, id, (r) => r.status === 'failed', 10_000);
    await owner.query("UPDATE exports SET status = 'queued', error_code = NULL, completed_at = NULL WHERE tenant_id = $1 AND id = $2", [tenant.id, id]);

    await sweeper.sweep();
    expect(await exportRow(owner, tenant.id, id)).toMatchObject({ status: 'failed', error_code: 'actor_revoked' });
    expect(await requeues(id)).toBe(0);
    expect(await queue.getJobState(id)).toBe('failed');
    expect(await auditOf(owner, tenant.id, { subject: `export:${id}`, types: ['export.requeued'] })).toEqual([]);
  });

  it(`fails a lost export re-queued ${EXPORT_MAX_REQUEUES} times already, and one older than the hard limit`, async () => {
    const exhausted = await insertQueuedExport(10 * 60_000, { requeues: EXPORT_MAX_REQUEUES });
    const ancient = await insertQueuedExport(EXPORT_QUEUED_MAX_AGE_MS + 60_000);
    await sweeper.sweep();
    for (const id of [exhausted, ancient]) {
      expect(await exportRow(owner, tenant.id, id)).toMatchObject({ status: 'failed', error_code: 'job_lost' });
      const audit = await auditOf(owner, tenant.id, { subject: `export:${id}` });
      expect(audit.map((e) => [e.type, e.outcome, e.actor, e.data])).toEqual([['export.failed', 'failure', 'system:cleanup', { errorCode: 'job_lost' }]]);
      expect(await queue.getJob(id)).toBeUndefined();
    }
  });

  it('fails a lost export whose requester is no longer a member instead of queueing a job that would be refused', async () => {
    const id = await insertQueuedExport(10 * 60_000, { requestedById: tenant.users.viewer.id });
    const client = await owner.connect();
    try {
      await client.query('BEGIN');
      await client.query("SELECT set_config('app.tenant_id', $1, true)", [tenant.id]);
      await client.query('DELETE FROM memberships WHERE tenant_id = $1 AND user_id = $2', [tenant.id, tenant.users.viewer.id]);
      await client.query('COMMIT');
    } finally {
      client.release();
    }
    await sweeper.sweep();
    expect(await exportRow(owner, tenant.id, id)).toMatchObject({ status: 'failed', error_code: 'actor_revoked' });
    expect(await queue.getJob(id)).toBeUndefined();
  });

  it('runs as the platform job exports.sweep, scheduled every EXPORT_SWEEP_INTERVAL_S', async () => {
    const schedulers = await moduleRef.get<Queue>(getQueueToken(PLATFORM_QUEUE)).getJobSchedulers();
    expect(schedulers.filter((s) => s.key === EXPORTS_SWEEP_JOB)).toEqual([expect.objectContaining({ name: EXPORTS_SWEEP_JOB, every: 86_400_000 })]);
    const id = await insertQueuedExport(10 * 60_000);
    await jobs.enqueuePlatformJob(EXPORTS_SWEEP_JOB, {});
    expect(await waitForExport(owner, tenant.id, id, (r) => r.status === 'ready', 15_000)).toMatchObject({ status: 'ready', row_count: 1 });
    expect(await requeues(id)).toBe(1);
  });

  it('leaves an export queued within the grace period (its request may be enqueueing it right now)', async () => {
    const id = await insertQueuedExport(5_000);
    await sweeper.sweep();
    expect((await exportRow(owner, tenant.id, id))!.status).toBe('queued');
    expect(await queue.getJob(id)).toBeUndefined();
  });
});

import { spawnSync } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '@benteng/config';
import { projectRoot } from '@benteng/database';
import { JobSigner, PLATFORM_QUEUE } from '@benteng/jobs';
import { DATA_REENCRYPTION_JOB } from '@benteng/webhooks';
import { obliterateQueues, startReadyWorker, testQueue, uniqueQueuePrefix, type WorkerProcess } from '../support/worker.js';
import { tag } from '../security/support/controls.js';

/**
 * The job-envelope key rotation procedure of docs/operations.md ("Key rotation", environment
 * families), run against the compiled worker: jobs signed with the old key are queued, the new
 * JOB_SIGNING_KEYS from `keys:rotate -- job-envelope --env` (new key first, old after it) is deployed to
 * the worker, and every job runs, old and new; a worker given the new key alone refuses the old
 * key's jobs (`unknown_key`), which is why the old key stays until its jobs have run.
 */

const prefix = uniqueQueuePrefix('job-key-rotation');
const oldValue = `j1${randomBytes(3).toString('hex')}:${randomBytes(32).toString('base64url')}`;
let queue: Queue;
let worker: WorkerProcess | undefined;

const signerOf = (value: string) => new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: value }));
/** A real platform job the worker serves (a no-op without an older data-encryption key), signed by `signer`. */
async function queueJob(signer: JobSigner): Promise<string> {
  const signed = signer.sign({ v: 1, kind: 'platform', name: DATA_REENCRYPTION_JOB, requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} });
  return (await queue.add(DATA_REENCRYPTION_JOB, signed, { attempts: 1 })).id!;
}
async function outcomeOf(jobId: string): Promise<{ state: string; failedReason?: string }> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const job = await queue.getJob(jobId);
    const state = (await job?.getState()) ?? 'missing';
    if (state === 'completed' || state === 'failed') return { state, ...(job?.failedReason ? { failedReason: job.failedReason } : {}) };
    if (Date.now() > deadline) return { state };
    await new Promise((r) => setTimeout(r, 50));
  }
}

beforeAll(() => {
  queue = testQueue(PLATFORM_QUEUE, prefix);
});
afterAll(async () => {
  await worker?.stop();
  await queue?.close();
  await obliterateQueues(prefix);
});

describe('job-envelope keys: rotation by redeploying', () => {
  it(tag('SECRETS-LIFECYCLE', 'jobs queued under the old key still run after the new value is deployed; the old key goes only after them'), async () => {
    // The old deployment queued these (no worker running: they wait in Redis).
    const oldSigner = signerOf(oldValue);
    const queuedBefore = await Promise.all([1, 2, 3].map(() => queueJob(oldSigner)));

    // The documented step: `npm run -s keys:rotate -- job-envelope --env` prints the next value.
    const cli = join(projectRoot(), 'dist', 'apps', 'worker', 'src', 'keys-rotate.cli.js');
    const rotated = spawnSync(process.execPath, [cli, 'job-envelope', '--env'], { env: { ...process.env, NODE_ENV: 'test', JOB_SIGNING_KEYS: oldValue }, encoding: 'utf8', timeout: 60_000 });
    expect(rotated.status).toBe(0);
    const nextValue = rotated.stdout.trim();
    const newSigner = signerOf(nextValue);

    // Deployed to the worker: the old jobs and the new ones all run; none is refused.
    worker = await startReadyWorker(prefix, { JOB_SIGNING_KEYS: nextValue });
    const queuedAfter = await Promise.all([1, 2, 3].map(() => queueJob(newSigner)));
    for (const id of [...queuedBefore, ...queuedAfter]) expect({ id, ...(await outcomeOf(id)) }).toEqual({ id, state: 'completed' });

    // Once they have run, the old key is removed: from then on its jobs are refused, the new key's run.
    await worker.stop();
    const newKeyOnly = nextValue.split(',')[0]!;
    worker = await startReadyWorker(prefix, { JOB_SIGNING_KEYS: newKeyOnly });
    const late = await queueJob(oldSigner);
    expect(await outcomeOf(late)).toMatchObject({ state: 'failed', failedReason: expect.stringContaining('unknown_key') });
    expect(await outcomeOf(await queueJob(newSigner))).toEqual({ state: 'completed' });
  }, 90_000);
});

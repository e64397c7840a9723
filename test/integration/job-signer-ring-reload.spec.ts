import { randomBytes, randomUUID } from 'node:crypto';
import type { Job } from 'bullmq';
import { UnrecoverableError } from 'bullmq';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PlatformAuditLog } from '@benteng/audit';
import { keyRingRootKeys, loadConfig, type AppConfig } from '@benteng/config';
import { KeyRingRepository, PrismaService, sealKeyMaterial, type KeyFamily, type KeyRingRow } from '@benteng/database';
import { JobRejection, JobSigner, revokedKeyRecorder, type SignedEnvelope } from '@benteng/jobs';
import { verifiedEnvelope } from '../../libs/jobs/src/job-signer.js';
import { KeyRotationService } from '../../libs/auth/src/key-rotation.service.js';
import { capturingLogger, SettableClock } from '../support/auth-services.js';
import { FakeClock } from '../support/clock.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { settledVerdictOf, verdictOf } from '../support/job-verdicts.js';

/**
 * JobSigner on the real key ring (prisma/migrations/20261207152000_key_ring), written by the
 * project's own writers (KeyRotationService, KeyRingRepository.change): what a reload loads and
 * ignores, the refresh timer, the reload an unknown kid causes and its one-a-second budget, and the
 * worker's refusal path (verifiedEnvelope: the log line, the platform audit event of a revoked key's
 * job). libs/jobs/src/job-signer-ring.spec.ts covers the ring's lifecycle in memory.
 *
 * Every test has a ring of its own (its own root kid: rows under other root keys are not its ring).
 * The writers' clock stands in 2023, before every other file's, so the key_ring_prune they run
 * removes no other file's retired keys; the retired keys written here verify until 2099, so no
 * other file's prune removes them either.
 */
const owner = ownerPool();
const database = tenantDatabase();
const T0 = new Date('2023-05-01T10:00:00.000Z');
const FAR = new Date('2099-01-01T00:00:00.000Z');
const ENV_KID = 'envkey1';

/** A PostgreSQL that refuses connections (nothing listens on port 1): a real failed read or write. */
const unreachable = new PrismaService(loadConfig(), 'postgresql://benteng_app:x@127.0.0.1:1/benteng');
afterAll(() => unreachable.onModuleDestroy());

/** The real repository, with every read counted (its performance.now()); a read can be held, or sent to another repository. */
class ObservedRing extends KeyRingRepository {
  readonly reads: number[] = [];
  held: Promise<void> | undefined;
  via: KeyRingRepository | undefined;
  override async entries(family: KeyFamily): Promise<KeyRingRow[]> {
    this.reads.push(performance.now());
    const held = this.held;
    const rows = await (this.via ? this.via.entries(family) : super.entries(family));
    if (held) await held;
    return rows;
  }
}

interface RingOptions {
  rootKid?: string;
  rootKey?: string;
  env?: Record<string, string>;
}

/** One deployment's ring: its configuration, its rotation service (clock in 2023) and its root keys. */
function ringOf(options: RingOptions = {}) {
  const rootKid = options.rootKid ?? `g${randomBytes(4).toString('hex')}`;
  const rootKey = options.rootKey ?? randomBytes(32).toString('base64');
  const config = loadConfig({
    ...process.env,
    KEY_RING_ROOT_KEYS: `${rootKid}:${rootKey}`,
    JOB_SIGNING_KEYS: `${ENV_KID}:${randomBytes(32).toString('base64url')}`,
    KEY_PUBLISH_LEAD_S: '0',
    KEY_RING_REFRESH_S: '5',
    ...options.env,
  });
  const repository = new KeyRingRepository(database.prisma);
  const service = new KeyRotationService(repository, config, new SettableClock(new Date(T0)), capturingLogger().logger);
  return { config, rootKid, rootKey, repository, service, root: keyRingRootKeys(config)! };
}
type Ring = ReturnType<typeof ringOf>;

/** Publishes a key and promotes it: the ring then has an active key and a next key. */
async function activeKey(r: Ring): Promise<{ active: string; next: string }> {
  await r.service.rotate('job-envelope', 'now');
  const outcome = await r.service.rotate('job-envelope', 'now');
  return { active: outcome.active!, next: outcome.next! };
}

/** A signer of this ring, as JobsModule builds it (repository, logger, clock), initialised. */
async function signerOf(config: AppConfig, options: { clock?: FakeClock; ring?: KeyRingRepository | null } = {}) {
  const { logger, lines } = capturingLogger();
  const ring = options.ring === null ? undefined : (options.ring ?? new ObservedRing(database.prisma));
  const signer = new JobSigner(config, logger, ring, options.clock);
  await signer.onModuleInit();
  signer.onModuleDestroy();
  return { signer, lines, ring: ring as ObservedRing };
}

const platform = () => ({ v: 1 as const, kind: 'platform' as const, name: 'platform.cleanup', requestId: randomUUID(), issuedAt: new Date().toISOString(), data: {} });
const tenant = (tenantId = randomUUID()) => ({
  v: 1 as const,
  kind: 'tenant' as const,
  name: 'exports.run',
  tenantId,
  actor: { kind: 'user' as const, userId: randomUUID() },
  requestId: randomUUID(),
  issuedAt: new Date().toISOString(),
  data: { exportId: randomUUID() },
});

const reason = (signer: JobSigner, signed: unknown): Promise<string> => settledVerdictOf(() => signer.verifyCurrent(signed), 'verified');

/** verify() alone: the refusal without the reload an unknown kid causes (no wait). */
const verdictNow = (signer: JobSigner, signed: unknown): string => verdictOf(() => signer.verify(signed), 'verified');

/** A job as BullMQ hands it to a processor (the fields verifiedEnvelope and the recorder read). */
const jobOf = (data: unknown, fields: Partial<Pick<Job, 'id' | 'name' | 'attemptsMade'>> = {}) => ({ id: '41', name: 'exports.run', data, attemptsMade: 0, ...fields }) as unknown as Job;

async function refusedEvents(kid: string) {
  const { rows } = await owner.query<{ type: string; outcome: string; actor: string; subject: string; data: Record<string, unknown> }>(
    'SELECT type, outcome, actor, subject, data FROM platform_audit_events WHERE subject = $1 ORDER BY occurred_at, id',
    [`job-envelope:${kid}`],
  );
  return rows;
}

describe('JobSigner: what a reload of the key ring loads', () => {
  it('reads the ring only with both the repository and KEY_RING_ROOT_KEYS; without either, an unknown kid is refused at once, unlogged', async () => {
    const withoutRoot = loadConfig({ ...process.env, KEY_RING_ROOT_KEYS: undefined, JOB_SIGNING_KEYS: `${ENV_KID}:${randomBytes(32).toString('base64url')}` });
    const stranger = new JobSigner(loadConfig({ ...process.env, JOB_SIGNING_KEYS: `other1:${randomBytes(32).toString('base64url')}` })).sign(platform());
    const noRoot = await signerOf(withoutRoot);
    expect(await reason(noRoot.signer, stranger)).toBe('unknown_key');
    expect(noRoot.ring.reads).toEqual([]);
    expect(noRoot.lines).toEqual([]);
    const noRing = await signerOf(ringOf().config, { ring: null });
    expect(await reason(noRing.signer, stranger)).toBe('unknown_key');
    expect(noRing.lines).toEqual([]);
    expect(noRing.signer.activeKid).toBe(ENV_KID);
  });

  it('another deployment on the same database is not this ring: its keys are not loaded, nothing is logged, and its revocation of a kid does not touch this signer’s key of that name', async () => {
    const theirs = ringOf();
    const { active: exposed } = await activeKey(theirs);
    await theirs.service.rotate('job-envelope', 'emergency');
    const theirSigner = await signerOf(theirs.config);
    const theirJob = theirSigner.signer.sign(platform());
    expect(theirJob.kid).not.toBe(exposed);
    expect(await reason(theirSigner.signer, { ...theirJob, kid: exposed })).toBe('revoked_key');
    // Ours configures a key of the same name in JOB_SIGNING_KEYS, and has an empty ring of its own.
    const ours = ringOf({ env: { JOB_SIGNING_KEYS: `${exposed}:${randomBytes(32).toString('base64url')}` } });
    const { signer, lines } = await signerOf(ours.config);
    const job = signer.sign(platform());
    expect(job.kid).toBe(exposed);
    expect(await reason(signer, job)).toBe('verified');
    expect(verdictNow(signer, theirJob)).toBe('unknown_key');
    expect(lines).toEqual([]);
  });

  it('a key that does not decrypt under this deployment’s root key is ignored and logged with its kid and root kid', async () => {
    const ours = ringOf();
    // A process with a wrong KEY_RING_ROOT_KEYS value (the same root kid, another key) publishes a key.
    const misconfigured = ringOf({ rootKid: ours.rootKid });
    const published = await misconfigured.service.rotate('job-envelope', 'now');
    const { signer, lines } = await signerOf(ours.config);
    expect(lines).toEqual([
      { level: 'error', fields: { kid: published.next, rootKid: ours.rootKid }, message: 'key ring: a job key does not decrypt with KEY_RING_ROOT_KEYS; it is ignored' },
    ]);
    const promoted = await misconfigured.service.rotate('job-envelope', 'now');
    expect(promoted.active).toBe(published.next);
    const job = (await signerOf(misconfigured.config)).signer.sign(platform());
    expect(job.kid).toBe(published.next);
    expect(verdictNow(signer, job)).toBe('unknown_key');
    expect(signer.activeKid).toBe(ENV_KID);
  });

  it('a failed read keeps the keys loaded before and warns with the error; the next read loads again', async () => {
    const r = ringOf();
    const { active } = await activeKey(r);
    const { signer, lines, ring } = await signerOf(r.config);
    const before = signer.sign(platform());
    expect(before.kid).toBe(active);
    ring.via = new KeyRingRepository(unreachable);
    await signer.reload();
    expect(lines).toEqual([{ level: 'warn', fields: { err: expect.any(Error) }, message: 'key ring could not be read: keeping the job keys loaded before' }]);
    expect(signer.activeKid).toBe(active);
    expect(await reason(signer, before)).toBe('verified');
    ring.via = undefined;
    const promoted = await r.service.rotate('job-envelope', 'now');
    await signer.reload();
    expect(signer.activeKid).toBe(promoted.active);
    expect(lines).toHaveLength(1);
  });

  it('a retired key verifies until its verify_until by the injected clock, not at that instant', async () => {
    const r = ringOf();
    const { active, next } = await activeKey(r);
    const job = (await signerOf(r.config)).signer.sign(platform());
    expect(job.kid).toBe(active);
    // Retired with a verify_until of its own, through the ring's writer (a rotation computes it from the overlap).
    await r.repository.change('job-envelope', T0, () => ({
      change: {
        transitions: [
          { kid: active, state: 'retired', verifyUntil: FAR },
          { kid: next, state: 'active' },
        ],
      },
      result: undefined,
    }));
    const clock = new FakeClock(new Date(FAR.getTime() - 1));
    const { signer } = await signerOf(r.config, { clock });
    expect(signer.activeKid).toBe(next);
    expect(await reason(signer, job)).toBe('verified');
    clock.advance(0.001);
    await signer.reload();
    expect(verdictNow(signer, job)).toBe('unknown_key');
  });

  it('every configured key revoked and no active key in the ring: signing fails and says why', async () => {
    const r = ringOf();
    const sealed = sealKeyMaterial(r.root, 'job-envelope', ENV_KID, Buffer.from(randomBytes(32).toString('base64url'), 'utf8'));
    await r.repository.change('job-envelope', T0, () => ({ change: { add: { kid: ENV_KID, ...sealed }, transitions: [{ kid: ENV_KID, state: 'revoked' }] }, result: undefined }));
    const { signer } = await signerOf(r.config);
    const message = 'job signing: every configured key is revoked and the key ring has no active key';
    expect(() => signer.sign(platform())).toThrow(new Error(message));
    expect(() => signer.activeKid).toThrow(message);
  });

  it('calls the active-key listeners once per change of the active key, with the new kid, and not on a reload that changes nothing', async () => {
    const r = ringOf();
    await activeKey(r);
    const { signer } = await signerOf(r.config);
    const changes: string[] = [];
    signer.onActiveKeyChange((kid) => changes.push(kid));
    signer.onActiveKeyChange((kid) => changes.push(`second:${kid}`));
    await signer.reload();
    expect(changes).toEqual([]);
    const rotated = await r.service.rotate('job-envelope', 'now');
    await signer.reload();
    await signer.reload();
    expect(changes).toEqual([rotated.active, `second:${rotated.active}`]);
  });
});

describe('JobSigner: the refresh timer', () => {
  it('reloads every KEY_RING_REFRESH_S (a key promoted elsewhere signs here without any job), does not hold the process open, and stops on destroy', async () => {
    const r = ringOf();
    await activeKey(r);
    const ring = new ObservedRing(database.prisma);
    const signer = new JobSigner(r.config, capturingLogger().logger, ring);
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const setInterval = vi.spyOn(globalThis, 'setInterval');
    try {
      await signer.onModuleInit();
      expect(ring.reads).toHaveLength(1);
      expect(setInterval).toHaveBeenCalledTimes(1);
      const timer = setInterval.mock.results[0]!.value as NodeJS.Timeout;
      expect(timer.hasRef()).toBe(false);
      const rotated = await r.service.rotate('job-envelope', 'now');
      vi.advanceTimersByTime(1);
      expect(ring.reads).toHaveLength(1);
      vi.advanceTimersByTime(4_998);
      expect(ring.reads).toHaveLength(1);
      vi.advanceTimersByTime(1);
      expect(ring.reads).toHaveLength(2);
      await signer.reload(); // the timer's read, still running
      expect(ring.reads).toHaveLength(2);
      expect(signer.activeKid).toBe(rotated.active);
      vi.advanceTimersByTime(5_000);
      expect(ring.reads).toHaveLength(3);
      await signer.reload();
      signer.onModuleDestroy();
      expect(vi.getTimerCount()).toBe(0);
      vi.advanceTimersByTime(60_000);
      expect(ring.reads).toHaveLength(3);
    } finally {
      signer.onModuleDestroy();
      setInterval.mockRestore();
      vi.useRealTimers();
    }
  });
});

describe('JobSigner.verifyCurrent: the reload an unknown kid causes', () => {
  it('only an unknown kid reads the ring: a known kid, a bad signature, a malformed job or a revoked kid do not', async () => {
    const r = ringOf();
    const { active } = await activeKey(r);
    const { signer, ring } = await signerOf(r.config);
    const job = signer.sign(platform());
    expect(job.kid).toBe(active);
    const other = ringOf();
    const forged = { ...new JobSigner(other.config).sign(platform()), kid: active };
    expect(await reason(signer, job)).toBe('verified');
    expect(await reason(signer, forged)).toBe('bad_signature');
    expect(await reason(signer, { ...job, sig: 'short' })).toBe('malformed');
    expect(await reason(signer, { envelope: { ...job.envelope, v: 2 }, kid: job.kid, sig: job.sig })).toBe('malformed');
    expect(ring.reads).toHaveLength(1);
    await r.service.rotate('job-envelope', 'emergency');
    await signer.reload();
    expect(ring.reads).toHaveLength(2);
    expect(await reason(signer, job)).toBe('revoked_key');
    expect(ring.reads).toHaveLength(2);
  });

  it('an unknown kid reads the ring again, but no sooner than a second after the last read', async () => {
    const r = ringOf();
    await activeKey(r);
    const { signer, ring } = await signerOf(r.config);
    const promoted = await r.service.rotate('job-envelope', 'now');
    const job = (await signerOf(r.config)).signer.sign(platform());
    expect(job.kid).toBe(promoted.active);
    await signer.reload();
    expect(ring.reads).toHaveLength(2);
    // The key is already loaded: no wait, no read.
    expect(await reason(signer, job)).toBe('verified');
    const stranger = new JobSigner(ringOf({ env: { JOB_SIGNING_KEYS: `stranger1:${randomBytes(32).toString('base64url')}` } }).config).sign(platform());
    expect(await reason(signer, stranger)).toBe('unknown_key');
    expect(ring.reads).toHaveLength(3);
    expect(ring.reads[2]! - ring.reads[1]!).toBeGreaterThanOrEqual(999);
  });

  it('a read that started after the kid was seen is enough: a finished one is not repeated, a running one is awaited', async () => {
    const r = ringOf();
    await activeKey(r);
    const { signer, ring } = await signerOf(r.config);
    const signerFor = async () => (await signerOf(r.config, { ring: new KeyRingRepository(database.prisma) })).signer;
    // Another process promotes a key this signer has not loaded (not even as the next key); a job
    // it signs arrives right after this signer's last read.
    const promote = async () => {
      await r.service.rotate('job-envelope', 'now');
      const { active } = await r.service.rotate('job-envelope', 'now');
      const job = (await signerFor()).sign(platform());
      expect(job.kid).toBe(active);
      expect(verdictNow(signer, job)).toBe('unknown_key');
      return job;
    };
    const first = await promote();
    const verdict = reason(signer, first);
    await signer.reload(); // the refresh timer's read, started after the kid was seen, finished while it waits
    expect(await verdict).toBe('verified');
    expect(ring.reads).toHaveLength(2);
    // Again, but the read started after the kid was seen is still running when the wait ends.
    const second = await promote();
    // A read just now (one that fails: it still counts against the budget) makes the kid wait, without loading the key.
    ring.via = new KeyRingRepository(unreachable);
    await signer.reload();
    ring.via = undefined;
    expect(ring.reads).toHaveLength(3);
    expect(verdictNow(signer, second)).toBe('unknown_key');
    const running = reason(signer, second);
    let release = (): void => undefined;
    ring.held = new Promise<void>((resolve) => (release = resolve));
    const timerRead = signer.reload();
    ring.held = undefined;
    setTimeout(release, 1_300);
    expect(await running).toBe('verified');
    await timerRead;
    expect(ring.reads).toHaveLength(4);
  });
});

describe('verifiedEnvelope and revokedKeyRecorder: the worker refusing a job', () => {
  const audit = new PlatformAuditLog(database.prisma);

  it('a revoked key’s job fails for good, is logged with its kid and recorded as platform.job_refused with the claimed tenant', async () => {
    const r = ringOf();
    const { active: exposed } = await activeKey(r);
    const { signer } = await signerOf(r.config);
    const claimedTenant = randomUUID();
    const signed = JSON.parse(JSON.stringify(signer.sign(tenant(claimedTenant)))) as SignedEnvelope;
    await r.service.rotate('job-envelope', 'emergency');
    await signer.reload();
    const { logger, lines } = capturingLogger();
    const job = jobOf(signed, { id: '41', attemptsMade: 2 });
    const error = await verifiedEnvelope(signer, job, 'tenant', 'jobs-q', logger, revokedKeyRecorder(audit, job, 'jobs-q')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toBe('job rejected: revoked_key');
    expect(lines).toStrictEqual([
      { level: 'warn', fields: { queue: 'jobs-q', jobId: '41', job: 'exports.run', attempt: 3, reason: 'revoked_key', kid: exposed }, message: 'job refused: envelope not verified' },
    ]);
    expect(await refusedEvents(exposed)).toEqual([
      {
        type: 'platform.job_refused',
        outcome: 'denied',
        actor: 'system:job-worker',
        subject: `job-envelope:${exposed}`,
        data: {
          family: 'job-envelope',
          kid: exposed,
          reason: 'revoked_key',
          queue: 'jobs-q',
          jobId: '41',
          job: 'exports.run',
          claimedTenantId: claimedTenant,
          claimedIssuedAt: signed.envelope.issuedAt,
        },
      },
    ]);
  });

  it('a job of the other kind fails as wrong_kind, logged without a kid and not recorded; the right kind is returned', async () => {
    const r = ringOf();
    const { active } = await activeKey(r);
    const { signer } = await signerOf(r.config);
    const signed = signer.sign(tenant());
    const { logger, lines } = capturingLogger();
    const job = jobOf(signed, { id: '7' });
    const recorded: string[] = [];
    const recorder = revokedKeyRecorder(audit, job, 'platform-q');
    const error = await verifiedEnvelope(signer, job, 'platform', 'platform-q', logger, async (rejection) => {
      recorded.push(rejection.reason);
      await recorder(rejection);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toBe('job rejected: wrong_kind');
    expect(recorded).toEqual(['wrong_kind']);
    expect(lines).toStrictEqual([{ level: 'warn', fields: { queue: 'platform-q', jobId: '7', job: 'exports.run', attempt: 1, reason: 'wrong_kind' }, message: 'job refused: envelope not verified' }]);
    expect(await refusedEvents(active)).toEqual([]);
    expect(await verifiedEnvelope(signer, job, 'tenant', 'jobs-q', logger)).toEqual(signed.envelope);
    expect(lines).toHaveLength(1);
  });

  it('a job that is not an object fails as malformed; a refusal that cannot be recorded is logged and the job still fails for good', async () => {
    const { signer } = await signerOf(ringOf().config);
    const { logger, lines } = capturingLogger();
    for (const data of [null, 'job', undefined]) {
      const error = await verifiedEnvelope(signer, jobOf(data), 'tenant', 'jobs-q', logger).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnrecoverableError);
      expect((error as Error).message).toBe('job rejected: malformed');
    }
    expect(lines.map((l) => l.fields)).toStrictEqual(Array.from({ length: 3 }, () => ({ queue: 'jobs-q', jobId: '41', job: 'exports.run', attempt: 1, reason: 'malformed' })));
    lines.length = 0;
    // The platform audit log's database is down while a revoked key's job is refused.
    const r = ringOf();
    const { active } = await activeKey(r);
    const ringSigner = (await signerOf(r.config)).signer;
    const signed = ringSigner.sign(platform());
    await r.service.rotate('job-envelope', 'emergency');
    await ringSigner.reload();
    const job = jobOf(signed, { name: 'platform.cleanup' });
    const error = await verifiedEnvelope(ringSigner, job, 'platform', 'platform-q', logger, revokedKeyRecorder(new PlatformAuditLog(unreachable), job, 'platform-q')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnrecoverableError);
    expect((error as Error).message).toBe('job rejected: revoked_key');
    expect(lines).toStrictEqual([
      { level: 'warn', fields: { queue: 'platform-q', jobId: '41', job: 'platform.cleanup', attempt: 1, reason: 'revoked_key', kid: active }, message: 'job refused: envelope not verified' },
      { level: 'error', fields: { err: expect.any(Error) }, message: 'job refusal could not be recorded' },
    ]);
    expect(await refusedEvents(active)).toEqual([]);
  });

  it('the record keeps only bounded facts of an untrusted job: no kid is "unknown", no id is empty, claimed values are cut to their length', async () => {
    const revoked = new JobRejection('revoked_key');
    const marker = `m${randomBytes(6).toString('hex')}`;
    const tenantId = `${randomUUID()}-and-more-${marker}`;
    const issuedAt = `${new Date().toISOString()}-and-much-more-${marker}`;
    await revokedKeyRecorder(audit, jobOf({ kid: marker, envelope: { tenantId, issuedAt } }, { id: undefined, name: 'exports.run' }), 'jobs-q')(revoked);
    const [event] = await refusedEvents(marker);
    expect(event!.data).toMatchObject({ kid: marker, jobId: '', claimedTenantId: tenantId.slice(0, 36), claimedIssuedAt: issuedAt.slice(0, 40) });
    const noKid = jobOf({ envelope: 'not an object' }, { id: `x${marker}` });
    await revokedKeyRecorder(audit, noKid, 'jobs-q')(revoked);
    await revokedKeyRecorder(audit, noKid, 'jobs-q')(new JobRejection('bad_signature'));
    await revokedKeyRecorder(undefined, noKid, 'jobs-q')(revoked);
    const { rows } = await owner.query<{ data: Record<string, unknown> }>("SELECT data FROM platform_audit_events WHERE subject = 'job-envelope:unknown' AND data->>'jobId' = $1", [`x${marker}`]);
    expect(rows.map((row) => row.data)).toEqual([{ family: 'job-envelope', kid: 'unknown', reason: 'revoked_key', queue: 'jobs-q', jobId: `x${marker}`, job: 'exports.run', claimedTenantId: null, claimedIssuedAt: null }]);
  });
});

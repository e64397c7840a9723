import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { PlatformAuditLog } from '@benteng/audit';
import { keyRingRootKeys } from '@benteng/config';
import { KeyRingRepository, openKeyMaterial, sealKeyMaterial, type KeyFamily } from '@benteng/database';
import { jobEnvelopeKeyOverlapS, JOBS_QUEUE, PLATFORM_QUEUE, QUEUE_SWEEP_TIMEOUT_MS, QueuedJobRevocation } from '@benteng/jobs';
import { KeyRotationHandler } from '../../libs/auth/src/key-rotation.handler.js';
import { KeyRingUnavailableError, KeyRotationService, rotationPolicy, type RotationOutcome } from '../../libs/auth/src/key-rotation.service.js';
import type { RotationMode } from '../../libs/auth/src/key-rotation.js';
import { authConfig, capturingLogger, SettableClock } from '../support/auth-services.js';
import { ownerPool, tenantDatabase } from '../support/db.js';
import { ready, testRedis } from '../support/redis.js';
import { obliterateQueues, testQueue, uniqueQueuePrefix } from '../support/worker.js';
import { tag } from '../security/support/controls.js';

/**
 * KeyRotationService (and its scheduled job, KeyRotationHandler) on the real PostgreSQL and Redis
 * (SECRETS-LIFECYCLE): what each rotation writes to the key ring (prisma/migrations/20261207152000_key_ring),
 * answers and logs, the platform audit event of an emergency, and the queued jobs an emergency
 * rotation of `job-envelope` takes out of the queues. The decision itself is planRotation's
 * (libs/auth/src/key-rotation.spec.ts); this file pins how the service applies it.
 *
 * Every test has a ring of its own (its own root kid: rows under other root keys are not its ring),
 * and its clock stands in the past, so its key_ring_prune never removes another file's retired keys.
 */
const owner = ownerPool();
const database = tenantDatabase();
const prefixes: string[] = [];
afterAll(async () => {
  for (const prefix of prefixes) await obliterateQueues(prefix);
});

const T0 = new Date('2024-03-01T10:00:00.000Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const rootKey = () => randomBytes(32).toString('base64');
const newRootKid = () => `h${randomBytes(4).toString('hex')}`;
/** Distinct lifetimes, so the longer one is known to be chosen. */
const TTLS = { ACCESS_TOKEN_TTL_S: '300', PARTNER_TOKEN_TTL_S: '500', KEY_RING_REFRESH_S: '7', KEY_PUBLISH_LEAD_S: '900', ACCESS_TOKEN_KEY_MAX_AGE_S: '3600', JOB_ENVELOPE_KEY_MAX_AGE_S: '7200' };
const ACCESS_OVERLAP_S = 7 + 500 + 60;
const WAITING_PUBLISHED = 'a next key is published now; it can sign once it has been published for KEY_PUBLISH_LEAD_S';
const KID = /^r20240301-[0-9a-f]{8}$/;

interface Options {
  clock?: SettableClock;
  env?: Record<string, string>;
  /** Root keys: kid → key; default one of its own. */
  roots?: [string, string][];
  audit?: boolean;
  queuedJobs?: QueuedJobRevocation;
}

/** The service wired as AuthModule wires it, with its own ring. */
function rotation(options: Options = {}) {
  const roots = options.roots ?? [[newRootKid(), rootKey()]];
  const { logger, lines, contexts } = capturingLogger();
  const config = authConfig({ ...TTLS, ...options.env, KEY_RING_ROOT_KEYS: roots.map(([kid, key]) => `${kid}:${key}`).join(',') });
  const clock = options.clock ?? new SettableClock(new Date(T0));
  const ring = new KeyRingRepository(database.prisma);
  const service = new KeyRotationService(ring, config, clock, logger, options.audit === false ? undefined : new PlatformAuditLog(database.prisma), options.queuedJobs);
  return { service, config, clock, lines, contexts, rootKid: roots[0]![0], roots, root: keyRingRootKeys(config)! };
}

interface StoredKey {
  kid: string;
  state: string;
  root_kid: string;
  material: Buffer;
  created_at: Date;
  activated_at: Date | null;
  retired_at: Date | null;
  verify_until: Date | null;
  revoked_at: Date | null;
}

/** The rows of a ring (its root kids) in a family, as stored, oldest first. */
async function stored(family: KeyFamily, rootKids: string[]): Promise<StoredKey[]> {
  const { rows } = await owner.query<StoredKey>(
    'SELECT kid, state, root_kid, material, created_at, activated_at, retired_at, verify_until, revoked_at FROM key_ring WHERE family = $1 AND root_kid = ANY($2) ORDER BY created_at, kid',
    [family, rootKids],
  );
  return rows;
}
const states = (rows: StoredKey[]) => Object.fromEntries(rows.map((r) => [r.kid, r.state]));

/** A key inserted as another process left it (the arrangement, not the code under test). */
async function insertKey(family: KeyFamily, r: ReturnType<typeof rotation>, seed: { kid: string; state: 'next' | 'active'; createdAt: Date; activatedAt?: Date | null }): Promise<void> {
  const sealed = sealKeyMaterial(r.root, family, seed.kid, Buffer.from('material', 'utf8'));
  await owner.query('INSERT INTO key_ring (family, kid, state, root_kid, material, created_at, activated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)', [
    family,
    seed.kid,
    seed.state,
    sealed.rootKid,
    sealed.material,
    seed.createdAt,
    seed.activatedAt ?? null,
  ]);
}

async function platformEvents(subject: string) {
  const { rows } = await owner.query<{ type: string; outcome: string; actor: string; subject: string; reason: string | null; ip: string | null; request_id: string | null; data: Record<string, unknown> }>(
    'SELECT type, outcome, actor, subject, reason, ip, request_id, data FROM platform_audit_events WHERE subject = $1 ORDER BY occurred_at, id',
    [subject],
  );
  return rows;
}

const logged = (family: KeyFamily, mode: RotationMode, outcome: RotationOutcome) => ({
  level: 'info',
  fields: { event: mode === 'emergency' ? 'keys.rotated_emergency' : 'keys.rotated', ...outcome },
  message: `key rotation (${family}, ${mode})`,
});

/** A ring with an active key (activated at `activatedS`) and a next key published at `nextS`, made by the service itself. */
async function activeAndNext(family: KeyFamily, r: ReturnType<typeof rotation>, activatedS: number, nextS: number): Promise<{ active: string; next: string }> {
  r.clock.at = at(activatedS - 900);
  const published = await r.service.rotate(family, 'now');
  r.clock.at = at(activatedS);
  await r.service.rotate(family, 'now');
  const rows = await stored(family, [r.rootKid]);
  const active = published.next!;
  const next = rows.find((k) => k.state === 'next')!.kid;
  // Re-date the next key: published at nextS.
  await owner.query('UPDATE key_ring SET created_at = $3 WHERE family = $1 AND kid = $2', [family, next, at(nextS)]);
  r.lines.length = 0;
  return { active, next };
}

describe(tag('SECRETS-LIFECYCLE', 'rotationPolicy'), () => {
  it('access-token: published KEY_PUBLISH_LEAD_S ahead; a retired key verifies for the reload interval, the longer token lifetime and a minute of skew; replaced at ACCESS_TOKEN_KEY_MAX_AGE_S', () => {
    expect(rotationPolicy(authConfig({ ...TTLS, KEY_PUBLISH_LEAD_S: '123' }), 'access-token')).toEqual({ publishLeadS: 123, overlapS: 7 + 500 + 60, maxAgeS: 3600 });
    expect(rotationPolicy(authConfig({ ...TTLS, ACCESS_TOKEN_TTL_S: '700', PARTNER_TOKEN_TTL_S: '400' }), 'access-token')).toEqual({ publishLeadS: 900, overlapS: 7 + 700 + 60, maxAgeS: 3600 });
  });

  it('job-envelope: the same lead; the overlap of a queued job (jobEnvelopeKeyOverlapS); replaced at JOB_ENVELOPE_KEY_MAX_AGE_S', () => {
    const config = authConfig({ ...TTLS, KEY_PUBLISH_LEAD_S: '321' });
    expect(rotationPolicy(config, 'job-envelope')).toEqual({ publishLeadS: 321, overlapS: jobEnvelopeKeyOverlapS(config), maxAgeS: 7200 });
    expect(jobEnvelopeKeyOverlapS(config)).not.toBe(ACCESS_OVERLAP_S);
  });
});

describe(tag('SECRETS-LIFECYCLE', 'KeyRotationService.rotate on the database'), () => {
  it('without KEY_RING_ROOT_KEYS there is no ring to rotate: KeyRingUnavailableError, nothing logged', async () => {
    const { logger, lines } = capturingLogger();
    const config = authConfig(TTLS);
    expect(keyRingRootKeys(config)).toBeUndefined();
    const service = new KeyRotationService(new KeyRingRepository(database.prisma), config, new SettableClock(new Date(T0)), logger);
    for (const family of ['access-token', 'job-envelope'] as const) {
      const error = await service.rotate(family, 'emergency').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(KeyRingUnavailableError);
      expect(error).toMatchObject({ name: 'KeyRingUnavailableError', message: 'KEY_RING_ROOT_KEYS is not set: there is no key ring to rotate (docs/operations.md, "Key rotation")' });
    }
    expect(lines).toEqual([]);
  });

  it('an empty ring (access-token): a next key is published, sealed under the active root key, holding an Ed25519 private JWK with its kid', async () => {
    const r = rotation();
    expect(r.contexts).toEqual(['KeyRotationService']);
    const outcome = await r.service.rotate('access-token', 'now');
    expect(outcome).toStrictEqual({ family: 'access-token', mode: 'now', next: outcome.next, waiting: WAITING_PUBLISHED });
    expect(outcome.next).toMatch(KID);
    const [row, ...more] = await stored('access-token', [r.rootKid]);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ kid: outcome.next, state: 'next', root_kid: r.rootKid, created_at: T0, activated_at: null, retired_at: null, verify_until: null, revoked_at: null });
    const jwk = JSON.parse(openKeyMaterial(r.root, 'access-token', row!.kid, row!.root_kid, row!.material)!.toString('utf8')) as Record<string, string>;
    expect(jwk).toEqual({ kty: 'OKP', crv: 'Ed25519', x: expect.any(String), d: expect.any(String), kid: outcome.next });
    expect(r.lines).toEqual([logged('access-token', 'now', outcome)]);
    expect(await platformEvents(`access-token:${outcome.next}`)).toEqual([]);
  });

  it('an empty ring (job-envelope, scheduled): the next key is 32 random bytes as base64url text', async () => {
    const r = rotation();
    const outcome = await r.service.rotate('job-envelope', 'scheduled');
    expect(outcome).toStrictEqual({ family: 'job-envelope', mode: 'scheduled', next: outcome.next, waiting: WAITING_PUBLISHED });
    expect(outcome.next).toMatch(KID);
    const [row, ...more] = await stored('job-envelope', [r.rootKid]);
    expect(more).toEqual([]);
    expect(row).toMatchObject({ kid: outcome.next, state: 'next', root_kid: r.rootKid, created_at: T0 });
    const secret = openKeyMaterial(r.root, 'job-envelope', row!.kid, row!.root_kid, row!.material)!.toString('utf8');
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(secret, 'base64url')).toHaveLength(32);
    expect(r.lines).toEqual([logged('job-envelope', 'scheduled', outcome)]);
    // Another rotation of the other family does not see this one's keys.
    expect(await stored('access-token', [r.rootKid])).toEqual([]);
  });

  it('the next key is promoted only once published for KEY_PUBLISH_LEAD_S; then a new next key is published', async () => {
    const r = rotation();
    const first = await r.service.rotate('access-token', 'now');
    r.clock.at = at(899);
    const early = await r.service.rotate('access-token', 'now');
    expect(early).toStrictEqual({ family: 'access-token', mode: 'now', next: first.next, waiting: `the next key ${first.next} has been published for less than KEY_PUBLISH_LEAD_S` });
    expect(states(await stored('access-token', [r.rootKid]))).toEqual({ [first.next!]: 'next' });
    r.clock.at = at(900);
    const promoted = await r.service.rotate('access-token', 'now');
    expect(promoted).toStrictEqual({ family: 'access-token', mode: 'now', active: first.next, next: promoted.next });
    expect(promoted.next).not.toBe(first.next);
    const rows = await stored('access-token', [r.rootKid]);
    expect(rows).toMatchObject([
      { kid: first.next, state: 'active', created_at: T0, activated_at: at(900), retired_at: null, verify_until: null, revoked_at: null },
      { kid: promoted.next, state: 'next', created_at: at(900), activated_at: null },
    ]);
    expect(r.lines).toEqual([logged('access-token', 'now', first), logged('access-token', 'now', early), logged('access-token', 'now', promoted)]);
  });

  it('`now` retires the active key: it verifies for the overlap more; the answer says until when and since when it signed', async () => {
    const r = rotation();
    const { active, next } = await activeAndNext('access-token', r, 0, 100);
    r.clock.at = at(1000.5);
    const outcome = await r.service.rotate('access-token', 'now');
    const verifyUntil = new Date(at(1000.5).getTime() + ACCESS_OVERLAP_S * 1000);
    expect(outcome).toStrictEqual({
      family: 'access-token',
      mode: 'now',
      active: next,
      next: outcome.next,
      demoted: { kid: active, state: 'retired', verifyUntil: verifyUntil.toISOString(), activatedAt: at(0).toISOString() },
    });
    const rows = await stored('access-token', [r.rootKid]);
    expect(rows.find((k) => k.kid === active)).toMatchObject({ state: 'retired', activated_at: at(0), retired_at: at(1000.5), verify_until: verifyUntil, revoked_at: null });
    expect(rows.find((k) => k.kid === next)).toMatchObject({ state: 'active', activated_at: at(1000.5) });
    expect(rows.find((k) => k.kid === outcome.next)).toMatchObject({ state: 'next', created_at: at(1000.5) });
    expect(r.lines).toEqual([logged('access-token', 'now', outcome)]);
    // A retirement is no revocation: no platform audit event.
    expect(await platformEvents(`access-token:${active}`)).toEqual([]);
  });

  it('`scheduled` waits until the active key reaches ACCESS_TOKEN_KEY_MAX_AGE_S, and rotates exactly then', async () => {
    const r = rotation();
    const { active, next } = await activeAndNext('access-token', r, 0, 0);
    r.clock.at = at(3599);
    const young = await r.service.rotate('access-token', 'scheduled');
    expect(young).toStrictEqual({ family: 'access-token', mode: 'scheduled', active, next, waiting: 'the active key is younger than its maximum age' });
    expect(states(await stored('access-token', [r.rootKid]))).toEqual({ [active]: 'active', [next]: 'next' });
    r.clock.at = at(3600);
    const rotated = await r.service.rotate('access-token', 'scheduled');
    expect(rotated).toMatchObject({ active: next, demoted: { kid: active, state: 'retired' } });
  });

  it('`scheduled` on job-envelope follows JOB_ENVELOPE_KEY_MAX_AGE_S and retires for the queued-job overlap', async () => {
    const r = rotation();
    const { active, next } = await activeAndNext('job-envelope', r, 0, 0);
    r.clock.at = at(7199);
    expect(await r.service.rotate('job-envelope', 'scheduled')).toMatchObject({ waiting: 'the active key is younger than its maximum age' });
    r.clock.at = at(7200);
    const rotated = await r.service.rotate('job-envelope', 'scheduled');
    expect(rotated.demoted).toEqual({ kid: active, state: 'retired', verifyUntil: new Date(at(7200).getTime() + jobEnvelopeKeyOverlapS(r.config) * 1000).toISOString(), activatedAt: at(0).toISOString() });
    expect(rotated.active).toBe(next);
  });

  it('an emergency with a published next key: it signs at once, the active key is revoked (no overlap), a new next key is published, the revocation is audited', async () => {
    const r = rotation();
    const { active, next } = await activeAndNext('access-token', r, 0, 1000);
    r.clock.at = at(1000.6);
    const outcome = await r.service.rotate('access-token', 'emergency', 'operator-cli:spec');
    expect(outcome).toStrictEqual({ family: 'access-token', mode: 'emergency', active: next, next: outcome.next, demoted: { kid: active, state: 'revoked', activatedAt: at(0).toISOString() } });
    const rows = await stored('access-token', [r.rootKid]);
    expect(rows.find((k) => k.kid === active)).toMatchObject({ state: 'revoked', revoked_at: at(1000.6), retired_at: null, verify_until: null });
    expect(rows.find((k) => k.kid === next)).toMatchObject({ state: 'active', activated_at: at(1000.6) });
    expect(rows.find((k) => k.kid === outcome.next)).toMatchObject({ state: 'next', created_at: at(1000.6) });
    expect(r.lines).toEqual([logged('access-token', 'emergency', outcome)]);
    expect(await platformEvents(`access-token:${active}`)).toEqual([
      {
        type: 'platform.key_revoked',
        outcome: 'success',
        actor: 'operator-cli:spec',
        subject: `access-token:${active}`,
        reason: null,
        ip: null,
        request_id: null,
        data: {
          family: 'access-token',
          revokedKid: active,
          signingSince: at(0).toISOString(),
          revokedAt: at(1000.6).toISOString(),
          // 1000.6 s, rounded.
          signingSeconds: 1001,
          activeKid: next,
          refusedWithinS: 7,
          // It signed for longer than a token lives (500 s): only the last 500 s of tokens are unexpired.
          unexpiredIssuedAfter: at(500.6).toISOString(),
          tokensSigned: 'not recorded (access and partner tokens are not stored)',
          sessionsEnded: 0,
        },
      },
    ]);
  });

  it('an emergency without a next key: a new key signs at once; the audit event bounds the unexpired tokens by when the revoked key began signing', async () => {
    const r = rotation();
    const { active } = await activeAndNext('access-token', r, 0, 0);
    // Only the active key: the next one is gone (as if never published).
    await owner.query(`DELETE FROM key_ring WHERE family = 'access-token' AND root_kid = $1 AND state = 'next'`, [r.rootKid]);
    r.clock.at = at(100.4);
    const outcome = await r.service.rotate('access-token', 'emergency');
    expect(outcome).toStrictEqual({ family: 'access-token', mode: 'emergency', active: outcome.active, demoted: { kid: active, state: 'revoked', activatedAt: at(0).toISOString() } });
    expect(outcome.active).toMatch(KID);
    const rows = await stored('access-token', [r.rootKid]);
    expect(rows.map((k) => [k.kid, k.state])).toEqual([
      [active, 'revoked'],
      [outcome.active, 'active'],
    ]);
    expect(rows[1]).toMatchObject({ created_at: at(100.4), activated_at: at(100.4) });
    const [event, ...more] = await platformEvents(`access-token:${active}`);
    expect(more).toEqual([]);
    expect(event).toMatchObject({ actor: 'system:key-rotation', outcome: 'success' });
    expect(event!.data).toMatchObject({ signingSince: at(0).toISOString(), revokedAt: at(100.4).toISOString(), signingSeconds: 100, activeKid: outcome.active, unexpiredIssuedAfter: at(0).toISOString() });
  });

  it('an emergency on an empty ring: the new key signs at once, nothing is revoked or audited', async () => {
    const r = rotation();
    const outcome = await r.service.rotate('access-token', 'emergency');
    expect(outcome).toStrictEqual({ family: 'access-token', mode: 'emergency', active: outcome.active });
    expect(await stored('access-token', [r.rootKid])).toMatchObject([{ kid: outcome.active, state: 'active', created_at: T0, activated_at: T0 }]);
    expect(r.lines).toEqual([logged('access-token', 'emergency', outcome)]);
    expect(await platformEvents(`access-token:${outcome.active}`)).toEqual([]);
  });

  it('an emergency revoking an active key without a recorded activation: no signing window in the answer or the event', async () => {
    const r = rotation();
    const kid = `r20240301-${randomBytes(4).toString('hex')}`;
    await insertKey('access-token', r, { kid, state: 'active', createdAt: at(-5000), activatedAt: null });
    r.clock.at = at(10);
    const outcome = await r.service.rotate('access-token', 'emergency');
    expect(outcome.demoted).toStrictEqual({ kid, state: 'revoked' });
    expect((await platformEvents(`access-token:${kid}`)).map((e) => e.data)).toEqual([
      {
        family: 'access-token',
        revokedKid: kid,
        signingSince: null,
        revokedAt: at(10).toISOString(),
        signingSeconds: null,
        activeKid: outcome.active,
        refusedWithinS: 7,
        unexpiredIssuedAfter: at(10 - 500).toISOString(),
        tokensSigned: 'not recorded (access and partner tokens are not stored)',
        sessionsEnded: 0,
      },
    ]);
  });

  it('without a platform audit log (a process without one) the emergency still happens, unaudited', async () => {
    const r = rotation({ audit: false });
    const { active } = await activeAndNext('access-token', r, 0, 0);
    r.clock.at = at(10);
    expect((await r.service.rotate('access-token', 'emergency')).demoted).toMatchObject({ kid: active, state: 'revoked' });
    expect(await platformEvents(`access-token:${active}`)).toEqual([]);
  });

  it('the ring is the rows under this process\'s root keys: another deployment\'s keys are left alone; rows under an older root key still count', async () => {
    const [oldKid, newKid] = [newRootKid(), newRootKid()];
    const oldKey = rootKey();
    const foreign = rotation();
    const foreignKeys = await activeAndNext('access-token', foreign, -5000, -5000);
    const before = await stored('access-token', [foreign.rootKid]);

    const previous = rotation({ roots: [[oldKid, oldKey]] });
    const ours = await activeAndNext('access-token', previous, -5000, -5000);
    // The root key is rotated: the new one seals, the old one still opens.
    const r = rotation({ roots: [[newKid, rootKey()], [oldKid, oldKey]] });
    r.clock.at = at(0);
    const outcome = await r.service.rotate('access-token', 'now');
    expect(outcome).toMatchObject({ active: ours.next, demoted: { kid: ours.active, state: 'retired' } });
    expect(await stored('access-token', [foreign.rootKid])).toEqual(before);
    expect(states(await stored('access-token', [foreign.rootKid]))).toEqual({ [foreignKeys.active]: 'active', [foreignKeys.next]: 'next' });
    const added = (await stored('access-token', [newKid, oldKid])).find((k) => k.kid === outcome.next)!;
    expect(added.root_kid).toBe(newKid);
    expect(openKeyMaterial(r.root, 'access-token', added.kid, added.root_kid, added.material)).toBeDefined();
  });
});

describe(tag('SECRETS-LIFECYCLE', 'an emergency rotation of job-envelope and the queued jobs'), () => {
  it('the queued jobs the revoked key signed are removed (both queues), counted and named; scheduled runs are counted and kept; other jobs stay', async () => {
    const prefix = uniqueQueuePrefix('key-rotation-service');
    prefixes.push(prefix);
    const r = rotation({ env: { QUEUE_PREFIX: prefix } });
    const { logger, lines } = capturingLogger();
    r.service = new KeyRotationService(new KeyRingRepository(database.prisma), r.config, r.clock, logger, new PlatformAuditLog(database.prisma), new QueuedJobRevocation(r.config));
    const { active, next } = await activeAndNext('job-envelope', r, 0, 0);
    lines.length = 0;
    const jobs = testQueue(JOBS_QUEUE, prefix);
    const platform = testQueue(PLATFORM_QUEUE, prefix);
    try {
      const queued = await jobs.add('exports.run', { kid: active }, { delay: 600_000 });
      const waiting = await platform.add('platform.purge', { kid: active });
      const other = await jobs.add('exports.run', { kid: next });
      // A scheduler's next run (as JobQueue.schedulePlatform makes one: libs/jobs/src/job-queue.ts).
      await platform.upsertJobScheduler('key-rotation-spec', { every: 3_600_000 }, { name: 'platform.key-rotation', data: { kid: active } });
      r.clock.at = at(10);
      const outcome = await r.service.rotate('job-envelope', 'emergency', 'operator-cli:spec');
      const listed = [`${JOBS_QUEUE}/${queued.id}/exports.run`, `${PLATFORM_QUEUE}/${waiting.id}/platform.purge`];
      expect(outcome).toStrictEqual({
        family: 'job-envelope',
        mode: 'emergency',
        active: next,
        next: outcome.next,
        demoted: { kid: active, state: 'revoked', activatedAt: at(0).toISOString() },
        queuedJobs: { refused: 2, jobs: listed, schedules: 1 },
      });
      expect(await jobs.getJob(queued.id!)).toBeUndefined();
      expect(await platform.getJob(waiting.id!)).toBeUndefined();
      expect((await jobs.getJob(other.id!))?.data).toEqual({ kid: next });
      // The log line is written before the sweep: it has no queuedJobs.
      const { queuedJobs: _swept, ...beforeSweep } = outcome;
      expect(lines).toEqual([logged('job-envelope', 'emergency', beforeSweep)]);
      expect((await platformEvents(`job-envelope:${active}`)).map((e) => [e.actor, e.data])).toEqual([
        [
          'operator-cli:spec',
          {
            family: 'job-envelope',
            revokedKid: active,
            signingSince: at(0).toISOString(),
            revokedAt: at(10).toISOString(),
            signingSeconds: 10,
            activeKid: next,
            refusedWithinS: 7,
            queuedJobsRefused: 2,
            queuedJobsListed: listed.join(' '),
            scheduledRunsSignedAgain: 1,
            laterJobsRecordedAs: 'platform.job_refused',
          },
        ],
      ]);
    } finally {
      await jobs.close();
      await platform.close();
    }
  });

  it('a process without a queue connection says the queues were not examined', async () => {
    const r = rotation();
    const { active } = await activeAndNext('job-envelope', r, 0, 0);
    r.clock.at = at(10);
    const outcome = await r.service.rotate('job-envelope', 'emergency');
    expect(outcome.queuedJobs).toStrictEqual({ error: 'the queues were not examined (no queue connection in this process)' });
    expect((await platformEvents(`job-envelope:${active}`)).map((e) => e.data)).toEqual([
      expect.objectContaining({ queuedJobsRefused: null, queuedJobsListed: '', scheduledRunsSignedAgain: null, laterJobsRecordedAs: 'platform.job_refused' }),
    ]);
    const [data] = (await platformEvents(`job-envelope:${active}`)).map((e) => e.data);
    expect(Object.keys(data!).sort()).toEqual(['activeKid', 'family', 'laterJobsRecordedAs', 'queuedJobsListed', 'queuedJobsRefused', 'refusedWithinS', 'revokedAt', 'revokedKid', 'scheduledRunsSignedAgain', 'signingSeconds', 'signingSince']);
  });

  it('a sweep that fails (a Redis error) is reported in the answer and the audit event; the rotation stands', async () => {
    const prefix = uniqueQueuePrefix('key-rotation-broken');
    prefixes.push(prefix);
    const r = rotation({ env: { QUEUE_PREFIX: prefix } });
    r.service = new KeyRotationService(new KeyRingRepository(database.prisma), r.config, r.clock, capturingLogger().logger, new PlatformAuditLog(database.prisma), new QueuedJobRevocation(r.config));
    // The queue's waiting list is not a list: BullMQ's read script fails with WRONGTYPE.
    const redis = testRedis('key-rotation-service-spec');
    try {
      await ready(redis);
      await redis.set(`${prefix}:${JOBS_QUEUE}:wait`, 'not a list');
      const { active, next } = await activeAndNext('job-envelope', r, 0, 0);
      r.clock.at = at(10);
      const outcome = await r.service.rotate('job-envelope', 'emergency');
      expect(outcome.active).toBe(next);
      const error = (outcome.queuedJobs as { error: string }).error;
      // Redis's own message (shorter than the 200 characters kept).
      expect(error).toMatch(/^WRONGTYPE Operation against a key holding the wrong kind of value script: [0-9a-f]{40}, on @user_script:\d+\.$/);
      expect((await platformEvents(`job-envelope:${active}`)).map((e) => e.data)).toEqual([
        expect.objectContaining({ queuedJobsRefused: null, queuedJobsListed: '', scheduledRunsSignedAgain: null, queueSweepError: error }),
      ]);
      expect(states(await stored('job-envelope', [r.rootKid]))).toMatchObject({ [active]: 'revoked', [next]: 'active' });
    } finally {
      await redis.del(`${prefix}:${JOBS_QUEUE}:wait`);
      redis.disconnect();
    }
  });

  it('with Redis unreachable the sweep gives up after its deadline: the rotation completes and its audit event says why the queues were not swept', async () => {
    // Port 1 refuses the connection; BullMQ would wait for Redis for ever without the deadline.
    const r = rotation({ env: { QUEUE_PREFIX: uniqueQueuePrefix('key-rotation-unreachable') } });
    const queuedJobs = new QueuedJobRevocation({ ...r.config, REDIS_URL: 'redis://127.0.0.1:1' } as typeof r.config);
    expect(queuedJobs.sweepTimeoutMs).toBe(QUEUE_SWEEP_TIMEOUT_MS);
    queuedJobs.sweepTimeoutMs = 500;
    r.service = new KeyRotationService(new KeyRingRepository(database.prisma), r.config, r.clock, capturingLogger().logger, new PlatformAuditLog(database.prisma), queuedJobs);
    const { active, next } = await activeAndNext('job-envelope', r, 0, 0);
    r.clock.at = at(10);
    const started = Date.now();
    const outcome = await r.service.rotate('job-envelope', 'emergency');
    expect(Date.now() - started).toBeLessThan(10_000);
    const error = 'the queue sweep did not finish within 500 ms (is Redis reachable?)';
    expect(outcome).toMatchObject({ active: next, queuedJobs: { error } });
    expect((await platformEvents(`job-envelope:${active}`)).map((e) => e.data)).toEqual([
      expect.objectContaining({ queuedJobsRefused: null, queuedJobsListed: '', scheduledRunsSignedAgain: null, queueSweepError: error }),
    ]);
    expect(states(await stored('job-envelope', [r.rootKid]))).toMatchObject({ [active]: 'revoked', [next]: 'active' });
  });
});

describe(tag('SECRETS-LIFECYCLE', 'KeyRotationHandler (the scheduled platform job)'), () => {
  it('checks every family with a scheduled rotation and logs each outcome with the run\'s request id', async () => {
    const r = rotation();
    const { logger, lines, contexts } = capturingLogger();
    const handler = new KeyRotationHandler(r.service, r.config, logger);
    expect(contexts).toEqual(['KeyRotationHandler']);
    const rotate = vi.spyOn(r.service, 'rotate');
    await handler.handle({}, { jobId: 'j1', attempt: 1, requestId: 'req-key-check' });
    expect(rotate.mock.calls).toEqual([
      ['access-token', 'scheduled'],
      ['job-envelope', 'scheduled'],
    ]);
    const outcomes = await Promise.all(rotate.mock.results.map((res) => res.value as Promise<RotationOutcome>));
    expect(lines).toEqual(outcomes.map((o) => ({ level: 'info', fields: { event: 'keys.rotation_checked', requestId: 'req-key-check', ...o }, message: 'scheduled key rotation check' })));
    expect(outcomes.map((o) => o.waiting)).toEqual([WAITING_PUBLISHED, WAITING_PUBLISHED]);
  });

  it('without a key ring it does nothing', async () => {
    const { logger, lines } = capturingLogger();
    const config = authConfig();
    expect(keyRingRootKeys(config)).toBeUndefined();
    const service = new KeyRotationService(new KeyRingRepository(database.prisma), config, new SettableClock(new Date(T0)), logger);
    const rotate = vi.spyOn(service, 'rotate');
    await new KeyRotationHandler(service, config, logger).handle({}, { jobId: 'j2', attempt: 1, requestId: 'req-no-ring' });
    expect(rotate).not.toHaveBeenCalled();
    expect(lines).toEqual([]);
  });
});

import { createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Optional, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { canonicalize, Clock, type CanonicalValue, isUuid } from '@benteng/common';
import { AppConfig, jobSigningKeys, keyRingRootKeys, type Keyring } from '@benteng/config';
import { KeyRingRepository, openKeyMaterial, type KeyRingRow } from '@benteng/database';
import type { EnvelopePrincipal, JobEnvelope, PlatformJobEnvelope, SignedEnvelope, TenantJobEnvelope } from './job-envelope.js';
import { JobRejection } from './job-rejection.js';
import type { PlatformAuditLog } from '@benteng/audit';

/** Job names: lowercase words separated by dots, e.g. `exports.run`, `platform.cleanup`. */
export const JOB_NAME = /^[a-z][a-z0-9_-]*(\.[a-z0-9_-]+)*$/;
const KID = /^[A-Za-z0-9_-]{1,32}$/;
/** 32 bytes of HMAC-SHA256 in base64url without padding. */
const SIG = /^[A-Za-z0-9_-]{43}$/;
/** Request ids from the API (X-Request-Id or a UUID) and the worker (UUID). */
const REQUEST_ID = /^[A-Za-z0-9._:-]{1,100}$/;
const SYSTEM_NAME = /^[a-z][a-z-]{0,31}$/;

type Plain = Record<string, unknown>;
const isPlain = (value: unknown): value is Plain => typeof value === 'object' && value !== null && !Array.isArray(value);
const hasExactly = (value: Plain, required: readonly string[], optional: readonly string[] = []): boolean =>
  required.every((key) => Object.hasOwn(value, key)) && Object.keys(value).every((key) => required.includes(key) || optional.includes(key));

/** Reloads of the ring caused by an unknown kid: at most one a second, so made-up kids cannot flood the database. */
const UNKNOWN_KID_RELOAD_MS = 1000;

/**
 * Signs and verifies job envelopes (docs/architecture.md, invariant 7).
 *
 * Keys: the key ring's `job-envelope` family (KEY_RING_ROOT_KEYS; docs/operations.md, "Key
 * rotation"), which the processes rotate themselves, and JOB_SIGNING_KEYS from the environment.
 * The ring's active key signs (JOB_SIGNING_KEYS' first key while the ring has none); the ring's
 * next, active and still-verifying retired keys and every JOB_SIGNING_KEYS key verify, so a
 * rotation never refuses a queued job; a revoked kid (emergency rotation) verifies nothing,
 * wherever it is configured, and its jobs are refused as `revoked_key`. The ring is reloaded every
 * KEY_RING_REFRESH_S and at once (at most once a second) for a job whose kid this process does not
 * know yet, so a key promoted by another process (the CLI, another worker) is never refused here.
 * A job signed with a key no process holds any more fails as `unknown_key`.
 *
 * The HMAC covers the canonical JSON of the whole envelope (tenant, actor, request id, time, name
 * and data), so changing any of them in Redis is detected. It does not stop a replay of a genuine
 * envelope by someone who can write to Redis: handlers are idempotent, and the worker checks the
 * actor's current rights on every run.
 */
@Injectable()
export class JobSigner implements OnModuleInit, OnModuleDestroy {
  private readonly keys: Keyring;
  private readonly root: Keyring | undefined;
  private ringKeys = new Map<string, Buffer>();
  private ringActive: { kid: string; key: Buffer } | undefined;
  private revoked = new Set<string>();
  private readonly activeListeners: ((kid: string) => void)[] = [];
  private timer: NodeJS.Timeout | undefined;
  private lastReload = 0;
  private reloading: Promise<void> | undefined;

  constructor(
    private readonly config: AppConfig,
    @Optional() @Inject(PinoLogger) private readonly logger?: PinoLogger,
    @Optional() @Inject(KeyRingRepository) private readonly ring?: KeyRingRepository,
    @Optional() @Inject(Clock) private readonly clock?: Clock,
  ) {
    this.keys = jobSigningKeys(config);
    this.root = ring ? keyRingRootKeys(config) : undefined;
    if (this.keys.ephemeral) {
      // Neither JOB_SIGNING_KEYS nor AUTH_TOKEN_PEPPER is set (never in production): the API and
      // the worker each make up a key, and the worker refuses every job the API signs.
      logger?.warn({ variable: 'JOB_SIGNING_KEYS' }, 'job signing key is ephemeral: other processes cannot verify this process\'s jobs');
    }
  }

  async onModuleInit(): Promise<void> {
    if (!this.ring || !this.root) return;
    await this.reload();
    this.timer = setInterval(() => void this.reload(), this.config.KEY_RING_REFRESH_S * 1000);
    this.timer.unref();
  }

  onModuleDestroy(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /** The kid that signs now. */
  get activeKid(): string {
    return this.active().kid;
  }

  /** Called with the new kid whenever a reload finds another active key (the platform scheduler signs its schedules again). */
  onActiveKeyChange(listener: (kid: string) => void): void {
    this.activeListeners.push(listener);
  }

  /** Reads the ring again; on a database error the keys loaded before stay (and the next reload retries). */
  reload(): Promise<void> {
    this.reloading ??= this.load().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private async load(): Promise<void> {
    this.lastReload = performance.now();
    let rows: KeyRingRow[];
    try {
      rows = await this.ring!.entries('job-envelope');
    } catch (error) {
      this.logger?.warn({ err: error }, 'key ring could not be read: keeping the job keys loaded before');
      return;
    }
    const now = this.clock?.now() ?? new Date();
    const keys = new Map<string, Buffer>();
    const revoked = new Set<string>();
    let active: { kid: string; key: Buffer } | undefined;
    // The ring is the rows sealed under this deployment's root keys (prisma/migrations/20261207152000_key_ring).
    for (const row of rows.filter((r) => this.root!.find(r.rootKid) !== undefined)) {
      if (!this.rowVerifies(row, now)) {
        if (row.state === 'revoked') revoked.add(row.kid);
        continue;
      }
      const key = this.ringKeys.get(row.kid) ?? openKeyMaterial(this.root!, 'job-envelope', row.kid, row.rootKid, row.material);
      if (!key) {
        this.logger?.error({ kid: row.kid, rootKid: row.rootKid }, 'key ring: a job key does not decrypt with KEY_RING_ROOT_KEYS; it is ignored');
        continue;
      }
      keys.set(row.kid, key);
      if (row.state === 'active') active = { kid: row.kid, key };
    }
    const before = this.activeKidOrUndefined();
    this.ringKeys = keys;
    this.ringActive = active;
    this.revoked = revoked;
    const after = this.activeKidOrUndefined();
    if (after && after !== before) for (const listener of this.activeListeners) listener(after);
  }

  /** Whether a ring key verifies now: next, active, or retired until its verify_until; never a revoked one. */
  protected rowVerifies(row: KeyRingRow, now: Date): boolean {
    if (row.state === 'revoked') return false;
    return !(row.state === 'retired' && row.verifyUntil && row.verifyUntil <= now);
  }

  private activeKidOrUndefined(): string | undefined {
    try {
      return this.active().kid;
    } catch {
      return undefined;
    }
  }

  private active(): { kid: string; key: Buffer } {
    if (this.ringActive) return this.ringActive;
    const kid = this.keys.kids.find((k) => !this.revoked.has(k));
    if (kid === undefined) throw new Error('job signing: every configured key is revoked and the key ring has no active key');
    return { kid, key: this.keys.find(kid)! };
  }

  private find(kid: string): Buffer | undefined {
    return this.ringKeys.get(kid) ?? this.keys.find(kid);
  }

  sign(envelope: TenantJobEnvelope | PlatformJobEnvelope): SignedEnvelope {
    // Validated on the way out too: a producer bug (a Date or undefined in data, a bad name) fails
    // at enqueue, in the request that caused it, instead of as a refused job later.
    const checked = parseEnvelope(envelope);
    const { kid, key } = this.active();
    return { envelope: checked, kid, sig: mac(key, checked) };
  }

  /** The envelope of a signed job, or JobRejection('malformed' | 'revoked_key' | 'unknown_key' | 'bad_signature'). */
  verify(signed: unknown): TenantJobEnvelope | PlatformJobEnvelope {
    if (!isPlain(signed) || !hasExactly(signed, ['envelope', 'kid', 'sig'])) throw new JobRejection('malformed');
    const { kid, sig } = signed;
    if (typeof kid !== 'string' || !KID.test(kid) || typeof sig !== 'string' || !SIG.test(sig)) throw new JobRejection('malformed');
    const envelope = parseEnvelope(signed.envelope);
    if (this.revoked.has(kid)) throw new JobRejection('revoked_key');
    const key = this.find(kid);
    if (!key) throw new JobRejection('unknown_key');
    const expected = Buffer.from(mac(key, envelope), 'base64url');
    if (!timingSafeEqual(expected, Buffer.from(sig, 'base64url'))) throw new JobRejection('bad_signature');
    return envelope;
  }

  /** verify(), after reloading the ring when the kid is unknown (at most one reload a second): what the worker calls. */
  async verifyCurrent(signed: unknown): Promise<TenantJobEnvelope | PlatformJobEnvelope> {
    try {
      return this.verify(signed);
    } catch (error) {
      if (!(error instanceof JobRejection) || error.reason !== 'unknown_key' || !this.ring || !this.root) throw error;
    }
    // A refusal is final for a job (no retry), so an unknown kid always gets a reload that started
    // after it was seen: at once, or when the one-a-second budget allows (made-up kids cost a wait,
    // never more than one read a second).
    // performance.now(), not Date.now(): a load that started in the same millisecond as the kid was
    // seen may have read the ring before the key was there, and must not count as "after".
    const seen = performance.now();
    const wait = this.lastReload + UNKNOWN_KID_RELOAD_MS - seen;
    if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait));
    // A reload still running that started before the kid was seen is let finish first (reload()
    // would hand back that same load), then a new one starts.
    if (this.reloading && this.lastReload <= seen) await this.reloading;
    if (this.lastReload <= seen) await this.reload();
    else if (this.reloading) await this.reloading;
    return this.verify(signed);
  }
}

function mac(key: Buffer, envelope: JobEnvelope): string {
  return createHmac('sha256', key).update(canonicalize(envelope as unknown as CanonicalValue), 'utf8').digest('base64url');
}

/**
 * Checks that a value is an envelope of exactly the documented shape (no extra keys) and that its
 * data is plain JSON; throws JobRejection('malformed') otherwise.
 */
export function parseEnvelope(value: unknown): TenantJobEnvelope | PlatformJobEnvelope {
  if (!isPlain(value) || value.v !== 1) throw new JobRejection('malformed');
  const common = ['v', 'kind', 'name', 'requestId', 'issuedAt', 'data'];
  const shaped = value.kind === 'tenant' ? hasExactly(value, [...common, 'tenantId', 'actor']) : value.kind === 'platform' && hasExactly(value, common);
  if (!shaped) throw new JobRejection('malformed');
  const { name, requestId, issuedAt } = value;
  if (typeof name !== 'string' || name.length > 100 || !JOB_NAME.test(name)) throw new JobRejection('malformed');
  if (typeof requestId !== 'string' || !REQUEST_ID.test(requestId)) throw new JobRejection('malformed');
  if (typeof issuedAt !== 'string' || Number.isNaN(Date.parse(issuedAt))) throw new JobRejection('malformed');
  try {
    // Throws on anything JSON cannot carry faithfully (undefined, NaN, Dates, class instances).
    canonicalize(value.data as CanonicalValue);
  } catch {
    throw new JobRejection('malformed');
  }
  if (value.kind === 'tenant') {
    if (typeof value.tenantId !== 'string' || !isUuid(value.tenantId) || !isEnvelopePrincipal(value.actor)) throw new JobRejection('malformed');
    return value as unknown as TenantJobEnvelope;
  }
  return value as unknown as PlatformJobEnvelope;
}

function isEnvelopePrincipal(value: unknown): value is EnvelopePrincipal {
  if (!isPlain(value)) return false;
  switch (value.kind) {
    case 'user':
      return hasExactly(value, ['kind', 'userId'], ['sessionId']) && typeof value.userId === 'string' && isUuid(value.userId) && (!Object.hasOwn(value, 'sessionId') || (typeof value.sessionId === 'string' && isUuid(value.sessionId)));
    case 'partner':
      return (
        hasExactly(value, ['kind', 'clientId'], ['scopes', 'keyId']) &&
        typeof value.clientId === 'string' &&
        isUuid(value.clientId) &&
        (!Object.hasOwn(value, 'scopes') || (Array.isArray(value.scopes) && value.scopes.every((s) => typeof s === 'string' && s.length <= 64))) &&
        (!Object.hasOwn(value, 'keyId') || (typeof value.keyId === 'string' && isUuid(value.keyId)))
      );
    case 'system':
      return hasExactly(value, ['kind', 'name']) && typeof value.name === 'string' && SYSTEM_NAME.test(value.name);
    default:
      return false;
  }
}

/**
 * A processor's first step: the job's envelope, verified and of the queue's kind. Anything else (a
 * bad signature, a revoked or unknown key, a malformed envelope, the other kind) is logged and
 * fails the job for good: BullMQ does not retry an UnrecoverableError. `onRefused` records the
 * refusal (the processors write a platform audit event for a revoked key's job).
 */
export async function verifiedEnvelope<K extends JobEnvelope['kind']>(
  signer: JobSigner,
  job: Job,
  kind: K,
  queue: string,
  logger: PinoLogger,
  onRefused?: (rejection: JobRejection) => Promise<void>,
): Promise<Extract<JobEnvelope, { kind: K }>> {
  try {
    const verified = await signer.verifyCurrent(job.data);
    if (verified.kind !== kind) throw new JobRejection('wrong_kind');
    return verified as Extract<JobEnvelope, { kind: K }>;
  } catch (error) {
    if (!(error instanceof JobRejection)) throw error;
    const kid = isPlain(job.data) && typeof job.data.kid === 'string' ? job.data.kid.slice(0, 32) : undefined;
    logger.warn({ queue, jobId: job.id, job: job.name, attempt: job.attemptsMade + 1, reason: error.reason, ...(error.reason === 'revoked_key' ? { kid } : {}) }, 'job refused: envelope not verified');
    await onRefused?.(error).catch((e: unknown) => logger.error({ err: e }, 'job refusal could not be recorded'));
    throw new UnrecoverableError(error.message);
  }
}

/**
 * The record of a job refused because its key was revoked (emergency rotation): a platform audit
 * event `platform.job_refused`, which the incident view lists with the revocation (what the exposed
 * key touched). The envelope is not trusted (whoever holds the exposed key could have written it),
 * so only the queue's own facts and the kid are kept, the tenant as claimed.
 */
export function revokedKeyRecorder(audit: PlatformAuditLog | undefined, job: Job, queue: string): (rejection: JobRejection) => Promise<void> {
  return async (rejection) => {
    if (rejection.reason !== 'revoked_key' || !audit) return;
    const data = isPlain(job.data) ? job.data : {};
    const envelope = isPlain(data.envelope) ? data.envelope : {};
    const kid = typeof data.kid === 'string' ? data.kid : 'unknown';
    await audit.record({
      type: 'platform.job_refused',
      outcome: 'denied',
      actor: 'system:job-worker',
      subject: `job-envelope:${kid}`,
      data: {
        family: 'job-envelope',
        kid,
        reason: 'revoked_key',
        queue,
        jobId: String(job.id ?? ''),
        job: job.name,
        claimedTenantId: typeof envelope.tenantId === 'string' ? envelope.tenantId.slice(0, 36) : null,
        claimedIssuedAt: typeof envelope.issuedAt === 'string' ? envelope.issuedAt.slice(0, 40) : null,
      },
    });
  };
}

import { createHmac, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { UnrecoverableError, type Job } from 'bullmq';
import { PinoLogger } from 'nestjs-pino';
import { canonicalize, type CanonicalValue, isUuid } from '@benteng/common';
import { AppConfig, jobSigningKeys, type Keyring } from '@benteng/config';
import type { EnvelopePrincipal, JobEnvelope, PlatformJobEnvelope, SignedEnvelope, TenantJobEnvelope } from './job-envelope.js';
import { JobRejection } from './job-rejection.js';

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

/**
 * Signs and verifies job envelopes (docs/architecture.md, invariant 7) with the JOB_SIGNING_KEYS
 * keyring: the first key signs, every key verifies, so a key can be rotated with overlap (add the
 * new key first, keep the old one until the jobs it signed have run, then remove it). A job signed
 * with a removed key fails as `unknown_key`.
 *
 * The HMAC covers the canonical JSON of the whole envelope (tenant, actor, request id, time, name
 * and data), so changing any of them in Redis is detected. It does not stop a replay of a genuine
 * envelope by someone who can write to Redis: handlers are idempotent, and the worker checks the
 * actor's current rights on every run.
 */
@Injectable()
export class JobSigner {
  private readonly keys: Keyring;

  constructor(config: AppConfig, @Optional() @Inject(PinoLogger) logger?: PinoLogger) {
    this.keys = jobSigningKeys(config);
    if (this.keys.ephemeral) {
      // Neither JOB_SIGNING_KEYS nor AUTH_TOKEN_PEPPER is set (never in production): the API and
      // the worker each make up a key, and the worker refuses every job the API signs.
      logger?.warn({ variable: 'JOB_SIGNING_KEYS' }, 'job signing key is ephemeral: other processes cannot verify this process\'s jobs');
    }
  }

  sign(envelope: TenantJobEnvelope | PlatformJobEnvelope): SignedEnvelope {
    // Validated on the way out too: a producer bug (a Date or undefined in data, a bad name) fails
    // at enqueue, in the request that caused it, instead of as a refused job later.
    const checked = parseEnvelope(envelope);
    const { kid, key } = this.keys.active;
    return { envelope: checked, kid, sig: mac(key, checked) };
  }

  /** The envelope of a signed job, or JobRejection('malformed' | 'unknown_key' | 'bad_signature'). */
  verify(signed: unknown): TenantJobEnvelope | PlatformJobEnvelope {
    if (!isPlain(signed) || !hasExactly(signed, ['envelope', 'kid', 'sig'])) throw new JobRejection('malformed');
    const { kid, sig } = signed;
    if (typeof kid !== 'string' || !KID.test(kid) || typeof sig !== 'string' || !SIG.test(sig)) throw new JobRejection('malformed');
    const envelope = parseEnvelope(signed.envelope);
    const key = this.keys.find(kid);
    if (!key) throw new JobRejection('unknown_key');
    const expected = Buffer.from(mac(key, envelope), 'base64url');
    if (!timingSafeEqual(expected, Buffer.from(sig, 'base64url'))) throw new JobRejection('bad_signature');
    return envelope;
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
 * bad signature, a malformed envelope, the other kind) is logged and fails the job for good: BullMQ
 * does not retry an UnrecoverableError.
 */
export function verifiedEnvelope<K extends JobEnvelope['kind']>(signer: JobSigner, job: Job, kind: K, queue: string, logger: PinoLogger): Extract<JobEnvelope, { kind: K }> {
  try {
    const verified = signer.verify(job.data);
    if (verified.kind !== kind) throw new JobRejection('wrong_kind');
    return verified as Extract<JobEnvelope, { kind: K }>;
  } catch (error) {
    if (!(error instanceof JobRejection)) throw error;
    logger.warn({ queue, jobId: job.id, job: job.name, attempt: job.attemptsMade + 1, reason: error.reason }, 'job refused: envelope not verified');
    throw new UnrecoverableError(error.message);
  }
}

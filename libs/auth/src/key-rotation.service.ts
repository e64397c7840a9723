import { randomBytes } from 'node:crypto';
import { Inject, Injectable, Optional } from '@nestjs/common';
import { exportJWK, generateKeyPair } from 'jose';
import { PinoLogger } from 'nestjs-pino';
import { PlatformAuditLog } from '@benteng/audit';
import { Clock } from '@benteng/common';
import { AppConfig, keyRingRootKeys } from '@benteng/config';
import { sealKeyMaterial } from '@benteng/database';
import { KeyRingRepository, type KeyFamily, type RingChange } from '@benteng/database';
import { jobEnvelopeKeyOverlapS, QueuedJobRevocation, type QueuedJobsRefused } from '@benteng/jobs';
import { planRotation, type RotationMode, type RotationPlan } from './key-rotation.js';

/** Seconds a verifier's clock may be behind the signer's: a retired key verifies this much longer. */
const CLOCK_SKEW_S = 60;

export class KeyRingUnavailableError extends Error {
  constructor() {
    super('KEY_RING_ROOT_KEYS is not set: there is no key ring to rotate (docs/operations.md, "Key rotation")');
    this.name = 'KeyRingUnavailableError';
  }
}

export interface RotationOutcome {
  family: KeyFamily;
  mode: RotationMode;
  /** The key that signs after the rotation (undefined: the ring has no active key yet, AUTH_SIGNING_KEYS signs). */
  active?: string;
  /** The key published to sign at the next rotation. */
  next?: string;
  /** The key that stopped signing: retired (verifies until verifyUntil) or revoked (verifies nothing). */
  demoted?: { kid: string; state: 'retired' | 'revoked'; verifyUntil?: string; activatedAt?: string };
  /** Why nothing was promoted, when nothing was. */
  waiting?: string;
  /** Emergency rotation of `job-envelope`: the queued jobs the revoked key signed, taken out of the queues. */
  queuedJobs?: QueuedJobsRefused | { error: string };
}

/**
 * The rotation rules of a family (docs/operations.md, "Key rotation"): published for
 * KEY_PUBLISH_LEAD_S before it signs; a retired key verifies for as long as the longest-lived thing
 * it signed can still arrive (an access or partner token's lifetime; a queued job's wait, retries
 * and retention: jobEnvelopeKeyOverlapS); replaced on schedule at the family's maximum age.
 */
export function rotationPolicy(config: AppConfig, family: KeyFamily): { publishLeadS: number; overlapS: number; maxAgeS: number } {
  if (family === 'job-envelope') {
    return { publishLeadS: config.KEY_PUBLISH_LEAD_S, overlapS: jobEnvelopeKeyOverlapS(config), maxAgeS: config.JOB_ENVELOPE_KEY_MAX_AGE_S };
  }
  return {
    publishLeadS: config.KEY_PUBLISH_LEAD_S,
    // Every process reloads the ring within KEY_RING_REFRESH_S, so the last token signed with the
    // retired key is issued by then and expires at most ACCESS_TOKEN_TTL_S (PARTNER_TOKEN_TTL_S for partner tokens) later.
    overlapS: config.KEY_RING_REFRESH_S + Math.max(config.ACCESS_TOKEN_TTL_S, config.PARTNER_TOKEN_TTL_S) + CLOCK_SKEW_S,
    maxAgeS: config.ACCESS_TOKEN_KEY_MAX_AGE_S,
  };
}

/**
 * Rotation of the key ring's families (access-token signing keys, job-envelope HMAC keys): `npm run keys:rotate`
 * (apps/worker/src/keys-rotate.cli.ts: it also drives the webhooks library's re-encryption, so it lives in the app that has both), the scheduled platform job (libs/auth/src/key-rotation.handler.ts).
 * The decision is planRotation's; this class makes the keys and applies the plan in one locked
 * transaction.
 */
@Injectable()
export class KeyRotationService {
  constructor(
    private readonly ring: KeyRingRepository,
    private readonly config: AppConfig,
    private readonly clock: Clock,
    private readonly logger: PinoLogger,
    @Optional() @Inject(PlatformAuditLog) private readonly platformAudit?: PlatformAuditLog,
    @Optional() @Inject(QueuedJobRevocation) private readonly queuedJobs?: QueuedJobRevocation,
  ) {
    this.logger.setContext(KeyRotationService.name);
  }

  /**
   * `actor` names who asked, for the platform audit event an emergency writes
   * (`platform.key_revoked`: the family, the revoked kid, when it began signing and was revoked, the
   * key that signs now, and which of its tokens were still unexpired: those issued in its last
   * token lifetime; access tokens are not stored, so how many is not known).
   */
  async rotate(family: KeyFamily, mode: RotationMode, actor = 'system:key-rotation'): Promise<RotationOutcome> {
    const root = keyRingRootKeys(this.config);
    if (!root) throw new KeyRingUnavailableError();
    const now = this.clock.now();
    const policy = rotationPolicy(this.config, family);
    const newKey = family === 'job-envelope' ? newJobEnvelopeKey(now) : await newAccessTokenKey(now);
    const outcome = await this.ring.change(family, now, (all) => {
      // This deployment's ring: the rows sealed under its root keys (prisma/migrations/20261207152000_key_ring).
      const rows = all.filter((r) => root.find(r.rootKid) !== undefined);
      const plan: RotationPlan = planRotation(rows, now, policy, mode);
      const change: RingChange = { transitions: [] };
      let next = rows.find((r) => r.state === 'next' && r.kid !== plan.promote)?.kid;
      let active = plan.promote ?? rows.find((r) => r.state === 'active')?.kid;
      if (plan.addNext) {
        change.add = { kid: newKey.kid, ...sealKeyMaterial(root, family, newKey.kid, newKey.jwk) };
        // An emergency without a published successor: the new key signs at once.
        if (mode === 'emergency' && !plan.promote) {
          change.transitions.push({ kid: newKey.kid, state: 'active' });
          active = newKey.kid;
        } else {
          next = newKey.kid;
        }
      }
      if (plan.demote) change.transitions.push({ kid: plan.demote.kid, state: plan.demote.state, ...(plan.demote.verifyUntil ? { verifyUntil: plan.demote.verifyUntil } : {}) });
      if (plan.promote) change.transitions.push({ kid: plan.promote, state: 'active' });
      const demotedRow = plan.demote ? rows.find((r) => r.kid === plan.demote!.kid) : undefined;
      const result: RotationOutcome = {
        family,
        mode,
        ...(active ? { active } : {}),
        ...(next ? { next } : {}),
        ...(plan.demote
          ? {
              demoted: {
                kid: plan.demote.kid,
                state: plan.demote.state,
                ...(plan.demote.verifyUntil ? { verifyUntil: plan.demote.verifyUntil.toISOString() } : {}),
                ...(demotedRow?.activatedAt ? { activatedAt: demotedRow.activatedAt.toISOString() } : {}),
              },
            }
          : {}),
        ...(plan.waiting ? { waiting: plan.waiting } : {}),
      };
      return { change, result };
    });
    this.logger.info({ event: mode === 'emergency' ? 'keys.rotated_emergency' : 'keys.rotated', ...outcome }, `key rotation (${family}, ${mode})`);
    if (outcome.demoted?.state === 'revoked') {
      const signingSince = outcome.demoted.activatedAt ?? null;
      const common = {
        family,
        revokedKid: outcome.demoted.kid,
        signingSince,
        revokedAt: now.toISOString(),
        signingSeconds: signingSince ? Math.round((now.getTime() - new Date(signingSince).getTime()) / 1000) : null,
        activeKid: outcome.active ?? null,
        refusedWithinS: this.config.KEY_RING_REFRESH_S,
      };
      let data: Record<string, string | number | boolean | null>;
      if (family === 'job-envelope') {
        // The queued jobs it signed are taken out of the queues now (none runs), counted and named;
        // one signed after this by a process that has not reloaded is refused by the worker
        // (`revoked_key`) and recorded as `platform.job_refused`.
        let refused: QueuedJobsRefused | undefined;
        let sweepError: string | undefined;
        try {
          refused = await this.queuedJobs?.refuseSignedBy(outcome.demoted.kid);
        } catch (error) {
          sweepError = (error as Error).message.slice(0, 200);
        }
        outcome.queuedJobs = refused ?? { error: sweepError ?? 'the queues were not examined (no queue connection in this process)' };
        data = {
          ...common,
          queuedJobsRefused: refused ? refused.refused : null,
          queuedJobsListed: refused ? refused.jobs.join(' ') : '',
          scheduledRunsSignedAgain: refused ? refused.schedules : null,
          ...(sweepError ? { queueSweepError: sweepError } : {}),
          laterJobsRecordedAs: 'platform.job_refused',
        };
      } else {
        const lifetimeS = Math.max(this.config.ACCESS_TOKEN_TTL_S, this.config.PARTNER_TOKEN_TTL_S);
        data = {
          ...common,
          // Every token it signed that had not expired was issued after this instant; each process
          // refuses them from its next ring reload (KEY_RING_REFRESH_S).
          unexpiredIssuedAfter: new Date(Math.max(now.getTime() - lifetimeS * 1000, signingSince ? new Date(signingSince).getTime() : 0)).toISOString(),
          tokensSigned: 'not recorded (access and partner tokens are not stored)',
          sessionsEnded: 0,
        };
      }
      await this.platformAudit?.record({
        type: 'platform.key_revoked',
        outcome: 'success',
        actor,
        subject: `${family}:${outcome.demoted.kid}`,
        data,
      });
    }
    return outcome;
  }
}

/**
 * A new job-envelope HMAC key: 32 random bytes as base64url text, used as a JOB_SIGNING_KEYS secret
 * is (its UTF-8 bytes are the HMAC key), so a ring key and an environment key are the same kind of
 * value (kid: date and random part, like the access-token keys of the ring).
 */
function newJobEnvelopeKey(now: Date): { kid: string; jwk: Buffer } {
  return { kid: `r${now.toISOString().slice(0, 10).replaceAll('-', '')}-${crypto.randomUUID().slice(0, 8)}`, jwk: Buffer.from(randomBytes(32).toString('base64url'), 'utf8') };
}

/** A new Ed25519 signing key as the private JWK the ring stores (kid: date and random part, as keys:generate makes them). */
async function newAccessTokenKey(now: Date): Promise<{ kid: string; jwk: Buffer }> {
  const { privateKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519', extractable: true });
  const kid = `r${now.toISOString().slice(0, 10).replaceAll('-', '')}-${crypto.randomUUID().slice(0, 8)}`;
  return { kid, jwk: Buffer.from(JSON.stringify({ ...(await exportJWK(privateKey)), kid }), 'utf8') };
}

import type { PartnerScope, SystemPrincipal } from '@benteng/authz';

/** Tenant jobs: each carries a signed tenant envelope and runs in a Scope (docs/architecture.md, invariant 7). */
export const JOBS_QUEUE = 'jobs';
/** Platform jobs: a separate, named kind without tenant or actor (cleanup, schedulers). */
export const PLATFORM_QUEUE = 'platform';

/**
 * Who asked for a tenant job, as the producer's Scope said. Only identities travel, never a role
 * or scopes: the worker looks the actor up again when the job runs, so a revoked user, a removed
 * member or a revoked partner client cannot act through a job queued before the change.
 */
export type EnvelopePrincipal =
  | { kind: 'user'; userId: string; sessionId?: string }
  | {
      kind: 'partner';
      clientId: string;
      /** The scopes the request had (a token may be narrower than its client): the job never gets more. */
      scopes?: PartnerScope[];
      /** The API key the request used: revoking it refuses the jobs it queued. */
      keyId?: string;
    }
  | { kind: 'system'; name: SystemPrincipal['name'] };

export interface TenantJobEnvelope<D = unknown> {
  v: 1;
  kind: 'tenant';
  /** The handler's name, e.g. `exports.run` (see `@TenantJob`). */
  name: string;
  tenantId: string;
  actor: EnvelopePrincipal;
  /** The request (or parent job) that caused this job, so one id follows the work through the logs. */
  requestId: string;
  /** ISO 8601, when the producer signed the envelope. */
  issuedAt: string;
  data: D;
}

export interface PlatformJobEnvelope<D = unknown> {
  v: 1;
  kind: 'platform';
  name: string;
  requestId: string;
  issuedAt: string;
  data: D;
}

export type JobEnvelope = TenantJobEnvelope | PlatformJobEnvelope;

/**
 * What a BullMQ job's `data` holds: the envelope, the id of the key that signed it, and
 * `sig` = base64url HMAC-SHA256 over `canonicalize(envelope)` (JobSigner).
 */
export interface SignedEnvelope {
  envelope: TenantJobEnvelope | PlatformJobEnvelope;
  kid: string;
  sig: string;
}

/**
 * Why the worker refuses a job for good. The first group is decided before any handler runs:
 * - `malformed`: not a signed envelope of the expected shape (or a job named differently from its envelope);
 * - `unknown_key`: signed with a key id this process does not hold (a removed key, or forged);
 * - `revoked_key`: signed with a job-envelope key revoked by an emergency rotation (suspected exposure);
 * - `bad_signature`: the HMAC does not match: the envelope was altered or signed with another key;
 * - `wrong_kind`: a platform envelope on the tenant queue, or the reverse;
 * - `unknown_job`: no handler of that name in this worker;
 * - `tenant_mismatch`: a `tenantId` inside the data names another tenant than the envelope;
 * - `tenant_suspended` / `tenant_unknown`: the envelope's tenant is not active (or does not exist);
 * - `actor_revoked`: the actor may no longer act in the tenant (see `detail`).
 * Handlers may throw JobRejection with their own reason for refusals of their own.
 */
export type JobRejectionReason =
  | 'malformed'
  | 'unknown_key'
  | 'revoked_key'
  | 'bad_signature'
  | 'wrong_kind'
  | 'unknown_job'
  | 'tenant_mismatch'
  | 'tenant_suspended'
  | 'tenant_unknown'
  | 'actor_revoked';

/** `actor_revoked` in detail: what about the actor's current state refused the job. */
export type ActorRevokedDetail =
  | 'user_locked'
  | 'not_a_member'
  | 'session_revoked'
  | 'session_expired'
  | 'client_unknown'
  | 'client_revoked'
  | 'client_expired'
  | 'key_revoked'
  | 'wrong_environment';

/**
 * A permanent refusal: the job fails at once, without retries (BullMQ UnrecoverableError), and
 * the refusal is logged and, when the envelope is genuine, audited in its tenant as `job.rejected`.
 * Messages carry the reason only, never a value from the job.
 */
export class JobRejection extends Error {
  constructor(
    readonly reason: JobRejectionReason | (string & {}),
    readonly detail?: ActorRevokedDetail | (string & {}),
  ) {
    super(detail ? `job rejected: ${reason} (${detail})` : `job rejected: ${reason}`);
    this.name = 'JobRejection';
  }
}

import { nextDelayMs } from './webhook-retry.js';
import type { DisabledReason } from './webhook.events.js';
import type { DeliveryStatus } from './webhook.types.js';

/** What a receiver's answer means: 2xx, 410 Gone, or anything else (no answer included). */
export type AttemptVerdict = 'success' | 'gone' | 'failure';

export function verdictOf(statusCode: number | null): AttemptVerdict {
  return statusCode !== null && statusCode >= 200 && statusCode < 300 ? 'success' : statusCode === 410 ? 'gone' : 'failure';
}

export type RecordOutcome = 'succeeded' | 'retrying' | 'failed' | 'endpoint_disabled' | 'superseded';

/** The endpoint and delivery as locked when a failed attempt is recorded. */
export interface FailedAttemptState {
  endpoint: { enabled: boolean; failingSince: Date | null };
  delivery: { status: string; attempts: number };
  /** The attempt being recorded. */
  attempt: number;
  now: Date;
}

export interface RetryPolicy {
  /** Delays between attempts (WEBHOOK_RETRY_SCHEDULE_S, in ms). */
  schedule: number[];
  /** WEBHOOK_DISABLE_AFTER_S in ms: a failure streak this long disables the endpoint. */
  disableAfterMs: number;
}

/** What recording a failed (non-2xx) attempt changes, in this order: streak, delivery, endpoint. */
export interface FailurePlan {
  outcome: Exclude<RecordOutcome, 'succeeded'>;
  /** The endpoint's failure streak starts now (it had none). */
  startStreak?: Date;
  delivery?: { status?: DeliveryStatus; nextAttemptAt: Date | null };
  disable?: Exclude<DisabledReason, 'manual'>;
  retry?: { attempt: number; delayMs: number };
}

/**
 * 410 Gone: the delivery fails and the endpoint is disabled (`gone`). Anything else: the endpoint's
 * failure streak starts if it had none; a newer attempt claimed meanwhile (an admin's redelivery)
 * decides what comes next (`superseded`); a streak of WEBHOOK_DISABLE_AFTER_S disables the endpoint
 * (`failing`) and holds the delivery (not failed: enabling the endpoint again resumes it); otherwise
 * the next attempt per the schedule, or failed when the schedule is exhausted.
 */
export function failurePlan(verdict: Exclude<AttemptVerdict, 'success'>, state: FailedAttemptState, policy: RetryPolicy): FailurePlan {
  const { endpoint, delivery, attempt, now } = state;
  if (verdict === 'gone') {
    return { outcome: 'endpoint_disabled', delivery: { status: 'failed', nextAttemptAt: null }, ...(endpoint.enabled ? { disable: 'gone' as const } : {}) };
  }
  const failingSince = endpoint.failingSince ?? now;
  const startStreak = endpoint.failingSince ? {} : { startStreak: failingSince };
  const latest = delivery.status === 'pending' && delivery.attempts === attempt;
  if (!latest) return { outcome: 'superseded', ...startStreak };
  if (endpoint.enabled && now.getTime() - failingSince.getTime() >= policy.disableAfterMs) {
    return { outcome: 'endpoint_disabled', ...startStreak, delivery: { nextAttemptAt: null }, disable: 'failing' };
  }
  const delayMs = nextDelayMs(policy.schedule, attempt);
  if (delayMs === null) return { outcome: 'failed', ...startStreak, delivery: { status: 'failed', nextAttemptAt: null } };
  return { outcome: 'retrying', ...startStreak, delivery: { nextAttemptAt: new Date(now.getTime() + delayMs) }, retry: { attempt: attempt + 1, delayMs } };
}

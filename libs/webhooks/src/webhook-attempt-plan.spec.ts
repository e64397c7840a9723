import { describe, expect, it } from 'vitest';
import { failurePlan, verdictOf, type FailedAttemptState } from './webhook-attempt-plan.js';

const now = new Date('2026-03-01T12:00:00.000Z');
const policy = { schedule: [0, 1_000, 5_000], disableAfterMs: 3_600_000 };
const state = (over: Partial<FailedAttemptState> = {}): FailedAttemptState => ({
  endpoint: { enabled: true, failingSince: null },
  delivery: { status: 'pending', attempts: 1 },
  attempt: 1,
  now,
  ...over,
});

describe('what a failed webhook attempt changes', () => {
  it('reads 2xx as success, 410 as gone, anything else (no answer included) as failure', () => {
    expect([200, 204, 299, 410, 300, 404, 500, null].map(verdictOf)).toEqual(['success', 'success', 'success', 'gone', 'failure', 'failure', 'failure', 'failure']);
  });

  it('410 Gone fails the delivery and disables an enabled endpoint, without a failure streak', () => {
    expect(failurePlan('gone', state(), policy)).toEqual({ outcome: 'endpoint_disabled', delivery: { status: 'failed', nextAttemptAt: null }, disable: 'gone' });
    expect(failurePlan('gone', state({ endpoint: { enabled: false, failingSince: null } }), policy)).toEqual({ outcome: 'endpoint_disabled', delivery: { status: 'failed', nextAttemptAt: null } });
  });

  it('starts the failure streak and schedules the next attempt', () => {
    const sut = failurePlan('failure', state(), policy);
    expect(sut).toEqual({ outcome: 'retrying', startStreak: now, delivery: { nextAttemptAt: new Date(now.getTime() + 1_000) }, retry: { attempt: 2, delayMs: 1_000 } });
  });

  it('fails the delivery when the schedule is exhausted, keeping an existing streak', () => {
    const sut = failurePlan('failure', state({ endpoint: { enabled: true, failingSince: new Date(now.getTime() - 1_000) }, delivery: { status: 'pending', attempts: 3 }, attempt: 3 }), policy);
    expect(sut).toEqual({ outcome: 'failed', delivery: { status: 'failed', nextAttemptAt: null } });
  });

  it('disables an endpoint failing for WEBHOOK_DISABLE_AFTER_S and holds the delivery', () => {
    const sut = failurePlan('failure', state({ endpoint: { enabled: true, failingSince: new Date(now.getTime() - 3_600_000) } }), policy);
    expect(sut).toEqual({ outcome: 'endpoint_disabled', delivery: { nextAttemptAt: null }, disable: 'failing' });
  });

  it('leaves what comes next to a newer attempt claimed meanwhile, but still records the streak', () => {
    expect(failurePlan('failure', state({ delivery: { status: 'pending', attempts: 2 } }), policy)).toEqual({ outcome: 'superseded', startStreak: now });
    expect(failurePlan('failure', state({ delivery: { status: 'succeeded', attempts: 1 } }), policy)).toEqual({ outcome: 'superseded', startStreak: now });
  });
});

import type { KeyRingRow, KeyState } from '@benteng/database';

export interface RotationPolicy {
  /** A `next` key signs only once it has been published this long (KEY_PUBLISH_LEAD_S). */
  publishLeadS: number;
  /** A retired key keeps verifying this long: the longest lifetime of a token it signed (plus clock skew). */
  overlapS: number;
  /** The scheduled rotation replaces an active key this old (ACCESS_TOKEN_KEY_MAX_AGE_S, JOB_ENVELOPE_KEY_MAX_AGE_S). */
  maxAgeS: number;
}

export type RotationMode = 'scheduled' | 'now' | 'emergency';

export interface RotationPlan {
  /** Create a new `next` key (published now, signs at a later rotation). */
  addNext: boolean;
  /** The `next` key promoted to `active`. */
  promote?: string;
  /** The active key moved to `retired` (verifies until `verifyUntil`) or, in an emergency, `revoked`. */
  demote?: { kid: string; state: Extract<KeyState, 'retired' | 'revoked'>; verifyUntil?: Date };
  /** Why nothing is promoted (for the CLI and the log), when nothing is. */
  waiting?: string;
}

const seconds = (from: Date, to: Date): number => (to.getTime() - from.getTime()) / 1000;

/**
 * What a rotation does to a family's ring, decided from its rows alone (a pure function, so the
 * overlap rules are tested without a database: libs/auth/src/key-rotation.spec.ts).
 *
 * - Without a `next` key, one is added first: the key that will sign is published before it signs.
 * - `scheduled` promotes only when the active key has reached `maxAgeS` (or there is none) and the
 *   next key has been published for `publishLeadS`; `now` (`npm run keys:rotate`) skips the age
 *   condition; `emergency` skips both, because the exposed key must stop signing and verifying at
 *   once (a verifier that has not loaded the new key yet reloads on the unknown kid).
 * - The active key becomes `retired` and verifies for `overlapS` more (every token it signed is
 *   valid at most that long), or `revoked` in an emergency (its tokens stop at once).
 * - After a promotion a new `next` key is added, so the following rotation can be immediate.
 */
export function planRotation(rows: readonly KeyRingRow[], now: Date, policy: RotationPolicy, mode: RotationMode): RotationPlan {
  const active = rows.find((r) => r.state === 'active');
  const next = rows.filter((r) => r.state === 'next').sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime())[0];
  if (!next) {
    if (mode !== 'emergency') return { addNext: true, waiting: 'a next key is published now; it can sign once it has been published for KEY_PUBLISH_LEAD_S' };
    // Emergency without a published successor: the new key is created and must sign at once anyway.
  }
  if (next && mode === 'scheduled' && active && seconds(active.activatedAt ?? active.createdAt, now) < policy.maxAgeS) {
    return { addNext: false, waiting: 'the active key is younger than its maximum age' };
  }
  if (next && mode !== 'emergency' && seconds(next.createdAt, now) < policy.publishLeadS) {
    return { addNext: false, waiting: `the next key ${next.kid} has been published for less than KEY_PUBLISH_LEAD_S` };
  }
  const demote = active
    ? mode === 'emergency'
      ? { kid: active.kid, state: 'revoked' as const }
      : { kid: active.kid, state: 'retired' as const, verifyUntil: new Date(now.getTime() + policy.overlapS * 1000) }
    : undefined;
  return { addNext: true, ...(next ? { promote: next.kid } : {}), ...(demote ? { demote } : {}) };
}

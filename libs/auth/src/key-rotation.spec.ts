import { describe, expect, it } from 'vitest';
import { tag } from '../../../test/security/support/controls.js';
import type { KeyRingRow, KeyState } from '@benteng/database';
import { planRotation } from './key-rotation.js';

const T0 = new Date('2026-12-01T00:00:00Z');
const at = (s: number) => new Date(T0.getTime() + s * 1000);
const row = (kid: string, state: KeyState, createdS: number, activatedS?: number): KeyRingRow => ({
  kid,
  state,
  rootKid: 'r1',
  material: Buffer.alloc(0),
  createdAt: at(createdS),
  activatedAt: activatedS === undefined ? null : at(activatedS),
  retiredAt: null,
  verifyUntil: null,
  revokedAt: null,
});
const policy = { publishLeadS: 900, overlapS: 660, maxAgeS: 86_400 };

describe('planRotation', () => {
  it(tag('SECRETS-LIFECYCLE', 'a key is published before it signs: an empty ring only gets a next key, promoted after KEY_PUBLISH_LEAD_S'), () => {
    expect(planRotation([], at(0), policy, 'now')).toEqual({ addNext: true, waiting: expect.stringContaining('published now') });
    const published = [row('n1', 'next', 0)];
    expect(planRotation(published, at(899), policy, 'now')).toMatchObject({ addNext: false, waiting: expect.stringContaining('KEY_PUBLISH_LEAD_S') });
    expect(planRotation(published, at(900), policy, 'now')).toEqual({ addNext: true, promote: 'n1' });
  });

  it(tag('SECRETS-LIFECYCLE', 'the retired key keeps verifying for the longest token lifetime; the scheduled rotation waits for the maximum age'), () => {
    const ring = [row('a1', 'active', 0, 0), row('n1', 'next', 10)];
    expect(planRotation(ring, at(86_399), policy, 'scheduled')).toMatchObject({ addNext: false, waiting: expect.stringContaining('younger') });
    expect(planRotation(ring, at(86_400), policy, 'scheduled')).toEqual({ addNext: true, promote: 'n1', demote: { kid: 'a1', state: 'retired', verifyUntil: at(86_400 + 660) } });
    // `now` (npm run keys:rotate) ignores the age, never the publication lead.
    expect(planRotation(ring, at(1000), policy, 'now')).toEqual({ addNext: true, promote: 'n1', demote: { kid: 'a1', state: 'retired', verifyUntil: at(1660) } });
    expect(planRotation([row('a1', 'active', 0, 0), row('n1', 'next', 500)], at(1000), policy, 'now')).toMatchObject({ addNext: false });
  });

  it(tag('SECRETS-LIFECYCLE', 'an emergency rotation revokes the active key at once, whatever the lead and the age'), () => {
    expect(planRotation([row('a1', 'active', 0, 0), row('n1', 'next', 999)], at(1000), policy, 'emergency')).toEqual({ addNext: true, promote: 'n1', demote: { kid: 'a1', state: 'revoked' } });
    expect(planRotation([row('a1', 'active', 0, 0)], at(5), policy, 'emergency')).toEqual({ addNext: true, demote: { kid: 'a1', state: 'revoked' } });
  });
});

import { describe, expect, it } from 'vitest';
import { Scope } from '@benteng/tenancy';
import { creatorOf, futureOrNull } from './credential-rules.js';
import { PartnerErrorCode } from './partner.errors.js';

const TENANT = '0193b7a0-0000-7000-8000-000000000001';
const USER = '0193b7a0-0000-7000-8000-0000000000a1';
const NOW = new Date('2026-12-07T10:00:00Z');

describe('creatorOf', () => {
  it('is the acting user, and refuses any other principal', () => {
    expect(creatorOf(Scope.for(TENANT, { kind: 'user', userId: USER, role: 'admin' }))).toBe(USER);
    expect(() => creatorOf(Scope.for(TENANT, { kind: 'system', name: 'jobs' }))).toThrow(expect.objectContaining({ code: PartnerErrorCode.Forbidden }));
  });
});

describe('futureOrNull', () => {
  it('keeps a future expiry, stores none as null, and refuses one that is not in the future', () => {
    const later = new Date(NOW.getTime() + 1);
    expect(futureOrNull(later, NOW)).toBe(later);
    expect(futureOrNull(undefined, NOW)).toBeNull();
    expect(futureOrNull(null, NOW)).toBeNull();
    expect(() => futureOrNull(NOW, NOW)).toThrow(expect.objectContaining({ code: PartnerErrorCode.ExpiryInPast }));
  });
});

import { describe, expect, it } from 'vitest';
import { namesAnotherTenant as sut } from './tenant-claims.js';

const TENANT = '0193b7a0-0000-7000-8000-0000000000a1';
const OTHER = '0193b7a0-0000-7000-8000-0000000000b2';

describe('namesAnotherTenant', () => {
  it('accepts data without a tenantId, or naming the envelope tenant in any case', () => {
    expect(sut({ exportId: OTHER, rows: [1, 2] }, TENANT)).toBe(false);
    expect(sut({ tenantId: TENANT.toUpperCase(), nested: { tenantId: TENANT } }, TENANT)).toBe(false);
    expect(sut(null, TENANT)).toBe(false);
    expect(sut('tenantId', TENANT)).toBe(false);
  });

  it('finds another tenant at any depth, in objects and arrays', () => {
    expect(sut({ tenantId: OTHER }, TENANT)).toBe(true);
    expect(sut({ a: { b: [{ c: { tenantId: OTHER } }] } }, TENANT)).toBe(true);
    expect(sut([{ tenantId: TENANT }, { tenantId: OTHER }], TENANT)).toBe(true);
  });

  it.each([null, 1, [TENANT], { id: TENANT }])('refuses a tenantId that is not a string: %j', (value) => {
    expect(sut({ tenantId: value }, TENANT)).toBe(true);
  });

  it('walks deep nesting without exhausting the stack', () => {
    let deep: unknown = { tenantId: OTHER };
    for (let i = 0; i < 100_000; i++) deep = { next: deep };
    expect(sut(deep, TENANT)).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { isConcurrencyConflict, isUniqueViolation } from './tenant-database.js';

// The HTTP layer answers these with 409 instead of 500 (test/integration/concurrency-conflict.spec.ts
// proves the shapes against a real deadlock); anything else must stay an unexpected error.
describe('isConcurrencyConflict', () => {
  it('recognises Prisma P2034 and the retryable SQLSTATEs wherever Prisma 7 puts them', () => {
    expect(isConcurrencyConflict({ code: 'P2034' })).toBe(true);
    for (const state of ['40001', '40P01']) {
      expect(isConcurrencyConflict({ code: 'P2010', meta: { code: state } })).toBe(true);
      expect(isConcurrencyConflict({ meta: { driverAdapterError: { cause: { originalCode: state } } } })).toBe(true);
    }
  });

  it('calls nothing else a conflict', () => {
    for (const error of [null, undefined, 'P2034', 40001, new Error('40001'), {}, { code: 'P2002' }, { meta: { code: '23505' } }, { meta: { code: 40001 } }, { meta: {} }, { meta: { driverAdapterError: { cause: { originalCode: '23505' } } } }, { meta: { driverAdapterError: {} } }]) {
      expect(isConcurrencyConflict(error)).toBe(false);
    }
  });
});

describe('isUniqueViolation', () => {
  it('is true for Prisma P2002 only', () => {
    expect(isUniqueViolation({ code: 'P2002' })).toBe(true);
    for (const error of [null, undefined, {}, { code: 'P2034' }, { code: 'p2002' }, 'P2002']) expect(isUniqueViolation(error)).toBe(false);
  });
});

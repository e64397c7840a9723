import { describe, expect, it } from 'vitest';
import { excerptOf, RESPONSE_EXCERPT_MAX_BYTES } from './webhook-delivery.service.js';
import { nextDelayMs, retrySchedule } from './webhook-retry.js';

describe('retry schedule', () => {
  it('reads WEBHOOK_RETRY_SCHEDULE_S as delays: one attempt per entry, then no more', () => {
    const sut = retrySchedule('0,5,300');
    expect(sut).toEqual([0, 5_000, 300_000]);
    expect(nextDelayMs(sut, 1)).toBe(5_000);
    expect(nextDelayMs(sut, 2)).toBe(300_000);
    expect(nextDelayMs(sut, 3)).toBeNull();
    expect(nextDelayMs(sut, 9)).toBeNull();
    expect(nextDelayMs(retrySchedule('0'), 1)).toBeNull();
  });
});

describe('response excerpt', () => {
  it('keeps at most 1 KiB of UTF-8, cut on a character boundary, without U+0000', () => {
    expect(excerptOf('ok\u0000!')).toBe('ok!');
    const long = 'é'.repeat(RESPONSE_EXCERPT_MAX_BYTES);
    const sut = excerptOf(long);
    expect(Buffer.byteLength(sut, 'utf8')).toBeLessThanOrEqual(RESPONSE_EXCERPT_MAX_BYTES);
    expect(sut).toBe('é'.repeat(RESPONSE_EXCERPT_MAX_BYTES / 2));
    expect(excerptOf(`a${'é'.repeat(600)}`)).toBe(`a${'é'.repeat(511)}`);
  });
});

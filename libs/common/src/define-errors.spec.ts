import { describe, expect, it } from 'vitest';
import { defineErrors } from './define-errors.js';
import { DomainError } from './domain-error.js';

enum SampleCode {
  Missing = 'sample.not_found',
  Busy = 'sample.busy',
}

class SampleError extends defineErrors<SampleCode>({
  [SampleCode.Missing]: { kind: 'not_found', message: 'Sample not found.' },
  [SampleCode.Busy]: { kind: 'rate_limited', message: 'Try again later.' },
}) {}

class TimedSampleError extends defineErrors<SampleCode>({
  [SampleCode.Missing]: { kind: 'gone', message: 'Gone.' },
  [SampleCode.Busy]: { kind: 'conflict', message: 'Busy.' },
}) {
  constructor(code: SampleCode, retryAfterS: number) {
    super(code);
    this.retryAfterS = retryAfterS;
  }
}

describe('defineErrors', () => {
  it("gives every code its table row's kind and message, under the feature class's own name", () => {
    const error = new SampleError(SampleCode.Missing);
    expect(error).toBeInstanceOf(SampleError);
    expect(error).toBeInstanceOf(DomainError);
    expect(error).toBeInstanceOf(Error);
    expect(error.name).toBe('SampleError');
    expect({ code: error.code, kind: error.kind, message: error.message }).toEqual({ code: 'sample.not_found', kind: 'not_found', message: 'Sample not found.' });
    expect(new SampleError(SampleCode.Busy)).toMatchObject({ code: 'sample.busy', kind: 'rate_limited', message: 'Try again later.' });
    expect(error.retryAfterS).toBeUndefined();
    expect(error.extensions).toBeUndefined();
  });

  it('makes one base class per table, so two features never share rows or instanceof', () => {
    const timed = new TimedSampleError(SampleCode.Busy, 7);
    expect(timed).toMatchObject({ name: 'TimedSampleError', kind: 'conflict', message: 'Busy.', retryAfterS: 7 });
    expect(timed).not.toBeInstanceOf(SampleError);
    expect(new SampleError(SampleCode.Busy)).not.toBeInstanceOf(TimedSampleError);
  });

  it('refuses a code its table has no row for (only reachable past the type checker)', () => {
    expect(() => new SampleError('sample.unknown' as SampleCode)).toThrow('Unhandled case: sample.unknown');
  });

  it('does not compile with a table that misses a code or has a row for no code', () => {
    // @ts-expect-error SampleCode.Busy has no row
    defineErrors<SampleCode>({ [SampleCode.Missing]: { kind: 'not_found', message: 'x' } });
    // @ts-expect-error a row for a code that does not exist
    defineErrors<SampleCode>({ [SampleCode.Missing]: { kind: 'not_found', message: 'x' }, [SampleCode.Busy]: { kind: 'conflict', message: 'y' }, 'sample.extra': { kind: 'invalid', message: 'z' } });
    // @ts-expect-error a kind the HTTP layer does not map
    defineErrors<SampleCode>({ [SampleCode.Missing]: { kind: 'teapot', message: 'x' }, [SampleCode.Busy]: { kind: 'conflict', message: 'y' } });
    expect(true).toBe(true);
  });
});

import { describe, expect, it } from 'vitest';
import { canonicalize as sut } from './canonical.js';

describe('canonicalize', () => {
  it('writes the same text whatever order the keys were inserted in', () => {
    expect(sut({ b: 1, a: 2, c: 3 })).toBe('{"a":2,"b":1,"c":3}');
    expect(sut({ c: 3, a: 2, b: 1 })).toBe(sut({ a: 2, b: 1, c: 3 }));
  });

  it('does not follow the order jsonb hands back (shorter keys first)', () => {
    // jsonb would return {"b":1,"aa":2}: the canonical text sorts by code units instead.
    expect(sut({ b: 1, aa: 2 })).toBe('{"aa":2,"b":1}');
  });

  it('sorts the keys of nested objects, including objects inside arrays', () => {
    expect(sut({ outer: { z: true, y: { q: null, p: 'x' } }, list: [{ b: 1, a: 2 }] })).toBe(
      '{"list":[{"a":2,"b":1}],"outer":{"y":{"p":"x","q":null},"z":true}}',
    );
  });

  it('keeps array order: arrays are sequences, not sets', () => {
    expect(sut([3, 1, 2])).toBe('[3,1,2]');
    expect(sut([3, 1, 2])).not.toBe(sut([1, 2, 3]));
  });

  it('sorts keys by UTF-16 code units, as RFC 8785 does', () => {
    expect(sut({ a: 1, B: 2, é: 3, '😀': 4, '\uFFFF': 5 })).toBe('{"B":2,"a":1,"é":3,"😀":4,"\uFFFF":5}');
  });

  it('writes scalars as JSON does, and bigint as exact digits', () => {
    expect(sut(null)).toBe('null');
    expect(sut(true)).toBe('true');
    expect(sut(-0)).toBe('0');
    expect(sut(1.5e21)).toBe('1.5e+21');
    expect(sut(9007199254740993n)).toBe('9007199254740993');
    expect(sut('quote " backslash \\ newline \n')).toBe('"quote \\" backslash \\\\ newline \\n"');
    expect(sut({})).toBe('{}');
    expect(sut([])).toBe('[]');
  });

  it('refuses what JSON cannot represent instead of dropping or converting it', () => {
    expect(() => sut({ a: undefined } as never)).toThrow(TypeError);
    expect(() => sut(Number.NaN)).toThrow(TypeError);
    expect(() => sut(Number.POSITIVE_INFINITY)).toThrow(TypeError);
    expect(() => sut(new Date() as never)).toThrow(TypeError);
    expect(() => sut((() => 1) as never)).toThrow(TypeError);
  });
});

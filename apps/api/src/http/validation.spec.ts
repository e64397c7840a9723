import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, MaxLength, ValidateNested, type ValidationError } from 'class-validator';
import { describe, expect, it } from 'vitest';
import { ValidationProblem } from './problem.js';
import { createValidationPipe, MAX_INPUT_DEPTH, RequestValidationPipe, structuralErrors, toPointerErrors } from './validation.js';

// Unit spec of the strict input pipe (INPUT-VALIDATION): the structural checks on the plain input,
// the pointer flattening of class-validator's errors, and the pipe's options, each called directly.
// test/security/validation.spec.ts proves the same answers on the running API.

class Line {
  @IsString()
  @MaxLength(5)
  name!: string;
}

class Body {
  @IsInt()
  count!: number;

  @IsOptional()
  @ValidateNested({ each: true })
  @Type(() => Line)
  lines?: Line[];
}

const body = { type: 'body' as const, metatype: Body, data: '' };

async function refusal(run: () => Promise<unknown>): Promise<ValidationProblem> {
  const error = await run().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ValidationProblem);
  return error as ValidationProblem;
}

describe('toPointerErrors', () => {
  it('flattens nested errors into escaped JSON pointers with sorted rule names and no values', () => {
    const errors = [
      { property: 'a/b~c', constraints: { z: 'zz', a: 'aa' }, children: [] },
      {
        property: 'lines',
        children: [{ property: '0', children: [{ property: 'name', constraints: { maxLength: 'm', isString: 's' }, value: 'secret' }] }],
      },
    ] as unknown as ValidationError[];
    expect(toPointerErrors(errors)).toEqual([
      { pointer: '/a~1b~0c', rules: ['a', 'z'] },
      { pointer: '/lines/0/name', rules: ['isString', 'maxLength'] },
    ]);
    expect(toPointerErrors(errors, '/x')[0]!.pointer).toBe('/x/a~1b~0c');
  });

  it('puts an error without a property (class-validator\'s unknownValue) at the pointer of the value itself', () => {
    const errors = [{ property: 'inner', children: [{ property: undefined, constraints: { unknownValue: 'u' }, children: [] }] }] as unknown as ValidationError[];
    expect(toPointerErrors(errors)).toEqual([{ pointer: '/inner', rules: ['unknownValue'] }]);
  });

  it('escapes every ~ and / of a property, not only the first', () => {
    const errors = [{ property: '~~//', constraints: { r: 'r' } }] as unknown as ValidationError[];
    expect(toPointerErrors(errors)).toEqual([{ pointer: '/~0~0~1~1', rules: ['r'] }]);
  });
});

describe('structuralErrors', () => {
  it('accepts plain well-formed input of any shape', () => {
    expect(structuralErrors({ a: 'x', b: [1, 'y', { c: null }], d: true })).toEqual([]);
    expect(structuralErrors('text')).toEqual([]);
    expect(structuralErrors(null)).toEqual([]);
    expect(structuralErrors(42)).toEqual([]);
    expect(structuralErrors(undefined)).toEqual([]);
  });

  it('refuses text that is not well-formed UTF-16, as a value or as a key, with its pointer', () => {
    expect(structuralErrors('\uD800')).toEqual([{ pointer: '', rules: ['isWellFormedUnicode'] }]);
    expect(structuralErrors({ a: { 'b/~': '\uDC00x' } })).toEqual([{ pointer: '/a/b~1~0', rules: ['isWellFormedUnicode'] }]);
    expect(structuralErrors({ ['k\uD800']: 'fine' })).toEqual([{ pointer: '/k\uD800', rules: ['isWellFormedUnicode'] }]);
  });

  it('refuses __proto__, constructor and prototype keys at any depth without descending into them', () => {
    const input = JSON.parse('{"__proto__":{"x":"\\uD800"},"a":[{"constructor":1}],"b":{"prototype":{}}}') as unknown;
    expect(structuralErrors(input)).toEqual(
      expect.arrayContaining([
        { pointer: '/__proto__', rules: ['whitelistValidation'] },
        { pointer: '/a/0/constructor', rules: ['whitelistValidation'] },
        { pointer: '/b/prototype', rules: ['whitelistValidation'] },
      ]),
    );
    expect(structuralErrors(input)).toHaveLength(3);
    expect(structuralErrors({ prototyp: 1, Constructor: 2 })).toEqual([]);
  });

  it('refuses nesting from MAX_INPUT_DEPTH on, once, at the pointer where it starts', () => {
    const nest = (levels: number): unknown => (levels === 0 ? 'leaf' : { n: nest(levels - 1) });
    expect(MAX_INPUT_DEPTH).toBe(16);
    // MAX_INPUT_DEPTH objects deep: the innermost object is at depth 15, its leaf a string.
    expect(structuralErrors(nest(MAX_INPUT_DEPTH))).toEqual([]);
    const deeper = structuralErrors(nest(MAX_INPUT_DEPTH + 1));
    expect(deeper).toEqual([{ pointer: '/n'.repeat(MAX_INPUT_DEPTH), rules: ['maxDepth'] }]);
    // A bad string below the limit is found; the refused object's content is not read.
    const wide = { n: nest(MAX_INPUT_DEPTH + 5), s: '\uD800' };
    expect(structuralErrors(wide)).toEqual(
      expect.arrayContaining([
        { pointer: '/s', rules: ['isWellFormedUnicode'] },
        { pointer: '/n'.repeat(MAX_INPUT_DEPTH), rules: ['maxDepth'] },
      ]),
    );
    expect(structuralErrors(wide)).toHaveLength(2);
  });

  it('reports at most 20 problems', () => {
    const many = Object.fromEntries(Array.from({ length: 50 }, (_, i) => [`k${i}`, '\uD800']));
    expect(structuralErrors(many)).toHaveLength(20);
    const few = Object.fromEntries(Array.from({ length: 19 }, (_, i) => [`k${i}`, '\uD800']));
    expect(structuralErrors(few)).toHaveLength(19);
  });
});

describe.each([
  ['createValidationPipe()', () => createValidationPipe()],
  ['RequestValidationPipe', () => new RequestValidationPipe()],
])('%s', (_, make) => {
  it('transforms a valid body into the DTO, without converting types implicitly', async () => {
    const out = await make().transform({ count: 3, lines: [{ name: 'ab' }] }, body);
    expect(out).toBeInstanceOf(Body);
    expect((out as Body).lines![0]).toBeInstanceOf(Line);
    const problem = await refusal(() => make().transform({ count: '3' }, body));
    expect(problem.errors).toEqual([{ pointer: '/count', rules: ['isInt'] }]);
  });

  it('refuses unknown fields and reports every failure, nested ones as pointers', async () => {
    const problem = await refusal(() => make().transform({ count: 'x', extra: 1, lines: [{ name: 'toolong', more: 2 }] }, body));
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        { pointer: '/count', rules: ['isInt'] },
        { pointer: '/extra', rules: ['whitelistValidation'] },
        { pointer: '/lines/0/name', rules: ['maxLength'] },
        { pointer: '/lines/0/more', rules: ['whitelistValidation'] },
      ]),
    );
    expect(problem.errors).toHaveLength(4);
    expect(JSON.stringify(problem.errors)).not.toContain('toolong');
  });

  it('reports every rule a field breaks, not only the first', async () => {
    const problem = await refusal(() => make().transform({ count: 1, lines: [{ name: 5 }] }, body));
    expect(problem.errors).toEqual([{ pointer: '/lines/0/name', rules: ['isString', 'maxLength'] }]);
  });

  it('refuses an unknown value (an object of no DTO) instead of passing it through', async () => {
    class Untyped {}
    const problem = await refusal(() => make().transform({ a: 1 }, { type: 'body', metatype: Untyped, data: '' }));
    expect(problem.errors).toEqual([{ pointer: '', rules: ['unknownValue'] }]);
  });

  it.each(['body', 'query', 'param'] as const)('runs the structural checks on the %s before class-validator', async (type) => {
    const problem = await refusal(() => make().transform({ count: 1, prototype: {} }, { type, metatype: Body, data: '' }));
    expect(problem.errors).toEqual([{ pointer: '/prototype', rules: ['whitelistValidation'] }]);
  });

  it('does not run them on custom arguments (a decorator value is not client input)', async () => {
    const value = { ok: '\uD800' };
    await expect(make().transform(value, { type: 'custom', metatype: Object, data: '' })).resolves.toBe(value);
  });
});

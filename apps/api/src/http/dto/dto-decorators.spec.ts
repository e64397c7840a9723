import 'reflect-metadata';
import { IsString } from 'class-validator';
import { targetConstructorToSchema } from 'class-validator-jsonschema';
import { describe, expect, it } from 'vitest';
import { NestedArray, NestedObject } from '../nested.decorator.js';
import { ValidationProblem } from '../problem.js';
import { createValidationPipe } from '../validation.js';
import { dayOrNull, InvoiceLineDto, newInvoice, newLines } from './invoice.dto.js';
import { patchOf } from './patch-of.js';

// The shared DTO helpers of apps/api/src/http: the nested-DTO decorators through the application's
// strict validation pipe (which inputs are refused, at which pointer, by which rule), and the pure
// mappings from a validated body to what the services take (patchOf, dayOrNull, newInvoice).
// The DTO classes are declared inside each test, so the decorators run there (docs/mutation.md,
// ignoreStatic).

class Item {
  @IsString()
  name!: string;
}

/** What the pipe answers for `value` as a body of `metatype`: the transformed value, or the refusal's errors. */
async function validate(metatype: new () => object, value: unknown): Promise<{ value: unknown } | { errors: { pointer: string; rules: string[] }[] }> {
  try {
    return { value: await createValidationPipe().transform(value, { type: 'body', metatype, data: '' }) };
  } catch (error) {
    if (!(error instanceof ValidationProblem)) throw error;
    return { errors: error.errors };
  }
}

describe('NestedObject', () => {
  it('requires an object (not an array, not null) and validates inside it', async () => {
    class Body {
      @NestedObject(() => Item)
      item!: Item;
    }
    expect(await validate(Body, { item: { name: 'a' } })).toEqual({ value: expect.any(Body) });
    expect(await validate(Body, {})).toEqual({ errors: [{ pointer: '/item', rules: ['isObject'] }] });
    expect(await validate(Body, { item: null })).toEqual({ errors: [{ pointer: '/item', rules: ['isObject', 'nestedValidation'] }] });
    expect(await validate(Body, { item: [] })).toEqual({ errors: [{ pointer: '/item', rules: ['isObject'] }] });
    expect(await validate(Body, { item: { name: 1 } })).toEqual({ errors: [{ pointer: '/item/name', rules: ['isString'] }] });
  });

  it('optional: absent is accepted, but a present value is still checked, and null is refused', async () => {
    class Body {
      @NestedObject(() => Item, { optional: true })
      item?: Item;
    }
    expect(await validate(Body, {})).toEqual({ value: expect.any(Body) });
    expect(await validate(Body, { item: { name: 'a' } })).toEqual({ value: expect.any(Body) });
    expect(await validate(Body, { item: null })).toEqual({ errors: [{ pointer: '/item', rules: ['isObject', 'nestedValidation'] }] });
    expect(await validate(Body, { item: [] })).toEqual({ errors: [{ pointer: '/item', rules: ['isObject'] }] });
    expect(await validate(Body, { item: { name: 1 } })).toEqual({ errors: [{ pointer: '/item/name', rules: ['isString'] }] });
  });
});

describe('NestedArray', () => {
  it('requires an array of objects and validates each element', async () => {
    class Body {
      @NestedArray(() => Item)
      items!: Item[];
    }
    expect(await validate(Body, { items: [{ name: 'a' }] })).toEqual({ value: expect.any(Body) });
    expect(await validate(Body, {})).toEqual({ errors: [{ pointer: '/items', rules: ['isArray', 'isObject'] }] });
    expect(await validate(Body, { items: { 0: { name: 'a' } } })).toMatchObject({ errors: expect.arrayContaining([{ pointer: '/items', rules: ['isArray'] }]) });
    expect(await validate(Body, { items: [[]] })).toEqual({ errors: [{ pointer: '/items', rules: ['isObject'] }] });
    expect(await validate(Body, { items: [{ name: 'a' }, { name: 2 }] })).toEqual({ errors: [{ pointer: '/items/1/name', rules: ['isString'] }] });
  });

  it('optional: absent is accepted, but a present value is still checked, and null is refused', async () => {
    class Body {
      @NestedArray(() => Item, { optional: true })
      items?: Item[];
    }
    expect(await validate(Body, {})).toEqual({ value: expect.any(Body) });
    expect(await validate(Body, { items: [] })).toEqual({ value: expect.any(Body) });
    expect(await validate(Body, { items: null })).toEqual({ errors: [{ pointer: '/items', rules: ['isArray', 'isObject', 'nestedValidation'] }] });
    expect(await validate(Body, { items: [[]] })).toEqual({ errors: [{ pointer: '/items', rules: ['isObject'] }] });
    expect(await validate(Body, { items: [{ name: 2 }] })).toEqual({ errors: [{ pointer: '/items/0/name', rules: ['isString'] }] });
  });
});

describe('the nested decorators in the JSON schema (OpenAPI)', () => {
  it('declares an optional nested property not nullable, a required one as required, and an array as an array of objects', () => {
    class Body {
      @NestedObject(() => Item)
      item!: Item;
      @NestedObject(() => Item, { optional: true })
      maybeItem?: Item;
      @NestedArray(() => Item)
      items!: Item[];
      @NestedArray(() => Item, { optional: true })
      maybeItems?: Item[];
    }
    const schema = targetConstructorToSchema(Body) as { properties: Record<string, Record<string, unknown>>; required: string[] };
    expect(schema.required).toEqual(['item', 'items']);
    expect(schema.properties.item).not.toHaveProperty('nullable');
    expect(schema.properties.items).not.toHaveProperty('nullable');
    expect(schema.properties.maybeItem).toMatchObject({ type: 'object', nullable: false });
    expect(schema.properties.maybeItems).toMatchObject({ type: 'array', nullable: false, items: { type: 'object' } });
    expect(schema.properties.items).toMatchObject({ type: 'array', items: { type: 'object' } });
    expect(schema.properties.items).not.toHaveProperty('$ref');
  });
});

describe('InvoiceLineDto', () => {
  it('takes integer quantities of 1 to 1,000,000 and integer minor units, refusing floats', async () => {
    class Body {
      @NestedArray(() => InvoiceLineDto)
      lines!: InvoiceLineDto[];
    }
    expect(await validate(Body, { lines: [{ description: 'x', quantity: 1, unitPriceMinor: 0 }] })).toEqual({ value: expect.any(Body) });
    expect(await validate(Body, { lines: [{ description: '', quantity: 0, unitPriceMinor: 1.5 }] })).toEqual({
      errors: [
        { pointer: '/lines/0/description', rules: ['minLength'] },
        { pointer: '/lines/0/quantity', rules: ['min'] },
        { pointer: '/lines/0/unitPriceMinor', rules: ['isInt'] },
      ],
    });
  });
});

describe('patchOf', () => {
  it('copies the named fields a body sets, keeps null (clears) and leaves out undefined (unchanged) and unnamed fields', () => {
    const body = { name: 'n', description: null, enabled: undefined, tier: 'gold', other: 1 };
    const sut = patchOf(body, ['name', 'description', 'enabled', 'tier']);
    expect(sut).toEqual({ name: 'n', description: null, tier: 'gold' });
    expect(Object.keys(sut)).toEqual(['name', 'description', 'tier']);
    expect(patchOf({ a: false, b: 0, c: '' }, ['a', 'b', 'c'])).toEqual({ a: false, b: 0, c: '' });
    expect(patchOf({ a: undefined } as { a?: number }, ['a'])).toEqual({});
  });
});

describe('invoice body mappings', () => {
  it('dayOrNull: undefined leaves alone, null clears, a day is midnight UTC', () => {
    expect(dayOrNull(undefined)).toBeUndefined();
    expect(dayOrNull(null)).toBeNull();
    expect(dayOrNull('2026-12-07')).toEqual(new Date(Date.UTC(2026, 11, 7)));
  });

  it('newInvoice: optional customer fields and due date become null, the currency only when given, money as bigint', () => {
    const lines = [{ description: 'L', quantity: 2, unitPriceMinor: 150 }];
    expect(newInvoice({ number: 'N-1', customer: { name: 'C' }, lines })).toEqual({
      number: 'N-1',
      customerName: 'C',
      customerEmail: null,
      customerTaxId: null,
      dueDate: null,
      lines: [{ description: 'L', quantity: 2, unitPriceMinor: 150n }],
    });
    expect(newInvoice({ number: 'N-2', currency: '', customer: { name: 'C', email: null, taxId: null }, dueDate: null, lines })).not.toHaveProperty('currency');
    expect(newInvoice({ number: 'N-3', currency: 'IDR', customer: { name: 'C', email: 'a@b.example', taxId: 'T-9' }, dueDate: '2027-01-31', lines })).toEqual({
      number: 'N-3',
      currency: 'IDR',
      customerName: 'C',
      customerEmail: 'a@b.example',
      customerTaxId: 'T-9',
      dueDate: new Date(Date.UTC(2027, 0, 31)),
      lines: [{ description: 'L', quantity: 2, unitPriceMinor: 150n }],
    });
    expect(newLines([])).toEqual([]);
  });
});


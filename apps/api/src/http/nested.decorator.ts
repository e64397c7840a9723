import { applyDecorators } from '@nestjs/common';
import { Type } from 'class-transformer';
import { IsArray, IsObject, ValidateIf, ValidateNested } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';

type Dto = new (...args: never[]) => object;

/**
 * A property holding one nested DTO. @ValidateNested alone is not a type check: class-validator
 * validates an array in its place element by element, so `customer: []` passed (and then failed in
 * the database: 500), `filters: []` was accepted and silently dropped, and a PATCH with
 * `customer: []` answered 200 having changed nothing. The value must be an object (not an array,
 * not null: there is nothing to clear in a nested object, and an absent property already means
 * "unchanged" or "none").
 *
 * Every @ValidateNested goes through this or NestedArray: test/security/validation.spec.ts scans
 * class-validator's metadata and fails on a nested property without the object or array check.
 */
export function NestedObject(type: () => Dto, options: { optional?: boolean } = {}): PropertyDecorator {
  return applyDecorators(
    ...(options.optional ? [ValidateIf((_: object, value: unknown) => value !== undefined), JSONSchema({ nullable: false })] : []),
    IsObject(),
    ValidateNested(),
    Type(type),
  );
}

/**
 * A property holding an array of nested DTOs: an array (not an object with numeric keys), each
 * element an object (class-validator recursed into an element that was itself an array, so
 * `lines: [[]]` passed).
 */
export function NestedArray(type: () => Dto, options: { optional?: boolean } = {}): PropertyDecorator {
  return applyDecorators(
    ...(options.optional ? [ValidateIf((_: object, value: unknown) => value !== undefined), JSONSchema({ nullable: false })] : []),
    IsArray(),
    IsObject({ each: true }),
    ValidateNested({ each: true }),
    Type(type),
  );
}

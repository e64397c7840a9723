import { Injectable, ValidationPipe, type ArgumentMetadata, type ValidationError, type ValidationPipeOptions } from '@nestjs/common';
import { ValidationProblem } from './problem.js';

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/**
 * Flattens class-validator errors into JSON pointers and rule names (no values). class-validator's
 * `unknownValue` error (forbidUnknownValues: a value of a class without rules) has no property: it
 * is about the value at `prefix` itself (it was a TypeError, a 500, before).
 */
export function toPointerErrors(errors: ValidationError[], prefix = ''): { pointer: string; rules: string[] }[] {
  return errors.flatMap((error) => {
    const pointer = error.property === undefined ? prefix : `${prefix}/${escapePointer(error.property)}`;
    const own = error.constraints ? [{ pointer, rules: Object.keys(error.constraints).sort() }] : [];
    return [...own, ...toPointerErrors(error.children ?? [], pointer)];
  });
}

/** Deeper than any DTO nests (an invoice's lines are 2 levels): refused before class-transformer recurses. */
export const MAX_INPUT_DEPTH = 16;
/** Keys that reach prototypes: refused wherever they appear (class-transformer silently drops `prototype`). */
const isReservedKey = (key: string) => key === '__proto__' || key === 'constructor' || key === 'prototype';
const MAX_STRUCTURAL_ERRORS = 20;

/**
 * What class-validator cannot report itself, found in the plain input before it is transformed
 * (fixes found by test/security/validation.spec.ts, each a 500 or a silently accepted field before):
 * - nesting deeper than MAX_INPUT_DEPTH (class-transformer recursed until "Maximum call stack size
 *   exceeded": 500);
 * - a `prototype`, `constructor` or `__proto__` key at any depth (`prototype` was dropped by
 *   class-transformer, so a body carrying it was accepted instead of refused as an unknown field);
 * - text that is not well-formed UTF-16 (a lone surrogate made validator's isEmail throw a URIError:
 *   500; elsewhere it would be stored silently replaced by U+FFFD).
 */
export function structuralErrors(value: unknown): { pointer: string; rules: string[] }[] {
  const errors: { pointer: string; rules: string[] }[] = [];
  const stack: [unknown, string, number][] = [[value, '', 0]];
  while (stack.length > 0 && errors.length < MAX_STRUCTURAL_ERRORS) {
    const [current, pointer, depth] = stack.pop()!;
    if (typeof current === 'string') {
      if (!current.isWellFormed()) errors.push({ pointer, rules: ['isWellFormedUnicode'] });
      continue;
    }
    if (current === null || typeof current !== 'object') continue;
    if (depth >= MAX_INPUT_DEPTH) {
      errors.push({ pointer, rules: ['maxDepth'] });
      continue;
    }
    for (const [key, child] of Object.entries(current)) {
      const at = `${pointer}/${escapePointer(key)}`;
      if (isReservedKey(key)) errors.push({ pointer: at, rules: ['whitelistValidation'] });
      else if (!key.isWellFormed()) errors.push({ pointer: at, rules: ['isWellFormedUnicode'] });
      else stack.push([child, at, depth + 1]);
    }
  }
  return errors;
}

/** The strict pipe: structural checks on the plain body, query and params, then class-validator. */
class StrictValidationPipe extends ValidationPipe {
  override async transform(value: unknown, metadata: ArgumentMetadata): Promise<unknown> {
    if (metadata.type === 'body' || metadata.type === 'query' || metadata.type === 'param') {
      const errors = structuralErrors(value);
      if (errors.length > 0) throw new ValidationProblem(errors);
    }
    return super.transform(value, metadata);
  }
}

/**
 * Strict input: unknown fields are errors, types are converted only as the DTO declares. A function
 * rather than a module constant so that each pipe built inside a test runs it: mutation testing
 * then sees which test covers each option (docs/mutation.md, `ignoreStatic`).
 */
const strictValidation = (): ValidationPipeOptions => ({
  whitelist: true,
  forbidNonWhitelisted: true,
  forbidUnknownValues: true,
  transform: true,
  transformOptions: { enableImplicitConversion: false },
  validationError: { target: false, value: false },
  stopAtFirstError: false,
  exceptionFactory: (errors) => new ValidationProblem(toPointerErrors(errors)),
});

export function createValidationPipe(): ValidationPipe {
  return new StrictValidationPipe(strictValidation());
}

/**
 * The global pipe of each listener (configureApiApp, configureInternalApp take it from the
 * container): the strict ValidationPipe above, as a provider so a test application can replace it
 * (test/security/kill-switches/authz.ts).
 */
@Injectable()
export class RequestValidationPipe extends StrictValidationPipe {
  constructor() {
    super(strictValidation());
  }
}

import { ValidationPipe, type ValidationError } from '@nestjs/common';
import { ValidationProblem } from './problem.js';

function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

/** Flattens class-validator errors into JSON pointers and rule names (no values). */
export function toPointerErrors(errors: ValidationError[], prefix = ''): { pointer: string; rules: string[] }[] {
  return errors.flatMap((error) => {
    const pointer = `${prefix}/${escapePointer(error.property)}`;
    const own = error.constraints ? [{ pointer, rules: Object.keys(error.constraints).sort() }] : [];
    return [...own, ...toPointerErrors(error.children ?? [], pointer)];
  });
}

/** Strict input: unknown fields are errors, types are converted only as the DTO declares. */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    stopAtFirstError: false,
    exceptionFactory: (errors) => new ValidationProblem(toPointerErrors(errors)),
  });
}

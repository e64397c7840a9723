import { applyDecorators } from '@nestjs/common';

/**
 * The validation rules of one DTO field as one decorator, listed as they would be stacked above
 * the property. TypeScript applies stacked decorators from the lowest up, so they are applied in
 * reverse: the class-validator metadata, and the OpenAPI schema made from it
 * (apps/api/src/openapi/openapi.document.ts), come out as if the rules were written in place.
 *
 * Why fields and not base classes shared by /v1 and /partner/v1: a DTO's OpenAPI schema is named
 * after its class and exists only for a class with rules of its own (class-validator-jsonschema),
 * and inherited fields are listed after the class's own. The surfaces keep their own classes and
 * schema names; the rules of each field are written once, here and in the *.dto.ts beside this file.
 */
export function Rules(...decorators: PropertyDecorator[]): PropertyDecorator {
  return applyDecorators(...[...decorators].reverse());
}

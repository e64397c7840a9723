import { Injectable, type PipeTransform } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getMetadataStorage } from 'class-validator';
import { RequestValidationPipe } from '../http/validation.js';
import { PartnerTokenRequestDto } from './dto/token.dto.js';

/** The token request's parameters: the properties PartnerTokenRequestDto has rules for. */
export const TOKEN_PARAMETERS: readonly string[] = [...new Set(getMetadataStorage().getTargetValidationMetadatas(PartnerTokenRequestDto, '', true, false).map((rule) => rule.propertyName))].sort();

/**
 * Request DTOs whose unknown parameters are ignored instead of refused; every other DTO is strict.
 * The OpenAPI documents describe these with `additionalProperties: true`
 * (apps/api/src/openapi/openapi.document.ts).
 */
export const IGNORES_UNKNOWN_PARAMETERS: ReadonlySet<Function> = new Set([PartnerTokenRequestDto]);

/** The known parameters of a token request body; anything that is not an object is left as it is, for the validation to refuse. */
export function tokenParametersOf(body: unknown): unknown {
  if (body === null || typeof body !== 'object' || Array.isArray(body)) return body;
  const fields = body as Record<string, unknown>;
  return Object.fromEntries(TOKEN_PARAMETERS.filter((name) => Object.hasOwn(fields, name)).map((name) => [name, fields[name]]));
}

/**
 * The body of POST /partner/oauth/token: RFC 6749 3.2 says "The authorization server MUST ignore
 * unrecognized request parameters", and real clients send some (`resource` of RFC 8707, `audience`),
 * so here, and only here, an unknown parameter is dropped instead of refused. The handler declares
 * its body as an interface (PartnerTokenParameters), so the global RequestValidationPipe
 * (apps/api/src/http/validation.ts) runs only its structural checks on the whole body: prototype
 * keys, depth and ill-formed Unicode are refused wherever they are, unknown parameters included.
 * This pipe then keeps the RFC's parameters (TOKEN_PARAMETERS) and hands them to that same strict
 * pipe (taken from the container, so a test that replaces it replaces it here too) with
 * PartnerTokenRequestDto: the known parameters keep every rule, and a repeated one, which arrives
 * as an array, still fails IsString (RFC 6749 3.2: parameters must not be included more than once).
 * The ignored parameters are never read, stored, logged or echoed.
 */
@Injectable()
export class TokenParametersPipe implements PipeTransform<unknown, Promise<PartnerTokenRequestDto>> {
  constructor(private readonly modules: ModuleRef) {}

  async transform(body: unknown): Promise<PartnerTokenRequestDto> {
    const strict = this.modules.get(RequestValidationPipe, { strict: false });
    return (await strict.transform(tokenParametersOf(body), { type: 'body', metatype: PartnerTokenRequestDto, data: undefined })) as PartnerTokenRequestDto;
  }
}

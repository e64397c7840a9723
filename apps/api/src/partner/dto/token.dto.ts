import { IsOptional, IsString, Matches, MaxLength, MinLength } from 'class-validator';

/**
 * RFC 6749 scope syntax (3.3): space-separated tokens of %x21 / %x23-5B / %x5D-7E. Whether each
 * token is a scope the client holds is decided by PartnerAuthService (invalid_scope).
 */
const SCOPE = /^[\x21\x23-\x5b\x5d-\x7e]+( [\x21\x23-\x5b\x5d-\x7e]+)*$/;

/**
 * POST /partner/oauth/token, as application/x-www-form-urlencoded (RFC 6749 4.4.2) or JSON, with
 * the parameter names of the RFC. A repeated parameter arrives as an array and fails IsString, as
 * RFC 6749 3.2 requires (parameters must not be included more than once).
 *
 * A parameter the RFC does not define is ignored, not refused (RFC 6749 3.2): TokenParametersPipe
 * (apps/api/src/partner/token-parameters.pipe.ts) keeps only the properties declared here before
 * validating them.
 *
 * grant_type is only checked to be a string here: any other value is `unsupported_grant_type`
 * (RFC 6749 5.2), not a validation error.
 */
export class PartnerTokenRequestDto {
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  grant_type!: string;

  @IsOptional()
  @IsString()
  @MaxLength(500)
  @Matches(SCOPE)
  scope?: string;

  /** client_secret_post (RFC 6749 2.3.1); with HTTP Basic, at most the same id again. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  client_id?: string;

  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  client_secret?: string;
}

/**
 * The validated token request as the handler reads it. An interface, not the class: a parameter
 * typed with a class would make the global ValidationPipe refuse unknown parameters before
 * TokenParametersPipe could drop them.
 */
export interface PartnerTokenParameters {
  grant_type: string;
  scope?: string;
  client_id?: string;
  client_secret?: string;
}

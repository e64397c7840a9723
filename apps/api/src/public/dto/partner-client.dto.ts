import { applyDecorators } from '@nestjs/common';
import { ArrayMaxSize, ArrayMinSize, ArrayUnique, IsArray, IsBoolean, IsIn, IsISO8601, IsOptional, IsString, Matches, MaxLength, MinLength, ValidateBy, ValidateIf, type ValidationOptions } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { PARTNER_SCOPES, PARTNER_TIERS, type PartnerScope, type PartnerTier } from '@benteng/authz';
import { MAX_IP_ALLOWLIST, MAX_PUBLIC_KEY_PEM, normalizeCidr } from '@benteng/partners';
import { NestedObject } from '../../http/nested.decorator.js';
import { Rules } from '../../http/dto/field-rules.js';
import { PageQuery } from '../../http/dto/page.dto.js';

const ENVIRONMENTS = ['live', 'test'] as const;
/** An instant with its offset (RFC 3339), at most millisecond precision: what the columns store. */
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})$/;
const DATE_TIME_MESSAGE = 'must be an RFC 3339 date-time with an offset, e.g. 2027-01-31T00:00:00Z';
/** Longest textual CIDR range: a full IPv6 address with an embedded IPv4 part and /128. */
const MAX_CIDR_LENGTH = 49;

/** A CIDR range (IPv4 or IPv6) as normalizeCidr accepts it; the rule is named `isCidr` in problems. */
const IsCidr = (options?: ValidationOptions) =>
  ValidateBy({ name: 'isCidr', validator: { validate: (value) => typeof value === 'string' && normalizeCidr(value) !== undefined, defaultMessage: () => 'must be a CIDR range (IPv4 or IPv6)' } }, options);

/** Scopes: a non-empty set from PARTNER_SCOPES. */
const ScopeSet = () => applyDecorators(IsArray(), ArrayMinSize(1), ArrayMaxSize(PARTNER_SCOPES.length), ArrayUnique(), IsIn(PARTNER_SCOPES, { each: true }));

const CIDR_ITEM = { type: 'string', maxLength: MAX_CIDR_LENGTH, description: 'A CIDR range: IPv4 in four-part decimal (203.0.113.0/24) or IPv6 (2001:db8::/32).' } as const;

/**
 * CIDR ranges, normalized by the service before they are stored. The OpenAPI item schema is
 * written out: class-validator-jsonschema cannot describe a custom rule and would emit a dangling
 * reference for it.
 */
const IpAllowlist = () =>
  applyDecorators(
    IsArray(),
    ArrayMaxSize(MAX_IP_ALLOWLIST),
    IsString({ each: true }),
    MaxLength(MAX_CIDR_LENGTH, { each: true }),
    IsCidr({ each: true }),
    JSONSchema((schema) => ({ ...schema, items: CIDR_ITEM })),
  );

const ClientName = () => Rules(IsString(), MinLength(1), MaxLength(100));
/** An instant in the future at which something stops working; absent or null: never, or as its parent. */
const ExpiresAt = () => Rules(IsOptional(), IsISO8601({ strict: true, strictSeparator: true }), Matches(DATE_TIME, { message: DATE_TIME_MESSAGE }));

export class CreatePartnerClientDto {
  @ClientName()
  name!: string;

  @IsIn(ENVIRONMENTS)
  environment!: (typeof ENVIRONMENTS)[number];

  @ScopeSet()
  scopes!: PartnerScope[];

  @IsOptional()
  @IsIn(PARTNER_TIERS)
  tier?: PartnerTier;

  @IsOptional()
  @IpAllowlist()
  ipAllowlist?: string[];

  /** Every /partner/v1 request must carry a valid RFC 9421 signature (docs/request-signing.md). Default false. */
  @IsOptional()
  @IsBoolean()
  requireSignatures?: boolean;

  /** When the client and all its credentials stop working; in the future. Absent or null: never. */
  @ExpiresAt()
  expiresAt?: string | null;
}

/**
 * Metadata only: credentials change through /secret and /keys. Fields other than expiresAt cannot
 * be cleared, so null is refused for them (ValidateIf instead of IsOptional, which would let null
 * through as "absent").
 */
export class UpdatePartnerClientDto {
  @ValidateIf((_, value) => value !== undefined)
  @ClientName()
  name?: string;

  @ValidateIf((_, value) => value !== undefined)
  @ScopeSet()
  scopes?: PartnerScope[];

  @ValidateIf((_, value) => value !== undefined)
  @IsIn(PARTNER_TIERS)
  tier?: PartnerTier;

  /** [] allows every address. */
  @ValidateIf((_, value) => value !== undefined)
  @IpAllowlist()
  ipAllowlist?: string[];

  /** Every /partner/v1 request must carry a valid RFC 9421 signature (docs/request-signing.md). */
  @ValidateIf((_, value) => value !== undefined)
  @IsBoolean()
  requireSignatures?: boolean;

  /** null: never expires. */
  @ExpiresAt()
  expiresAt?: string | null;
}

export class CreatePartnerKeyDto {
  /** When this key stops working; in the future. Absent or null: when the client does. */
  @ExpiresAt()
  expiresAt?: string | null;
}

export class ListPartnerClientsQuery extends PageQuery {}

/**
 * An Ed25519 public key as a JWK (RFC 8037). A private key (`d`) is refused as an unknown field:
 * whoever sends it has leaked it. `kid`, `alg` and `use` are accepted and ignored (the keyid is
 * the RFC 7638 thumbprint; the algorithm is ed25519).
 */
export class SigningKeyJwkDto {
  @IsIn(['OKP'])
  kty!: 'OKP';

  @IsIn(['Ed25519'])
  crv!: 'Ed25519';

  /** The public key, base64url (32 bytes). */
  @IsString()
  @Matches(/^[A-Za-z0-9_-]{43}$/, { message: 'must be 32 bytes in base64url' })
  x!: string;

  @IsOptional()
  @IsString()
  @MaxLength(200)
  kid?: string;

  @IsOptional()
  @IsIn(['EdDSA', 'Ed25519'])
  alg?: string;

  @IsOptional()
  @IsIn(['sig'])
  use?: string;
}

/** Exactly one of `jwk` and `pem` (the service refuses both or neither: partner.invalid_signing_key). */
export class RegisterSigningKeyDto {
  @NestedObject(() => SigningKeyJwkDto, { optional: true })
  jwk?: SigningKeyJwkDto;

  /** An SPKI PEM (`-----BEGIN PUBLIC KEY-----`), e.g. `openssl pkey -in key.pem -pubout`. */
  @IsOptional()
  @IsString()
  @MaxLength(MAX_PUBLIC_KEY_PEM)
  pem?: string;

  /** A name for people: which deployment or person holds the private key. */
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(100)
  label?: string;
}

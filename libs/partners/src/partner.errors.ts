import { assertUnreachable, DomainError, type DomainErrorKind } from '@benteng/common';

export enum PartnerErrorCode {
  ClientNotFound = 'partner.client_not_found',
  KeyNotFound = 'partner.key_not_found',
  Forbidden = 'partner.forbidden',
  ClientRevoked = 'partner.client_revoked',
  KeyRevoked = 'partner.key_revoked',
  KeyReplaced = 'partner.key_replaced',
  KeyExpired = 'partner.key_expired',
  ExpiryInPast = 'partner.expiry_in_past',
  InvalidIpAllowlist = 'partner.invalid_ip_allowlist',
  VersionMismatch = 'partner.version_mismatch',
}

function describe(code: PartnerErrorCode): { kind: DomainErrorKind; message: string } {
  switch (code) {
    case PartnerErrorCode.ClientNotFound:
      return { kind: 'not_found', message: 'Partner client not found.' };
    case PartnerErrorCode.KeyNotFound:
      return { kind: 'not_found', message: 'API key not found.' };
    case PartnerErrorCode.Forbidden:
      return { kind: 'forbidden', message: 'Your role does not allow managing partner clients.' };
    case PartnerErrorCode.ClientRevoked:
      return { kind: 'conflict', message: 'The partner client is revoked: it cannot be changed or get new credentials.' };
    case PartnerErrorCode.KeyRevoked:
      return { kind: 'conflict', message: 'The API key is revoked.' };
    case PartnerErrorCode.KeyReplaced:
      return { kind: 'conflict', message: 'The API key was already rotated; rotate its replacement instead.' };
    case PartnerErrorCode.KeyExpired:
      return { kind: 'conflict', message: 'The API key has expired; create a new one instead.' };
    case PartnerErrorCode.ExpiryInPast:
      return { kind: 'invalid', message: 'The expiry must lie in the future.' };
    case PartnerErrorCode.InvalidIpAllowlist:
      return { kind: 'invalid', message: 'The IP allowlist must hold at most 50 CIDR ranges (IPv4 or IPv6).' };
    case PartnerErrorCode.VersionMismatch:
      return { kind: 'precondition_failed', message: 'The partner client has changed since you read it. Fetch it again and retry.' };
    default:
      return assertUnreachable(code);
  }
}

export class PartnerError extends DomainError<PartnerErrorCode> {
  readonly kind: DomainErrorKind;

  constructor(code: PartnerErrorCode) {
    const { kind, message } = describe(code);
    super(code, message);
    this.kind = kind;
  }
}

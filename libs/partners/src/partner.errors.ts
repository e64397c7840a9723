import { defineErrors } from '@benteng/common';

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

export class PartnerError extends defineErrors<PartnerErrorCode>({
  [PartnerErrorCode.ClientNotFound]: { kind: 'not_found', message: 'Partner client not found.' },
  [PartnerErrorCode.KeyNotFound]: { kind: 'not_found', message: 'API key not found.' },
  [PartnerErrorCode.Forbidden]: { kind: 'forbidden', message: 'Your role does not allow managing partner clients.' },
  [PartnerErrorCode.ClientRevoked]: { kind: 'conflict', message: 'The partner client is revoked: it cannot be changed or get new credentials.' },
  [PartnerErrorCode.KeyRevoked]: { kind: 'conflict', message: 'The API key is revoked.' },
  [PartnerErrorCode.KeyReplaced]: { kind: 'conflict', message: 'The API key was already rotated; rotate its replacement instead.' },
  [PartnerErrorCode.KeyExpired]: { kind: 'conflict', message: 'The API key has expired; create a new one instead.' },
  [PartnerErrorCode.ExpiryInPast]: { kind: 'invalid', message: 'The expiry must lie in the future.' },
  [PartnerErrorCode.InvalidIpAllowlist]: { kind: 'invalid', message: 'The IP allowlist must hold at most 50 CIDR ranges (IPv4 or IPv6).' },
  [PartnerErrorCode.VersionMismatch]: { kind: 'precondition_failed', message: 'The partner client has changed since you read it. Fetch it again and retry.' },
}) {}

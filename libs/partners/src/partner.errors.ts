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
  SigningKeyNotFound = 'partner.signing_key_not_found',
  InvalidSigningKey = 'partner.invalid_signing_key',
  SigningKeyExists = 'partner.signing_key_exists',
  TooManySigningKeys = 'partner.too_many_signing_keys',
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
  [PartnerErrorCode.SigningKeyNotFound]: { kind: 'not_found', message: 'Signing key not found.' },
  [PartnerErrorCode.InvalidSigningKey]: { kind: 'invalid', message: 'Give exactly one Ed25519 public key, as a JWK (kty OKP, crv Ed25519, x) or an SPKI PEM; never a private key.' },
  [PartnerErrorCode.SigningKeyExists]: { kind: 'conflict', message: 'This public key is already registered in this tenant; generate a new key pair.' },
  [PartnerErrorCode.TooManySigningKeys]: { kind: 'conflict', message: 'The client already has 10 active signing keys; revoke one first.' },
  [PartnerErrorCode.VersionMismatch]: { kind: 'precondition_failed', message: 'The partner client has changed since you read it. Fetch it again and retry.' },
}) {}

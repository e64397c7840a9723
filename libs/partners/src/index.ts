export { PartnersModule } from './partners.module.js';
export { PartnerClientsService } from './partner-clients.service.js';
export { PartnerApiKeysService } from './partner-api-keys.service.js';
export { MAX_PAGE_SIZE } from './partner-clients.repository.js';
export { MAX_KEYS_LISTED } from './partner-api-keys.repository.js';
export { PartnerError, PartnerErrorCode } from './partner.errors.js';
export { MAX_IP_ALLOWLIST, normalizeCidr, normalizeIpAllowlist } from './ip-allowlist.js';
export type * from './partner.types.js';
export { PartnerSigningKeysService, type NewSigningKey, type PartnerSigningKeyView } from './partner-signing-keys.service.js';
export { MAX_ACTIVE_SIGNING_KEYS, MAX_SIGNING_KEYS_LISTED, PartnerSigningKeysRepository, type SigningState } from './partner-signing-keys.repository.js';
export { MAX_PUBLIC_KEY_PEM, type Ed25519PublicJwk } from './signing-key-material.js';
export {
  ACCEPT_SIGNATURE,
  DIGEST_COMPONENT,
  PartnerRequestSignatures,
  REQUIRED_COMPONENTS,
  REQUIRED_PARAMETERS,
  SIGNATURE_ALGORITHM,
  type SignatureCaller,
  type SignatureOutcome,
  type SignedRequest,
} from './partner-request-signatures.js';
export { SignatureError, SignatureErrorCode } from './request-signature.errors.js';
export { SIGNATURE_NONCE_KEY_PREFIX, SignatureNonceStore } from './signature-nonce-store.js';

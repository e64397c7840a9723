export { PartnersModule } from './partners.module.js';
export { PartnerClientsService } from './partner-clients.service.js';
export { PartnerApiKeysService } from './partner-api-keys.service.js';
export { MAX_PAGE_SIZE } from './partner-clients.repository.js';
export { MAX_KEYS_LISTED } from './partner-api-keys.repository.js';
export { PartnerError, PartnerErrorCode } from './partner.errors.js';
export { MAX_IP_ALLOWLIST, normalizeCidr, normalizeIpAllowlist } from './ip-allowlist.js';
export type * from './partner.types.js';

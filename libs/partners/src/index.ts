export { PartnersModule } from './partners.module.js';
export { MAX_KEYS_LISTED, MAX_PAGE_SIZE, PartnerClientsService } from './partner-clients.service.js';
export { PartnerError, PartnerErrorCode } from './partner.errors.js';
export { MAX_IP_ALLOWLIST, normalizeCidr, normalizeIpAllowlist } from './ip-allowlist.js';
export type {
  NewPartnerClient,
  NewPartnerKey,
  PartnerClientListQuery,
  PartnerClientPatch,
  PartnerClientStatus,
  PartnerClientView,
  PartnerKeyView,
  WithApiKey,
  WithClientSecret,
} from './partner.types.js';

export {
  ABUSE_KEY_PREFIX,
  SHARED_ADDRESS_FACTOR,
  AbuseDetector,
  principalBlockKey,
  type AbuseObservation,
  type AbuseSignal,
  type ActiveBlock,
  type BlockSource,
  type PlacedBlock,
} from './abuse-detector.js';
export { clientIp, ipBucket, trustProxyOption } from './client-ip.js';
export {
  FAMILIAR_ADDRESS_S,
  LoginThrottle,
  REFRESH_MAX_FAILURES_PER_IP,
  THROTTLE_KEY_PREFIX,
  type RefreshThrottleDecision,
  type ThrottleDecision,
  type ThrottleKey,
  type ThrottleLimit,
} from './login-throttle.js';
export {
  DEFAULT_RATE_LIMIT_POLICY,
  PRINCIPAL_CLASSES,
  SENSITIVITIES,
  rateLimitPolicy,
  type Limit,
  type PrincipalClass,
  type RateLimitPolicy,
  type Sensitivity,
} from './rate-limit-policy.js';
export {
  RATE_LIMIT_KEY_PREFIX,
  RateLimiter,
  policyName,
  type Guard,
  type GuardRead,
  type GuardedConsumption,
  type RateLimitResult,
  type RateLimitSubject,
} from './rate-limiter.js';
export { SecurityModule } from './security.module.js';
export { SecurityBlocksService, type SecurityBlockListQuery, type SecurityBlockView } from './security-blocks.service.js';
export { SecurityBlocksRepository } from './security-blocks.repository.js';
export { SecurityError, SecurityErrorCode } from './security.errors.js';
export { EgressError, SafeHttpClient, type EgressErrorReason, type EgressRequestOptions, type EgressResponse } from './safe-http-client.js';
export {
  SERVICE_SIGNATURE_HEADERS,
  SIGNATURE_SCHEME,
  ServiceSignatureVerifier,
  canonicalQuery,
  canonicalString,
  rfc3986,
  sha256Hex,
  signServiceRequest,
  type CanonicalRequest,
  type IncomingServiceRequest,
  type NonceStore,
  type ServiceKeyLookup,
  type ServiceSignatureRefusal,
  type ServiceSignatureResult,
  type SignServiceRequestInput,
} from './service-signature.js';

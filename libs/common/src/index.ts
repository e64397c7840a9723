export { DomainError, assertUnreachable, type DomainErrorKind } from './domain-error.js';
export { REDACT_PATHS, SECRET_FIELDS } from './redaction.js';
export { bindEachKeyOnce, describeError, safeLogOptions } from './log-serializers.js';
export { quietStartUpListing, START_UP_LISTING_CONTEXTS } from './start-up-logger.js';
export { Clock, SystemClock } from './clock.js';
export { ClockModule } from './clock.module.js';
export { canonicalize, type CanonicalValue } from './canonical.js';
export { CREDENTIAL_KINDS, minted, observeMintedCredentials, type CredentialKind } from './credentials.js';
export { isCanonicalUuid, isUuid, UUID_SOURCE } from './uuid.js';

export { DomainError, assertUnreachable, type DomainErrorKind } from './domain-error.js';
export { REDACT_PATHS, SECRET_FIELDS } from './redaction.js';
export { Clock, SystemClock } from './clock.js';
export { ClockModule } from './clock.module.js';
export { canonicalize, type CanonicalValue } from './canonical.js';

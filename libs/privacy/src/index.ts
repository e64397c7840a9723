export { PrivacyModule } from './privacy.module.js';
export { PrivacyWorkerModule } from './privacy-worker.module.js';
export { PrivacyService, MAX_PRIVACY_PAGE, privacyScope } from './privacy.service.js';
export { PrivacyAccessHandler, SUBJECT_ACCESS_FORMAT } from './privacy-access.handler.js';
export { PrivacyRequestsRepository } from './privacy-requests.repository.js';
export { SubjectDataRepository, ERASED_TEXT } from './subject-data.repository.js';
export { PrivacyError, PrivacyErrorCode } from './privacy.errors.js';
export { PRIVACY_ACCESS_JOB, PRIVACY_REQUEST_KINDS, type ErasureResult, type NewPrivacyRequest, type PrivacyListQuery, type PrivacyRequestKind, type PrivacyRequestStatus, type PrivacyRequestView } from './privacy.types.js';

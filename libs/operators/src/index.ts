export { OperatorsModule } from './operators.module.js';
export { OperatorDirectory, type OperatorRecord } from './operator-directory.js';
export { OperatorError, OperatorErrorCode, PlatformTenants, type PlatformTenantView } from './platform-tenants.service.js';

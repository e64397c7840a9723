export { Scope } from './scope.js';
export { RequestContext } from './request-context.js';
export { TenancyModule } from './tenancy.module.js';

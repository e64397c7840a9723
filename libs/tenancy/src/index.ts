export { Scope } from './scope.js';
export { RequestContext } from './request-context.js';

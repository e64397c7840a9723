import type { Scope } from '@benteng/tenancy';
import { WebhookError, WebhookErrorCode } from './webhook.errors.js';
import type { PageRequest } from './webhook.types.js';

/** What the management API's calls share: page size and the person acting. */
export const MAX_PAGE_SIZE = 100;

export const pageSize = (page: PageRequest): number => Math.min(Math.max(page.limit, 1), MAX_PAGE_SIZE);

/** Endpoints are made by people: the user is recorded as creator (and audited as the actor). */
export function userOf(scope: Scope): string {
  if (scope.principal.kind !== 'user') throw new WebhookError(WebhookErrorCode.Forbidden);
  return scope.principal.userId;
}

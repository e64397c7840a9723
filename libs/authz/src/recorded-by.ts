import type { Principal } from './principal.js';

/**
 * Who a new tenant row is recorded as made by, under the row's own column names: the acting user
 * or partner client, never both. Null for system and operator principals, which create no tenant
 * data in anyone's name (an operator's tenant ability is empty anyway); the caller refuses with
 * its own coded error.
 */
export function recordedBy<U extends string, C extends string>(principal: Principal, columns: { user: U; client: C }): Record<U, string> | Record<C, string> | null {
  switch (principal.kind) {
    case 'user':
      return { [columns.user]: principal.userId } as Record<U, string>;
    case 'partner':
      return { [columns.client]: principal.clientId } as Record<C, string>;
    case 'system':
    case 'operator':
      return null;
  }
}

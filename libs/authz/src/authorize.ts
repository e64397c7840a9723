import { subject as asSubject } from '@casl/ability';
import type { Action, AppAbility, SubjectModels, SubjectName } from './ability.js';

/** What an object-level check needs to know of a row: the columns of its model the rules read. */
export type SubjectRow<S extends SubjectName> = Partial<SubjectModels[S]>;

/** Whatever carries an ability: a tenant Scope, a PlatformScope. */
export interface HasAbility {
  readonly ability: AppAbility;
}

/**
 * May this ability do `action` to this row of `type`? The one typed object-level check: every
 * write (and every read that does not filter in SQL) asks it instead of building a CASL subject by
 * hand. The row is tagged with its type the way CASL's `subject()` does it (a hidden property on
 * the object itself), so rules with conditions see the row's own columns.
 */
export function permits<S extends SubjectName>(scope: HasAbility, action: Action, type: S, row: SubjectRow<S>): boolean {
  return scope.ability.can(action, asSubject(type, row as never));
}

/**
 * Throws `refusal()` unless the ability may do `action` to this row. The refusal is the feature's
 * own coded error (403, or 404 where a refusal must not reveal that the row exists).
 */
export function authorize<S extends SubjectName>(scope: HasAbility, action: Action, type: S, row: SubjectRow<S>, refusal: () => Error): void {
  if (!permits(scope, action, type, row)) throw refusal();
}

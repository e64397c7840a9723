import { subject as asSubject } from '@casl/ability';
import { permittedFieldsOf } from '@casl/ability/extra';
import type { SubjectModels, SubjectName } from './ability.js';
import type { HasAbility, SubjectRow } from './authorize.js';

/** A column of a subject's model, by name. */
export type FieldOf<S extends SubjectName> = keyof SubjectModels[S] & string;

/**
 * Of `fields`, the ones this ability may read on `row`, in the order given: the one field-level
 * check, used by every response shape and export column list that shows a field only to some
 * viewers. Who may not see what is written as CASL field rules in rules/*.rules.ts
 * (`cannot('read', 'Invoice', ['customerTaxId'])`, or a `can('read', …, fields, conditions)` that
 * grants only some fields); a rule without fields grants every field asked about.
 *
 * With `row` null the answer holds for every row of `type` the ability reads (rules with conditions
 * count as matching): for lists decided once, such as the columns of an export file.
 *
 * Field rules never narrow which rows are readable: `accessibleWhere` and `permits` without a
 * field ignore `cannot` rules that name fields, and a `can` with fields still grants the row.
 */
export function visibleFields<S extends SubjectName, F extends FieldOf<S>>(scope: HasAbility, type: S, row: SubjectRow<S> | null, fields: readonly F[]): F[] {
  const target = row === null ? type : asSubject(type, row as never);
  const permitted = new Set(permittedFieldsOf(scope.ability, 'read', target, { fieldsFrom: (rule) => rule.fields ?? [...fields] }));
  return fields.filter((field) => permitted.has(field));
}

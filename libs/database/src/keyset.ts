/**
 * Keyset ("seek") pagination: the next page is every row after the last one seen, in the sort
 * order, decided by values, not by finding that row again. A row deleted (or filtered out) at a
 * page boundary therefore cannot end the listing early, as Prisma's `cursor` option would.
 *
 * Rows are ordered by (field, id); PostgreSQL puts NULLs last ascending and first descending.
 */
export type KeysetValue = string | Date | null;
export interface Keyset {
  value: KeysetValue;
  id: string;
}

export function keysetWhere(field: string, direction: 'asc' | 'desc', after: Keyset, nullable = false): Record<string, unknown> {
  const beyond = direction === 'asc' ? 'gt' : 'lt';
  const idBeyond = { id: { [beyond]: after.id } };
  if (after.value === null) {
    // Ascending: NULLs come last, so only NULL rows with a later id follow.
    // Descending: NULLs come first, so later NULL rows and every non-NULL row follow.
    return direction === 'asc' ? { AND: [{ [field]: null }, idBeyond] } : { OR: [{ AND: [{ [field]: null }, idBeyond] }, { NOT: { [field]: null } }] };
  }
  const later = { [field]: { [beyond]: after.value } };
  const tie = { AND: [{ [field]: after.value }, idBeyond] };
  // Ascending from a value, NULLs (last) still follow; descending, they came before. (Prisma
  // refuses a null comparison on a required field, so it is only added where NULLs can exist.)
  return direction === 'asc' && nullable ? { OR: [later, tie, { [field]: null }] } : { OR: [later, tie] };
}

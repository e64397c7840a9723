/**
 * The fields a PATCH body names, copied under the same names in the given order: a field the body
 * leaves out (undefined) stays out of the patch, so it is left alone; null is kept, so it clears.
 */
export function patchOf<T extends object, K extends keyof T>(body: T, fields: readonly K[]): { [P in K]?: Exclude<T[P], undefined> } {
  const patch: { [P in K]?: Exclude<T[P], undefined> } = {};
  for (const field of fields) if (body[field] !== undefined) patch[field] = body[field] as Exclude<T[K], undefined>;
  return patch;
}

/** The UUID text form, hexadecimal in either case (PostgreSQL's `uuid` input accepts both). */
const ANY_CASE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** The canonical, lower-case form that this application writes and signs. */
const CANONICAL = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The one UUID pattern as source text, for composite patterns (e.g. `user:<uuid>`). */
export const UUID_SOURCE = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';

/** Any-case UUID: what a path parameter or a database value may be. */
export function isUuid(value: unknown): value is string {
  return typeof value === 'string' && ANY_CASE.test(value);
}

/**
 * Lower-case UUID only: for values this application produced itself and signed or encoded (tokens,
 * cursors, download links, keys), where an upper-case variant would be a second spelling of one
 * credential and is refused.
 */
export function isCanonicalUuid(value: unknown): value is string {
  return typeof value === 'string' && CANONICAL.test(value);
}

import { randomBytes } from 'node:crypto';

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

/**
 * A UUIDv7 (RFC 9562): 48 bits of Unix milliseconds, the version and variant, then random bits,
 * lower case. For ids made before the insert (a hash covers them, or the row is written by a SQL
 * function, not by Prisma's `@default(uuid(7))`); version 7 keeps them time-ordered like the rest of
 * the schema's ids.
 */
export function uuidv7(ms: number = Date.now()): string {
  const bytes = randomBytes(16);
  bytes.writeUIntBE(ms, 0, 6);
  bytes[6] = 0x70 | (bytes[6]! & 0x0f);
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

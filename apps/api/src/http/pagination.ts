import { DomainError, type DomainErrorKind, isCanonicalUuid } from '@benteng/common';
import type { Keyset } from '@benteng/database';

/** Every cursor this API did not make, whatever is wrong with it: one code on every paged route. */
export class PaginationError extends DomainError<'pagination.invalid_cursor'> {
  readonly kind: DomainErrorKind = 'invalid';

  constructor() {
    super('pagination.invalid_cursor', 'The cursor is not one this list issued. Start again from the first page.');
  }
}

/** A cursor as a query carries it (PageQuery documents the same pattern): base64url, bounded. */
export const CURSOR_TEXT = /^[A-Za-z0-9_-]{1,256}$/;
/** What Date#toISOString writes for years 0001-9999, all inside PostgreSQL's timestamptz and date range. */
const ISO_INSTANT = /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
/** Text a sort value may hold: no control characters (U+0000 cannot reach PostgreSQL), no lone surrogates. */
const SORT_TEXT = /^[^\p{Cc}\p{Cs}]{1,200}$/u;
const STRICT_UTF8 = new TextDecoder('utf-8', { fatal: true });

interface CursorFieldSpec {
  /** timestamp: a timestamptz; date: a date column (midnight UTC as Prisma returns it); text: a string. */
  kind: 'timestamp' | 'date' | 'text';
  /** The column holds NULLs, so a cursor may point into them (keysetWhere orders NULLs). */
  nullable?: boolean;
}

/**
 * Every field a list pages by, with the type its cursor value must have. A cursor is untrusted
 * input that reaches the database as a comparison value: a null on a required column, a date
 * outside PostgreSQL's range or U+0000 in text each answered 500 before (issue 14). A new sort
 * field must be declared here (decodeCursor and nextCursor take only these names), so every paged
 * route on every surface checks its cursors the same way.
 */
export const CURSOR_FIELDS = {
  createdAt: { kind: 'timestamp' },
  updatedAt: { kind: 'timestamp' },
  blockedAt: { kind: 'timestamp' },
  dueDate: { kind: 'date', nullable: true },
  number: { kind: 'text' },
} as const satisfies Record<string, CursorFieldSpec>;
export type CursorField = keyof typeof CURSOR_FIELDS;

/**
 * Opaque cursors: the sort value and id of the last item of a page (keyset pagination, see
 * libs/database/src/keyset.ts). Opaque so clients do not build them; a forged one that passes
 * decodeCursor only moves the starting point within the caller's own scope, so cursors are
 * validated, not signed (a signature would add a key to manage and protect nothing more).
 */
export function encodeCursor(item: { id: string }, field: CursorField): string {
  const value = (item as unknown as Record<string, unknown>)[field];
  const v = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : null;
  return Buffer.from(JSON.stringify({ v, id: item.id })).toString('base64url');
}

/** The cursor text of a query, checked before anything reads it (PageQuery's transform). */
export function cursorText(value: unknown): unknown {
  if (value === undefined) return value;
  if (typeof value !== 'string' || !CURSOR_TEXT.test(value)) throw new PaginationError();
  return value;
}

/**
 * The keyset inside a cursor, checked against what encodeCursor makes for `field`: canonical
 * base64url of UTF-8 JSON, exactly the keys `v` and `id`, `id` a UUID, `v` of the field's type
 * (an instant from year 0001 to 9999, a date at midnight UTC, text without control characters)
 * and null only where the column holds NULLs. Anything else is PaginationError (400), never a
 * query.
 */
export function decodeCursor(cursor: string, field: CursorField): Keyset {
  const spec: CursorFieldSpec = CURSOR_FIELDS[field];
  cursorText(cursor);
  const bytes = Buffer.from(cursor, 'base64url');
  if (bytes.toString('base64url') !== cursor) throw new PaginationError();
  let parsed: unknown;
  try {
    parsed = JSON.parse(STRICT_UTF8.decode(bytes));
  } catch {
    throw new PaginationError();
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PaginationError();
  const keys = Object.keys(parsed).sort();
  if (keys.length !== 2 || keys[0] !== 'id' || keys[1] !== 'v') throw new PaginationError();
  const { v, id } = parsed as { v: unknown; id: unknown };
  if (typeof id !== 'string' || !isCanonicalUuid(id)) throw new PaginationError();
  if (v === null) {
    if (!spec.nullable) throw new PaginationError();
    return { value: null, id };
  }
  if (typeof v !== 'string') throw new PaginationError();
  if (spec.kind === 'text') {
    if (!SORT_TEXT.test(v)) throw new PaginationError();
    return { value: v, id };
  }
  const date = new Date(v);
  // The round trip refuses what Date would silently normalise (February 30, hour 24).
  if (!ISO_INSTANT.test(v) || Number.isNaN(date.getTime()) || date.toISOString() !== v) throw new PaginationError();
  if (spec.kind === 'date' && !v.endsWith('T00:00:00.000Z')) throw new PaginationError();
  return { value: date, id };
}

export function nextCursor(items: { id: string }[], limit: number, field: CursorField): string | null {
  const last = items.at(-1);
  return items.length === limit && last ? encodeCursor(last, field) : null;
}

/** Items per page when a list query does not say; PageQuery caps `limit` at PAGE_MAX. */
export const DEFAULT_PAGE = 20;
export const PAGE_MAX = 100;

/** What every list service takes: how many, and after which item (the decoded cursor). */
export interface PageRequest {
  limit: number;
  after?: Keyset;
}

/** What every list route answers. */
export interface Page<R> {
  items: R[];
  nextCursor: string | null;
}

/**
 * One page of a list route, the same on every surface: the query's `limit` (`defaultLimit` when
 * absent, never above PAGE_MAX) and its cursor, decoded for `field` (PaginationError before any
 * query), handed to `load`; the items shaped, with the cursor of the next page when this one is full.
 */
export async function paginate<T extends { id: string }, R>(
  query: { limit?: number; cursor?: string },
  field: CursorField,
  load: (page: PageRequest) => Promise<T[]>,
  shape: (item: T) => R,
  defaultLimit = DEFAULT_PAGE,
): Promise<Page<R>> {
  const limit = Math.min(query.limit ?? defaultLimit, PAGE_MAX);
  const items = await load({ limit, ...(query.cursor ? { after: decodeCursor(query.cursor, field) } : {}) });
  return { items: items.map(shape), nextCursor: nextCursor(items, limit, field) };
}

/** The field a list sorted by `sort` pages by (`-createdAt` when the query names no sort). */
export function sortField(sort: CursorField | `-${CursorField}` | undefined): CursorField {
  return parseSort(sort ?? '-createdAt').field;
}

/** `-createdAt` → { field: 'createdAt', direction: 'desc' }. */
export function parseSort<S extends string>(sort: S): { field: S extends `-${infer F}` ? F : S; direction: 'asc' | 'desc' } {
  type Field = S extends `-${infer F}` ? F : S;
  return sort.startsWith('-') ? { field: sort.slice(1) as Field, direction: 'desc' } : { field: sort as unknown as Field, direction: 'asc' };
}

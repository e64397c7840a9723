import { BadRequestException } from '@nestjs/common';
import type { Keyset } from '@benteng/database';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * Opaque cursors: the sort value and id of the last item of a page (keyset pagination, see
 * libs/database/src/keyset.ts). Opaque so clients do not build them; a forged one only moves the
 * starting point within the caller's own scope.
 */
export function encodeCursor(item: { id: string }, field: string): string {
  const value = (item as unknown as Record<string, unknown>)[field];
  const v = value instanceof Date ? value.toISOString() : typeof value === 'string' ? value : null;
  return Buffer.from(JSON.stringify({ v, id: item.id })).toString('base64url');
}

/** The keyset inside a cursor; 400 for anything this API did not make. */
export function decodeCursor(cursor: string, isDate: boolean): Keyset {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw new BadRequestException();
  }
  const { v, id } = (parsed ?? {}) as { v?: unknown; id?: unknown };
  if (typeof id !== 'string' || !UUID.test(id) || (v !== null && typeof v !== 'string')) throw new BadRequestException();
  if (v === null || !isDate) return { value: v, id };
  const date = new Date(v);
  if (Number.isNaN(date.getTime())) throw new BadRequestException();
  return { value: date, id };
}

export function nextCursor(items: { id: string }[], limit: number, field: string): string | null {
  const last = items.at(-1);
  return items.length === limit && last ? encodeCursor(last, field) : null;
}

/** `-createdAt` → { field: 'createdAt', direction: 'desc' }. */
export function parseSort<S extends string>(sort: S): { field: string; direction: 'asc' | 'desc' } {
  return sort.startsWith('-') ? { field: sort.slice(1), direction: 'desc' } : { field: sort, direction: 'asc' };
}

/** ETags are an entity's version: `"3"`. If-Match takes one; `*` or absent means "any". */
export function parseIfMatch(ifMatch: string | undefined, mismatch: () => Error): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  // Strong comparison only (RFC 9110 13.1.1): a weak ETag never matches.
  const match = /^\s*"(\d{1,9})"\s*$/.exec(ifMatch);
  if (!match) throw mismatch();
  return Number(match[1]);
}

export const etag = (version: number): string => `"${version}"`;

import { BadRequestException } from '@nestjs/common';

/**
 * Opaque cursors: the last item's UUID, 16 bytes in base64url. Opaque so clients do not build
 * them; an id the caller cannot see simply starts nowhere (Prisma finds no cursor row in scope).
 */
export const encodeCursor = (id: string): string => Buffer.from(id.replaceAll('-', ''), 'hex').toString('base64url');

export function decodeCursor(cursor: string): string {
  const hex = Buffer.from(cursor, 'base64url').toString('hex');
  if (hex.length !== 32) throw new BadRequestException();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

export function nextCursor(items: { id: string }[], limit: number): string | null {
  const last = items.at(-1);
  return items.length === limit && last ? encodeCursor(last.id) : null;
}

/** ETags are an entity's version: `"3"`. If-Match takes one; `*` or absent means "any". */
export function parseIfMatch(ifMatch: string | undefined, mismatch: () => Error): number | undefined {
  if (ifMatch === undefined || ifMatch.trim() === '*') return undefined;
  const match = /^\s*(?:W\/)?"(\d{1,9})"\s*$/.exec(ifMatch);
  if (!match) throw mismatch();
  return Number(match[1]);
}

export const etag = (version: number): string => `"${version}"`;

/**
 * Opaque page cursors: the id (a UUID) of the last row of a page, as 22 base64url characters.
 * Clients pass back what they got and never build one.
 */
export const encodeCursor = (id: string): string => Buffer.from(id.replaceAll('-', ''), 'hex').toString('base64url');

/** The id inside a cursor, or null when the cursor is not one this API made. */
export function decodeCursor(cursor: string): string | null {
  const hex = Buffer.from(cursor, 'base64url').toString('hex');
  if (hex.length !== 32) return null;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

import type { DocumentType } from './document.types.js';

/** The extensions a name may keep for each type; the first is the one given when it has none. */
const EXTENSIONS: Record<DocumentType, readonly string[]> = {
  'application/pdf': ['pdf'],
  'image/png': ['png'],
  'image/jpeg': ['jpg', 'jpeg'],
  'text/plain': ['txt'],
  'text/csv': ['csv'],
};

/** Longest stem kept, in code points (the whole name stays far below the 255 a file system takes). */
export const MAX_STEM_LENGTH = 100;

/**
 * Characters that never belong in a stored name: controls, format characters (bidirectional
 * overrides that turn "gpj.exe" around, zero-width characters), private-use and unassigned code
 * points, lone surrogates, and line or paragraph separators.
 */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\u2028\u2029]/gu;
/** Characters Windows refuses in names (a double quote would also break a hand-built header). */
const RESERVED = /[<>:"|?*]/g;
/** Device names Windows reserves, whatever the extension. */
const WINDOWS_DEVICE = /^(?:con|prn|aux|nul|com[0-9]|lpt[0-9])$/i;
/** What looks like an extension (and so is replaced): a letter, then up to nine letters or digits. */
const EXTENSION = /\.([a-z][a-z0-9]{0,9})$/i;

/**
 * A name that is safe to store, list and offer for download, whatever the client sent:
 * - only the last path segment, so `../../etc/passwd.txt` is `passwd.txt`;
 * - no invisible or control characters, no leading dots (no `..`, no hidden files), no trailing
 *   dots or spaces, no reserved characters or device names;
 * - at most MAX_STEM_LENGTH code points before the extension;
 * - an extension consistent with the detected type: the client's when it is one of the type's
 *   (lower-cased), otherwise the type's own, replacing the client's. A PDF called `scan.png` is
 *   stored as `scan.pdf`: the bytes decide, and the name follows.
 */
export function safeFileName(declared: string, type: DocumentType): string {
  const lastSegment = declared.normalize('NFC').split(/[/\\]/).pop() ?? '';
  const cleaned = lastSegment
    .replace(/\s+/g, ' ')
    .replace(INVISIBLE, '')
    .replace(RESERVED, '_')
    .replace(/^[.\s]+/, '')
    .replace(/[.\s]+$/, '');

  const allowed = EXTENSIONS[type];
  const match = EXTENSION.exec(cleaned);
  const declaredExtension = match?.[1]?.toLowerCase();
  const extension = declaredExtension && allowed.includes(declaredExtension) ? declaredExtension : allowed[0]!;
  const stem = match ? cleaned.slice(0, match.index) : cleaned;

  let safeStem = Array.from(stem).slice(0, MAX_STEM_LENGTH).join('').replace(/[.\s]+$/, '');
  if (safeStem === '') safeStem = 'document';
  if (WINDOWS_DEVICE.test(safeStem)) safeStem = `_${safeStem}`;
  return `${safeStem}.${extension}`;
}

/**
 * `Content-Disposition: attachment` for a file name (RFC 6266): `filename*` carries the exact
 * name as UTF-8 (RFC 8187), `filename` an ASCII stand-in for clients that know only that one.
 * The name must already be sanitized; this only encodes it.
 */
export function attachmentDisposition(fileName: string): string {
  const ascii = fileName.replace(/[^\x20-\x7e]|["\\%]/g, '_');
  // encodeURIComponent leaves ' ( ) * alone, which RFC 8187's attr-char does not allow.
  const encoded = encodeURIComponent(fileName).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

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

/** Text was checked to be UTF-8 on upload, so say so; other types have no charset. */
const contentTypeHeader = (type: string) => (type.startsWith('text/') ? `${type}; charset=utf-8` : type);

/**
 * Headers of every file download, on every surface: the type the server decided (never the
 * client's), nosniff so no browser second-guesses it, `attachment` so none renders it in the API's
 * origin, and no caching anywhere.
 */
export function setDownloadHeaders(reply: { header(name: string, value: string): unknown }, file: { contentType: string; fileName: string; length?: number }): void {
  reply.header('content-type', contentTypeHeader(file.contentType));
  if (file.length !== undefined) reply.header('content-length', String(file.length));
  reply.header('content-disposition', attachmentDisposition(file.fileName));
  reply.header('x-content-type-options', 'nosniff');
  reply.header('cache-control', 'private, no-store');
}

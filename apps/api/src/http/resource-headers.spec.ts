import type { FastifyReply } from 'fastify';
import { describe, expect, it } from 'vitest';
import { attachmentDisposition, setDownloadHeaders } from './content-disposition.js';
import { created, etag, parseIfMatch, withEtag } from './resource-headers.js';
import { dateTime, isoOrNull, nullable, object, ref, uuid } from './response-shape.js';

// Unit spec of the small header and shape helpers every route uses: If-Match and ETags, Location,
// download headers (Content-Disposition, nosniff, no-store) and the response shape pieces.

function fakeReply() {
  const headers: Record<string, string> = {};
  return { headers, reply: { header: (name: string, value: string) => void (headers[name] = value) } as unknown as FastifyReply };
}

describe('parseIfMatch', () => {
  const mismatch = () => new Error('mismatch');
  it('absent or * is any version; one strong ETag is its version', () => {
    expect(parseIfMatch(undefined, mismatch)).toBeUndefined();
    expect(parseIfMatch('*', mismatch)).toBeUndefined();
    expect(parseIfMatch('  * ', mismatch)).toBeUndefined();
    expect(parseIfMatch('"3"', mismatch)).toBe(3);
    expect(parseIfMatch(' "123456789" ', mismatch)).toBe(123456789);
  });
  it('anything else is a mismatch: weak, lists, unquoted, too long, not digits', () => {
    for (const value of ['W/"3"', '"3", "4"', '3', '"1234567890"', '"a"', '""', 'x"3"', '"3"x', '']) expect(() => parseIfMatch(value, mismatch)).toThrow('mismatch');
  });
});

describe('ETag and Location', () => {
  it('etag quotes the version; withEtag sets it and hands the entity back; created sets Location', () => {
    expect(etag(7)).toBe('"7"');
    const { headers, reply } = fakeReply();
    const entity = { id: 'abc', version: 4 };
    expect(withEtag(reply, entity)).toBe(entity);
    expect(created(reply, '/v1/invoices', entity)).toBe(entity);
    expect(headers).toEqual({ etag: '"4"', location: '/v1/invoices/abc' });
  });
});

describe('attachmentDisposition', () => {
  it('an ASCII stand-in and the exact UTF-8 name (RFC 6266, RFC 8187)', () => {
    expect(attachmentDisposition('report.pdf')).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
    expect(attachmentDisposition('naïve "q"\\%.txt')).toBe(`attachment; filename="na_ve _q___.txt"; filename*=UTF-8''na%C3%AFve%20%22q%22%5C%25.txt`);
    expect(attachmentDisposition("it's (1)*.txt")).toBe(`attachment; filename="it's (1)*.txt"; filename*=UTF-8''it%27s%20%281%29%2A.txt`);
    expect(attachmentDisposition('a\u0001\u007fb~')).toBe(`attachment; filename="a__b~"; filename*=UTF-8''a%01%7Fb~`);
  });
});

describe('setDownloadHeaders', () => {
  it('the server\'s type (utf-8 for text), the length when known, attachment, nosniff, no caching', () => {
    const text = fakeReply();
    setDownloadHeaders(text.reply, { contentType: 'text/csv', fileName: 'a.csv', length: 12 });
    expect(text.headers).toEqual({
      'content-type': 'text/csv; charset=utf-8',
      'content-length': '12',
      'content-disposition': attachmentDisposition('a.csv'),
      'x-content-type-options': 'nosniff',
      'cache-control': 'private, no-store',
    });
    const binary = fakeReply();
    setDownloadHeaders(binary.reply, { contentType: 'application/pdf', fileName: 'a.pdf', length: 0 });
    expect(binary.headers['content-type']).toBe('application/pdf');
    expect(binary.headers['content-length']).toBe('0');
    const unknown = fakeReply();
    setDownloadHeaders(unknown.reply, { contentType: 'application/pdf', fileName: 'a.pdf' });
    expect(unknown.headers).not.toHaveProperty('content-length');
  });
});

describe('response shapes', () => {
  it('instants as ISO text, schema pieces', () => {
    expect(isoOrNull(new Date(0))).toBe('1970-01-01T00:00:00.000Z');
    expect(isoOrNull(null)).toBeNull();
    expect(ref('Invoice')).toEqual({ $ref: '#/components/schemas/Invoice' });
    expect(nullable(uuid)).toEqual({ type: 'string', format: 'uuid', nullable: true });
    expect(object({ a: uuid, b: dateTime })).toEqual({ type: 'object', properties: { a: uuid, b: dateTime }, required: ['a', 'b'], additionalProperties: false });
    expect(dateTime).toEqual({ type: 'string', format: 'date-time' });
  });
});

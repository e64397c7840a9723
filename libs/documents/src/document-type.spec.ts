import { describe, expect, it } from 'vitest';
import { detectDocumentType as sut, isPlainText } from './document-type.js';

const bytes = (text: string) => Buffer.from(text, 'utf8');
const PDF = bytes('%PDF-1.7\n%%EOF\n');
const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52, 0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]);
const JPEG = Buffer.from([0xff, 0xd8, 0xff, 0xe0, 0x00, 0x10, 0x4a, 0x46, 0x49, 0x46, 0x00]);

describe('detectDocumentType', () => {
  it('recognises the binary types by their magic numbers, whatever the name says', async () => {
    expect(await sut(PDF, 'photo.png')).toBe('application/pdf');
    expect(await sut(PNG, 'doc.pdf')).toBe('image/png');
    expect(await sut(JPEG, 'x')).toBe('image/jpeg');
  });

  it('takes UTF-8 text as CSV only when the name ends in .csv', async () => {
    expect(await sut(bytes('a,b\n1,2\n'), 'Data.CSV')).toBe('text/csv');
    expect(await sut(bytes('a,b\n1,2\n'), 'data.txt')).toBe('text/plain');
    expect(await sut(bytes('\uFEFFhalo, dunia'), 'data')).toBe('text/plain');
  });

  it.each([
    ['GIF', Buffer.from('GIF89a', 'latin1')],
    ['ZIP', Buffer.from('PK\x03\x04', 'latin1')],
    ['XML', bytes('<?xml version="1.0"?><a/>')],
    ['empty', Buffer.alloc(0)],
    ['a BOM only', bytes('\uFEFF')],
  ])('refuses %s', async (_, content) => {
    expect(await sut(content, 'file.txt')).toBeNull();
  });
});

describe('isPlainText', () => {
  it.each(['plain', 'tabs\tand\r\nnewlines\n', 'Harga: Rp 10.000 — naik 5%', 'a < b and c > d', '<3 you', 'x <scripts>'])('accepts %j', (text) => {
    expect(isPlainText(bytes(text))).toBe(true);
  });

  it.each([
    'nul\u0000byte',
    'bell\u0007',
    'escape\u001b[0m',
    'delete\u007f',
    'c1\u0085control',
    '<!doctype html><p>x',
    '  <html>',
    'before <script src=x></script>',
    'inline <SCRIPT>',
    '<svg onload=alert(1)>',
    'a <iframe src=x>',
    '<p>starts like HTML',
    '<!-- comment',
    '<?xml version="1.0"?>',
  ])('refuses %j', (text) => {
    expect(isPlainText(bytes(text))).toBe(false);
  });

  it('refuses invalid UTF-8 (here, Latin-1)', () => {
    expect(isPlainText(Buffer.from('caf\u00e9', 'latin1'))).toBe(false);
  });
});

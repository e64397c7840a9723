import { describe, expect, it } from 'vitest';
import { MAX_STEM_LENGTH, safeFileName as sut } from './document-file-name.js';

describe('safeFileName', () => {
  it.each([
    ['../../etc/passwd.txt', 'text/plain', 'passwd.txt'],
    ['C:\\Users\\x\\Desktop\\scan.pdf', 'application/pdf', 'scan.pdf'],
    ['..', 'text/plain', 'document.txt'],
    ['', 'image/png', 'document.png'],
    ['.htaccess', 'text/plain', 'htaccess.txt'],
    ['scan.png', 'application/pdf', 'scan.pdf'],
    ['photo.JPG', 'image/jpeg', 'photo.jpg'],
    ['photo.jpeg', 'image/jpeg', 'photo.jpeg'],
    ['report.tar.gz', 'text/plain', 'report.tar.txt'],
    ['Invoice 2024.01', 'application/pdf', 'Invoice 2024.01.pdf'],
    ['data.csv', 'text/csv', 'data.csv'],
    ['gnp\u202Eexe.pdf', 'application/pdf', 'gnpexe.pdf'],
    ['zero\u200Bwidth\u0000.txt', 'text/plain', 'zerowidth.txt'],
    ['tab\there.txt', 'text/plain', 'tab here.txt'],
    ['a<b>c:d"e|f?g*h.txt', 'text/plain', 'a_b_c_d_e_f_g_h.txt'],
    ['LPT1.txt', 'text/plain', '_LPT1.txt'],
    ['trailing. . .', 'text/plain', 'trailing.txt'],
    ['e\u0301te\u0301.txt', 'text/plain', '\u00e9t\u00e9.txt'],
  ] as const)('%j as %s is %j', (declared, type, expected) => {
    expect(sut(declared, type)).toBe(expected);
  });

  it(`keeps at most ${MAX_STEM_LENGTH} code points before the extension, without splitting a character`, () => {
    expect(sut(`${'a'.repeat(500)}.pdf`, 'application/pdf')).toBe(`${'a'.repeat(MAX_STEM_LENGTH)}.pdf`);
    const emoji = '\u{1F4C4}';
    expect(sut(`${emoji.repeat(150)}.txt`, 'text/plain')).toBe(`${emoji.repeat(MAX_STEM_LENGTH)}.txt`);
  });
});

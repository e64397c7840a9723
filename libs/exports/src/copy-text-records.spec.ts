import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { copyTextField, CopyTextRecords } from './copy-text-records.js';
import { csvRecord, neutralizeCell } from './export-formats.js';
import { tag } from '../../../test/security/support/controls.js';

/** COPY text format of one row, as PostgreSQL writes it (backslash, tab, newline, CR escaped). */
const copyLine = (cells: (string | null)[]) =>
  `${cells.map((c) => (c === null ? '\\N' : c.replaceAll('\\', '\\\\').replaceAll('\t', '\\t').replaceAll('\n', '\\n').replaceAll('\r', '\\r'))).join('\t')}\n`;

async function run(sut: CopyTextRecords, chunks: Buffer[]): Promise<string> {
  const out: string[] = [];
  await pipeline(
    Readable.from(chunks),
    sut,
    new Writable({
      objectMode: true,
      write(text: string, _e, cb) {
        out.push(text);
        cb();
      },
    }),
  );
  return out.join('');
}

describe('copyTextField (COPY text format)', () => {
  it('undoes every escape PostgreSQL writes and reads \\N as NULL', () => {
    expect(copyTextField('\\N')).toBeNull();
    expect(copyTextField('plain')).toBe('plain');
    expect(copyTextField('a\\tb\\nc\\rd\\\\e\\bf\\fg\\vh')).toBe('a\tb\nc\rd\\e\bf\fg\vh');
    expect(copyTextField('\\101\\x42')).toBe('AB');
    expect(copyTextField('\\\\N')).toBe('\\N');
  });
});

describe(tag('CSV-FORMULA', 'CopyTextRecords (the formula guard on the COPY stream)'), () => {
  const rows: (string | null)[][] = [
    ['=HYPERLINK("x")', 'PT "Maju", Tbk', null],
    ['\tx', 'Baris\ndua', '\\'],
    ['+1', '@SUM(A1)', 'Rp 1.000 — ü'],
  ];
  const bytes = Buffer.from(rows.map(copyLine).join(''), 'utf8');

  it('writes the same records as csvRecord with the guard, whatever the chunk boundaries (inside a row or a UTF-8 character)', async () => {
    const expected = rows.map((r) => csvRecord(r, neutralizeCell)).join('');
    for (const size of [1, 2, 3, 7, 64, bytes.length]) {
      const chunks: Buffer[] = [];
      for (let i = 0; i < bytes.length; i += size) chunks.push(bytes.subarray(i, i + size));
      const sut = new CopyTextRecords('csv', ['a', 'b', 'c'], neutralizeCell);
      expect(await run(sut, chunks), `chunks of ${size}`).toBe(expected);
      expect(sut.rows).toBe(3);
    }
    expect(expected).toContain(`"'=HYPERLINK(""x"")"`);
  });

  it('passes every cell through the guard it is given (the seam the kill switch replaces)', async () => {
    const seen: string[] = [];
    await run(new CopyTextRecords('csv', ['a', 'b', 'c'], (v) => (seen.push(v), v)), [bytes]);
    expect(seen).toEqual(rows.flat().filter((c) => c !== null));
  });

  it('refuses a row with the wrong number of cells and a stream cut inside a row', async () => {
    await expect(run(new CopyTextRecords('csv', ['a', 'b'], neutralizeCell), [bytes])).rejects.toThrow('expected 2');
    await expect(run(new CopyTextRecords('csv', ['a', 'b', 'c'], neutralizeCell), [bytes.subarray(0, bytes.length - 1)])).rejects.toThrow('inside a row');
  });
});

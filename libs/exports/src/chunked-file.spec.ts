import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ChunkedFile } from './chunked-file.js';
import { ExportError } from './export.errors.js';
import { checkedFilters } from './export-rows.js';

describe('ChunkedFile', () => {
  it('flushes whole chunks in order and hashes exactly the bytes written', async () => {
    const chunks: { seq: number; bytes: Buffer }[] = [];
    const sut = new ChunkedFile(async (seq, bytes) => void chunks.push({ seq, bytes: Buffer.from(bytes) }), 10);
    const parts = ['héllo ', 'wörld, ', 'this is ', 'more than ten bytes', ''];
    for (const part of parts) await sut.write(part);
    const result = await sut.end();
    const all = Buffer.from(parts.join(''), 'utf8');
    expect(chunks.map((c) => c.seq)).toEqual([...chunks.keys()]);
    expect(Buffer.concat(chunks.map((c) => c.bytes))).toEqual(all);
    expect(chunks.slice(0, -1).every((c) => c.bytes.length >= 10)).toBe(true);
    expect(chunks.slice(0, -1).map((c) => c.bytes.length)).toEqual(chunks.slice(0, -1).map(() => 10));
    expect(result).toEqual({ byteSize: all.length, sha256: createHash('sha256').update(all).digest('hex'), chunks: chunks.length });
  });

  it('stores one chunk while the next fills, never two at once, and reports a failed store', async () => {
    let storing = 0;
    let most = 0;
    const stored: number[] = [];
    const sut = new ChunkedFile(async (seq) => {
      most = Math.max(most, ++storing);
      await new Promise((resolve) => setTimeout(resolve, 5));
      stored.push(seq);
      storing--;
    }, 4);
    for (let i = 0; i < 10; i++) await sut.write('abc');
    expect(await sut.end()).toMatchObject({ byteSize: 30, chunks: 8 });
    expect(stored).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    expect(most).toBe(1);

    const failing = new ChunkedFile(async (seq) => {
      if (seq === 1) throw new Error('superseded');
    }, 4);
    await expect(
      (async () => {
        for (let i = 0; i < 10; i++) await failing.write('abc');
        await failing.end();
      })(),
    ).rejects.toThrow('superseded');
  });

  it('writes nothing for an empty file', async () => {
    const seen: number[] = [];
    const sut = new ChunkedFile(async (seq) => void seen.push(seq));
    expect(await sut.end()).toMatchObject({ byteSize: 0, chunks: 0 });
    expect(seen).toEqual([]);
  });
});

describe('checkedFilters', () => {
  it('keeps the given filters that fit the type', () => {
    expect(checkedFilters('invoices', { status: 'paid', createdFrom: '2026-01-01', createdTo: '2026-01-31' })).toEqual({ status: 'paid', createdFrom: '2026-01-01', createdTo: '2026-01-31' });
    expect(checkedFilters('tickets', { status: 'in_progress' })).toEqual({ status: 'in_progress' });
    expect(checkedFilters('tickets', undefined)).toEqual({});
  });

  it('refuses a status of the other type, impossible dates and reversed ranges', () => {
    for (const [type, filters] of [
      ['invoices', { status: 'open' }],
      ['tickets', { status: 'paid' }],
      ['invoices', { createdFrom: '2026-02-30' }],
      ['invoices', { createdTo: '2026-1-1' }],
      ['invoices', { createdFrom: '2026-02-02', createdTo: '2026-02-01' }],
    ] as const) {
      expect(() => checkedFilters(type, filters), `${JSON.stringify(filters)}`).toThrow(ExportError);
    }
  });
});

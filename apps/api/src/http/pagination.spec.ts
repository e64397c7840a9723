import { describe, expect, it } from 'vitest';
import { cursorText, CURSOR_TEXT, decodeCursor, DEFAULT_PAGE, encodeCursor, nextCursor, PAGE_MAX, paginate, PaginationError, parseSort, sortField } from './pagination.js';

// Unit spec of keyset pagination's cursors (INPUT-VALIDATION: a cursor is untrusted input that
// reaches the database as a comparison value). test/e2e/pagination*.spec.ts prove the pages.

const ID = '0193b7a0-0000-7000-8000-0000000000a1';
const raw = (value: unknown) => Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
const refused = (run: () => unknown) => expect(run).toThrow(PaginationError);

describe('cursors', () => {
  it('round-trip every field kind', () => {
    const at = new Date('2026-01-02T03:04:05.678Z');
    expect(decodeCursor(encodeCursor({ id: ID, createdAt: at } as { id: string }, 'createdAt'), 'createdAt')).toEqual({ value: at, id: ID });
    const due = new Date('2026-01-02T00:00:00.000Z');
    expect(decodeCursor(encodeCursor({ id: ID, dueDate: due } as { id: string }, 'dueDate'), 'dueDate')).toEqual({ value: due, id: ID });
    expect(decodeCursor(encodeCursor({ id: ID, dueDate: null } as { id: string }, 'dueDate'), 'dueDate')).toEqual({ value: null, id: ID });
    expect(decodeCursor(encodeCursor({ id: ID, number: 'INV-7' } as { id: string }, 'number'), 'number')).toEqual({ value: 'INV-7', id: ID });
    expect(JSON.parse(Buffer.from(encodeCursor({ id: ID, number: 7 } as { id: string }, 'number'), 'base64url').toString())).toEqual({ v: null, id: ID });
  });

  it('PaginationError: 400 invalid with one fixed code and sentence', () => {
    const error = new PaginationError();
    expect([error.kind, error.code, error.message]).toEqual(['invalid', 'pagination.invalid_cursor', 'The cursor is not one this list issued. Start again from the first page.']);
  });

  it('cursorText: undefined passes, anything but bounded base64url text is refused', () => {
    expect(cursorText(undefined)).toBeUndefined();
    expect(cursorText('abc_-9')).toBe('abc_-9');
    expect(cursorText('a'.repeat(256))).toBe('a'.repeat(256));
    for (const value of ['', 'a'.repeat(257), 'ab=', 'a+b', 'a/b', 'x\ny', 5, null, ['a']]) refused(() => cursorText(value));
    expect(CURSOR_TEXT.test('prefix abc')).toBe(false);
  });

  it('refuses what encodeCursor does not make', () => {
    expect(() => decodeCursor('!!', 'createdAt')).toThrow(PaginationError);
    // Non-canonical base64url (trailing bits set) and text that is not UTF-8 or not JSON.
    refused(() => decodeCursor(raw({ v: null, id: ID }).replace(/.$/, (c) => String.fromCharCode(c.charCodeAt(0) + 1)) + '', 'dueDate'));
    refused(() => decodeCursor(Buffer.from([0xff, 0xfe, 0x7b]).toString('base64url'), 'number'));
    refused(() => decodeCursor(raw('not json'), 'number'));
    for (const parsed of [null, 5, 'x', [ID, 'v'], {}, { v: 'a' }, { id: ID }, { v: 'a', id: ID, x: 1 }, { v: 'a', idx: ID }, { w: 'a', id: ID }]) {
      refused(() => decodeCursor(raw(parsed), 'number'));
    }
    refused(() => decodeCursor(raw({ v: 'a', id: 'not-a-uuid' }), 'number'));
    refused(() => decodeCursor(raw({ v: 'a', id: ID.toUpperCase() }), 'number'));
    refused(() => decodeCursor(raw({ v: 'a', id: 7 }), 'number'));
    refused(() => decodeCursor(raw({ v: null, id: ID }), 'createdAt'));
    refused(() => decodeCursor(raw({ v: null, id: ID }), 'number'));
    refused(() => decodeCursor(raw({ v: 7, id: ID }), 'number'));
    refused(() => decodeCursor(raw({ v: 7, id: ID }), 'createdAt'));
  });

  it('refuses a cursor longer than CURSOR_TEXT allows even when what it holds is valid', () => {
    // 190 characters of text are a valid value; its cursor is well over 256 characters.
    const long = raw({ v: 'x'.repeat(190), id: ID });
    expect(long.length).toBeGreaterThan(256);
    refused(() => decodeCursor(long, 'number'));
    expect(decodeCursor(raw({ v: 'x'.repeat(100), id: ID }), 'number').value).toBe('x'.repeat(100));
  });

  it('refuses a non-canonical spelling of valid cursor bytes (unused trailing bits set)', () => {
    // Some other last character decodes to exactly the same bytes; only the canonical one is accepted.
    for (const v of ['a', 'ab', 'abc']) {
      const canonical = raw({ v, id: ID });
      const bytes = Buffer.from(canonical, 'base64url');
      const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
      const twins = [...alphabet].map((c) => canonical.slice(0, -1) + c).filter((t) => t !== canonical && Buffer.from(t, 'base64url').equals(bytes));
      // Bytes in whole groups of three leave no unused bits, so no twin; the others have some.
      expect(twins.length > 0).toBe(bytes.length % 3 !== 0);
      expect(decodeCursor(canonical, 'number')).toEqual({ value: v, id: ID });
      for (const twin of twins) refused(() => decodeCursor(twin, 'number'));
    }
  });

  it('text values: no control characters or lone surrogates, not empty (the 256-character cursor bounds the length)', () => {
    expect(decodeCursor(raw({ v: 'x'.repeat(100), id: ID }), 'number').value).toBe('x'.repeat(100));
    expect(decodeCursor(raw({ v: 'INV ü-7', id: ID }), 'number').value).toBe('INV ü-7');
    for (const v of ['', 'x'.repeat(201), 'a\u0000b', 'a\nb', '\uD800', '\u007f']) refused(() => decodeCursor(raw({ v, id: ID }), 'number'));
  });

  it('instants: exact toISOString text for years 0001 to 9999; dates at midnight UTC', () => {
    expect(decodeCursor(raw({ v: '0001-01-01T00:00:00.000Z', id: ID }), 'updatedAt').value).toEqual(new Date('0001-01-01T00:00:00.000Z'));
    expect(decodeCursor(raw({ v: '9999-12-31T23:59:59.999Z', id: ID }), 'blockedAt').value).toEqual(new Date('9999-12-31T23:59:59.999Z'));
    for (const v of ['0000-01-01T00:00:00.000Z', '2026-02-30T00:00:00.000Z', '2026-01-01T24:00:00.000Z', '2026-01-01T00:00:00Z', '2026-01-01', 'x2026-01-01T00:00:00.000Z', '2026-01-01T00:00:00.000Zx', '2026-13-01T00:00:00.000Z']) {
      refused(() => decodeCursor(raw({ v, id: ID }), 'createdAt'));
    }
    refused(() => decodeCursor(raw({ v: '2026-01-01T00:00:00.001Z', id: ID }), 'dueDate'));
    expect(decodeCursor(raw({ v: '2026-01-01T00:00:00.001Z', id: ID }), 'createdAt').value).toEqual(new Date('2026-01-01T00:00:00.001Z'));
  });

  it('nextCursor: only for a full page, from its last item', () => {
    const items = [{ id: ID, number: 'a' }, { id: ID, number: 'b' }];
    expect(nextCursor(items, 2, 'number')).toBe(encodeCursor(items[1]!, 'number'));
    expect(nextCursor(items, 3, 'number')).toBeNull();
    expect(nextCursor([], 0, 'number')).toBeNull();
  });
});

describe('paginate', () => {
  it('loads limit items (default 20, at most PAGE_MAX) after the decoded cursor, and shapes them', async () => {
    const asked: unknown[] = [];
    const load = async (page: { limit: number }) => (asked.push(page), Array.from({ length: page.limit }, (_, i) => ({ id: ID, number: `n${i}` })));
    const page = await paginate({}, 'number', load, (item) => item.number);
    expect(DEFAULT_PAGE).toBe(20);
    expect(PAGE_MAX).toBe(100);
    expect(asked[0]).toEqual({ limit: 20 });
    expect(page.items).toHaveLength(20);
    expect(page.nextCursor).toBe(encodeCursor({ id: ID, number: 'n19' } as { id: string }, 'number'));
    await paginate({ limit: 500 }, 'number', load, (i) => i);
    expect(asked[1]).toEqual({ limit: 100 });
    await paginate({ limit: 3, cursor: page.nextCursor! }, 'number', load, (i) => i, 7);
    expect(asked[2]).toEqual({ limit: 3, after: { value: 'n19', id: ID } });
    await paginate({}, 'number', load, (i) => i, 7);
    expect(asked[3]).toEqual({ limit: 7 });
    await expect(paginate({ cursor: 'AAAA' }, 'number', load, (i) => i)).rejects.toThrow(PaginationError);
    expect(asked).toHaveLength(4);
  });

  it('no next cursor when the page is not full', async () => {
    const page = await paginate({ limit: 5 }, 'number', async () => [{ id: ID, number: 'a' }], (i) => i);
    expect(page).toEqual({ items: [{ id: ID, number: 'a' }], nextCursor: null });
  });
});

describe('sort', () => {
  it('parseSort and sortField', () => {
    expect(parseSort('-createdAt')).toEqual({ field: 'createdAt', direction: 'desc' });
    expect(parseSort('number')).toEqual({ field: 'number', direction: 'asc' });
    expect(sortField(undefined)).toBe('createdAt');
    expect(sortField('-dueDate')).toBe('dueDate');
    expect(sortField('number')).toBe('number');
  });
});

import { describe, expect, it } from 'vitest';
import { defineAbilityFor } from '@benteng/authz';
import type { MembershipRole } from '@benteng/database';
import { csvField, csvRecord, invoiceColumns, jsonlRecord, neutralizeCell, RecordEncoder, TextRecordEncoder, TICKET_COLUMNS, type InvoiceExportRow } from './export-formats.js';
import { tag } from '../../../test/security/support/controls.js';

/** The requester of an export, as the worker's Scope carries them: their ability in the tenant. */
const requester = (role: MembershipRole) => ({ ability: defineAbilityFor('0193b7a0-0000-7000-8000-00000000000a', { kind: 'user', userId: '0193b7a0-0000-7000-8000-0000000000a1', role }) });

describe(tag('CSV-FORMULA', 'neutralizeCell (OWASP CSV injection)'), () => {
  it('prefixes a single quote to cells starting with = + - @ tab or CR', () => {
    for (const cell of ['=HYPERLINK("http://x","y")', '+1', '-2', '@SUM(A1)', '\tx', '\rx']) expect(neutralizeCell(cell), `${JSON.stringify(cell)}`).toBe(`'${cell}`);
  });

  it('leaves every other cell alone, including formula characters later in the text', () => {
    for (const cell of ['PT Contoh', '1+1', 'a=b', '', ' =x', "'already"]) expect(neutralizeCell(cell), `${JSON.stringify(cell)}`).toBe(cell);
  });
});

describe(tag('CSV-FORMULA', 'csvField (RFC 4180)'), () => {
  it('quotes fields with a quote, comma, CR or LF and doubles embedded quotes', () => {
    expect(csvField('PT "Maju", Tbk')).toBe('"PT ""Maju"", Tbk"');
    expect(csvField('line\nbreak')).toBe('"line\nbreak"');
    expect(csvField('plain')).toBe('plain');
    expect(csvField(null)).toBe('');
  });

  it('neutralises before quoting, so the quote sits inside the field', () => {
    expect(csvField('\rx')).toBe(`"'\rx"`);
    expect(csvField('=1,2')).toBe(`"'=1,2"`);
  });

  it('ends records with CRLF', () => {
    expect(csvRecord(['a', null, '-3'])).toBe("a,,'-3\r\n");
  });
});

describe('jsonlRecord', () => {
  it('is one line of JSON whatever the text holds', () => {
    const line = jsonlRecord({ name: 'a\nb\r\u2028"c"', none: null });
    expect(line.endsWith('\n')).toBe(true);
    expect(line.slice(0, -1)).not.toMatch(/[\r\n]/);
    expect(JSON.parse(line)).toEqual({ name: 'a\nb\r\u2028"c"', none: null });
  });
});

describe('columns', () => {
  const row: InvoiceExportRow = {
    id: '0193b7a0-0000-7000-8000-000000000001',
    number: 'INV-1',
    status: 'issued',
    currency: 'IDR',
    customerName: 'PT Contoh',
    customerEmail: 'ap@contoh.test',
    customerTaxId: '01.234',
    totalMinor: 12_345_678_901_234_567n,
    dueDate: new Date('2026-03-01T00:00:00Z'),
    issuedAt: null,
    createdAt: new Date('2026-02-01T10:00:00.123Z'),
  };

  it('gives viewers no customer email or tax id, as the API does', () => {
    expect(invoiceColumns(requester('viewer')).map((c) => c.name)).not.toEqual(expect.arrayContaining(['customerEmail']));
    expect(invoiceColumns(requester('viewer')).map((c) => c.name)).not.toContain('customerTaxId');
    for (const role of ['owner', 'admin', 'member'] as const) expect(invoiceColumns(requester(role)).map((c) => c.name), `${role}`).toEqual(expect.arrayContaining(['customerEmail', 'customerTaxId']));
    const all = ['id', 'number', 'status', 'currency', 'customerName', 'customerEmail', 'customerTaxId', 'totalMinor', 'dueDate', 'issuedAt', 'createdAt'];
    expect(invoiceColumns(requester('owner')).map((c) => c.name)).toEqual(all);
    expect(invoiceColumns(requester('viewer')).map((c) => c.name)).toEqual(all.filter((name) => name !== 'customerEmail' && name !== 'customerTaxId'));
  });

  it('writes money as an exact decimal string and dates as the API does', () => {
    const sut = new RecordEncoder('jsonl', invoiceColumns(requester('member')));
    expect(JSON.parse(sut.record(row))).toMatchObject({ totalMinor: '12345678901234567', dueDate: '2026-03-01', issuedAt: null, createdAt: '2026-02-01T10:00:00.123Z' });
  });

  it('exports tickets without people or bodies', () => {
    expect(TICKET_COLUMNS.map((c) => c.name)).toEqual(['id', 'subject', 'status', 'priority', 'createdAt', 'updatedAt']);
  });

  it('puts a header before CSV records only', () => {
    expect(new RecordEncoder('csv', TICKET_COLUMNS).header()).toBe('id,subject,status,priority,createdAt,updatedAt\r\n');
    expect(new RecordEncoder('jsonl', TICKET_COLUMNS).header()).toBe('');
  });
});

describe(tag('CSV-FORMULA', 'TextRecordEncoder (rows read as text)'), () => {
  it('writes the same bytes as RecordEncoder over the rows the text cells came from', () => {
    const rows: InvoiceExportRow[] = [
      { id: 'a1', number: '=1+1', status: 'issued', currency: 'IDR', customerName: 'PT "Maju", Tbk', customerEmail: null, customerTaxId: '-9', totalMinor: -5n, dueDate: new Date('2026-02-03T00:00:00Z'), issuedAt: null, createdAt: new Date('2026-01-02T03:04:05.006Z') },
      { id: 'a2', number: 'N\r\n2', status: 'draft', currency: 'IDR', customerName: '@x', customerEmail: 'a@b.test', customerTaxId: null, totalMinor: 12n, dueDate: null, issuedAt: new Date('2026-01-02T03:04:05.999Z'), createdAt: new Date('2026-01-02T03:04:05Z') },
    ];
    const guard = (value: string) => `[${value}]`;
    for (const role of ['owner', 'viewer'] as const) {
      const columns = invoiceColumns(requester(role));
      const text = rows.map((r) => columns.map((c) => c.value(r)));
      for (const format of ['csv', 'jsonl'] as const) {
        for (const neutralize of [neutralizeCell, guard]) {
          const expected = rows.map((r) => new RecordEncoder(format, columns, neutralize).record(r)).join('');
          expect(new TextRecordEncoder(format, columns.map((c) => c.name), neutralize).records(text), `${role} ${format}`).toBe(expected);
        }
      }
    }
  });
});

import { StringDecoder } from 'node:string_decoder';
import { Transform, type TransformCallback } from 'node:stream';
import { TextRecordEncoder, type CellNeutralizer } from './export-formats.js';
import type { ExportFormat } from './export.types.js';

const ESCAPES: Readonly<Record<string, string>> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

/**
 * One field of PostgreSQL's COPY text format (the default format of `COPY … TO STDOUT`): a
 * backslash escapes the next character (`\n`, `\r`, `\t`, `\b`, `\f`, `\v`, `\\`, octal `\ooo`,
 * hex `\xhh`); `\N` alone is NULL. PostgreSQL writes only the letter escapes and `\\`.
 */
export function copyTextField(field: string): string | null {
  if (field === '\\N') return null;
  if (!field.includes('\\')) return field;
  let out = '';
  for (let i = 0; i < field.length; i++) {
    const c = field[i]!;
    if (c !== '\\' || i + 1 === field.length) {
      out += c;
      continue;
    }
    const next = field[++i]!;
    const letter = ESCAPES[next];
    if (letter !== undefined) out += letter;
    else if (next >= '0' && next <= '7') {
      let digits = next;
      while (digits.length < 3 && field[i + 1]! >= '0' && field[i + 1]! <= '7') digits += field[++i];
      out += String.fromCharCode(parseInt(digits, 8));
    } else if (next === 'x' && /^[0-9a-fA-F]/.test(field[i + 1] ?? '')) {
      let digits = field[++i]!;
      if (/^[0-9a-fA-F]/.test(field[i + 1] ?? '')) digits += field[++i];
      out += String.fromCharCode(parseInt(digits, 16));
    } else out += next;
  }
  return out;
}

/**
 * The export's formula guard as a stream transform: raw `COPY … TO STDOUT` text (one row per line,
 * tab-separated cells) in, the export's records out — every cell through the same
 * TextRecordEncoder as the paged read, so through `neutralize` (CsvFormulaGuard in the worker,
 * the seam the CSV-FORMULA kill switch replaces). The bytes are the same as the paged read's
 * (test/integration/export-streams.spec.ts).
 *
 * Why COPY's text format and not its CSV: the cells have to be taken apart again to be neutralised,
 * and the text format is one split on tab per line plus backslash escapes in the rare cell that
 * has one; PostgreSQL's CSV would need a quote-aware parser for the same result.
 *
 * Each input chunk (what the socket delivered, up to 64 KiB, from copyOut in libs/database) becomes
 * one output string, so the stream machinery runs per chunk, not per row; a line cut at a chunk's
 * end waits for the next chunk.
 */
export class CopyTextRecords extends Transform {
  private readonly decoder = new StringDecoder('utf8');
  private readonly encoder: TextRecordEncoder;
  private carry = '';
  /** Rows encoded so far. */
  rows = 0;

  constructor(
    format: ExportFormat,
    private readonly names: readonly string[],
    neutralize: CellNeutralizer,
  ) {
    // Strings out (readableObjectMode keeps them strings, one per input chunk), bytes in.
    super({ readableObjectMode: true, readableHighWaterMark: 4 });
    this.encoder = new TextRecordEncoder(format, names, neutralize);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      const text = this.carry + this.decoder.write(chunk);
      const end = text.lastIndexOf('\n');
      if (end < 0) {
        this.carry = text;
        return callback();
      }
      this.carry = text.slice(end + 1);
      const out = this.lines(text, end);
      callback(null, out === '' ? undefined : out);
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    const rest = this.carry + this.decoder.end();
    this.carry = '';
    // COPY ends every row with a newline; anything after the last one is a cut stream.
    if (rest !== '') return callback(new Error('COPY output ended inside a row'));
    callback();
  }

  /** Encodes the complete lines of `text` up to the newline at `end`. */
  private lines(text: string, end: number): string {
    let out = '';
    let start = 0;
    while (start <= end) {
      const newline = text.indexOf('\n', start);
      const line = text.slice(start, newline);
      start = newline + 1;
      const fields = line.split('\t');
      if (fields.length !== this.names.length) throw new Error(`COPY row with ${fields.length} cells, expected ${this.names.length}`);
      const row: (string | null)[] = new Array(fields.length);
      for (let i = 0; i < fields.length; i++) row[i] = copyTextField(fields[i]!);
      out += this.encoder.record(row);
      this.rows++;
    }
    return out;
  }
}

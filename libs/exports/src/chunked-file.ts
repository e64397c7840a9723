import { createHash, type Hash } from 'node:crypto';

/** How many bytes an export chunk holds before it is written (the last one may hold fewer). */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * An export file written as numbered chunks of exactly `chunkBytes` (the last one may hold fewer):
 * text is copied into the current chunk as it comes and each full chunk is handed to `flush`, so
 * memory stays at about one chunk however large the file grows, whatever the size of the writes.
 * The SHA-256 and the size are computed on the way through, over exactly the bytes stored.
 *
 * One chunk is stored while the next one fills: `write` waits for the previous chunk's `flush` only
 * when the next chunk is full, so reading rows (the export's COPY) and storing chunks overlap,
 * chunks are still stored one at a time and in order, and at most two chunks are in memory.
 */
export class ChunkedFile {
  private readonly hash: Hash = createHash('sha256');
  private current: Uint8Array<ArrayBuffer> | undefined;
  private filled = 0;
  private seq = 0;
  private size = 0;
  /** The chunk being stored, if any. Its failure surfaces at the next write or at `end`. */
  private storing: Promise<void> = Promise.resolve();

  constructor(
    private readonly flush: (seq: number, bytes: Uint8Array<ArrayBuffer>) => Promise<void>,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {}

  async write(text: string): Promise<void> {
    if (text === '') return;
    const bytes = Buffer.from(text, 'utf8');
    this.hash.update(bytes);
    this.size += bytes.length;
    let offset = 0;
    while (offset < bytes.length) {
      // A fresh ArrayBuffer per chunk (never a slice of Node's shared Buffer pool): `flush` owns it.
      this.current ??= new Uint8Array(this.chunkBytes);
      const n = Math.min(this.chunkBytes - this.filled, bytes.length - offset);
      this.current.set(bytes.subarray(offset, offset + n), this.filled);
      this.filled += n;
      offset += n;
      if (this.filled === this.chunkBytes) await this.writeChunk(this.current);
    }
  }

  /** Writes what is left and returns the file's size, digest and number of chunks. */
  async end(): Promise<{ byteSize: number; sha256: string; chunks: number }> {
    if (this.current && this.filled > 0) await this.writeChunk(this.current.slice(0, this.filled));
    await this.storing;
    return { byteSize: this.size, sha256: this.hash.digest('hex'), chunks: this.seq };
  }

  private async writeChunk(bytes: Uint8Array<ArrayBuffer>): Promise<void> {
    this.current = undefined;
    this.filled = 0;
    await this.storing;
    const storing = this.flush(this.seq++, bytes);
    // Observed here so a failure between two writes is not an unhandled rejection; the next
    // write or `end` awaits the same promise and throws it.
    storing.catch(() => undefined);
    this.storing = storing;
  }
}

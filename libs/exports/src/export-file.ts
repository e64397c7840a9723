import { createHash, type Hash } from 'node:crypto';

/** How many bytes an export chunk holds before it is written (the last one may hold fewer). */
export const CHUNK_BYTES = 1024 * 1024;

/**
 * An export file written as numbered chunks: text is buffered until a chunk is full, then handed to
 * `flush`, so memory stays at about one chunk however large the file grows. The SHA-256 and the
 * size are computed on the way through, over exactly the bytes stored.
 */
export class ChunkedFile {
  private readonly hash: Hash = createHash('sha256');
  private parts: Buffer[] = [];
  private buffered = 0;
  private seq = 0;
  private size = 0;

  constructor(
    private readonly flush: (seq: number, bytes: Uint8Array<ArrayBuffer>) => Promise<void>,
    private readonly chunkBytes = CHUNK_BYTES,
  ) {}

  async write(text: string): Promise<void> {
    if (text === '') return;
    const bytes = Buffer.from(text, 'utf8');
    this.hash.update(bytes);
    this.size += bytes.length;
    this.parts.push(bytes);
    this.buffered += bytes.length;
    if (this.buffered >= this.chunkBytes) await this.writeChunk();
  }

  /** Writes what is left and returns the file's size, digest and number of chunks. */
  async end(): Promise<{ byteSize: number; sha256: string; chunks: number }> {
    if (this.buffered > 0) await this.writeChunk();
    return { byteSize: this.size, sha256: this.hash.digest('hex'), chunks: this.seq };
  }

  private async writeChunk(): Promise<void> {
    // A fresh ArrayBuffer of exactly the chunk (never a slice of Node's shared Buffer pool).
    const bytes = new Uint8Array(this.buffered);
    let offset = 0;
    for (const part of this.parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    this.parts = [];
    this.buffered = 0;
    await this.flush(this.seq++, bytes);
  }
}

import { Readable } from 'node:stream';
import type pg from 'pg';

/**
 * The parts of pg's connection a submittable uses (pg/lib/connection.js): `query` sends a simple
 * query message; `stream` is the socket, paused while the reader is behind.
 */
interface PgConnection {
  query(text: string): void;
  sendCopyFail(message: string): void;
  stream: { pause(): void; resume(): void };
}

/** Bytes gathered from CopyData messages before one chunk is pushed downstream. */
const COPY_CHUNK_BYTES = 64 * 1024;

/**
 * `COPY (…) TO STDOUT` on a pg client, as a Readable of the raw COPY bytes.
 *
 * Why hand-written: pg has no COPY support of its own and `pg-copy-streams` is not a dependency of
 * this repository; pg accepts any "submittable" (an object with `submit(connection)` and the
 * `handle*` callbacks its client calls for each backend message, pg/lib/client.js), so this is the
 * same protocol flow as pg's own Query for a simple query, with CopyData messages collected instead
 * of rows. The statement is sent as a simple query (no named or unnamed prepared statement), so it
 * works behind PgBouncer in transaction mode inside the caller's transaction.
 *
 * Memory stays bounded: PostgreSQL sends one CopyData message per row; they are copied into a
 * 64 KiB buffer (the parser's buffer is reused by pg, so a message cannot be kept as it is) and
 * pushed when full. When the reader is behind (`push` returns false), the socket is paused, so
 * PostgreSQL waits in its send buffer instead of the worker buffering the table; `_read` resumes it.
 *
 * If the reader goes away early (the stream is destroyed), the rest of the COPY is read and dropped
 * so the connection ends the statement normally and the caller's ROLLBACK can follow on it.
 */
export class CopyOutStream extends Readable {
  private connection: PgConnection | undefined;
  private buffer: Buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
  private filled = 0;
  private paused = false;
  private discarding = false;
  private error: Error | undefined;
  private settled = false;
  private readonly done: Promise<number>;
  private resolveDone!: (rows: number) => void;
  private rejectDone!: (error: Error) => void;
  /** Rows PostgreSQL reported (`COPY n`), once the statement completed. */
  rowCount = 0;
  /** pg sets this on a submittable when it is passed to `client.query` with a callback; unused. */
  callback: unknown;

  constructor(private readonly text: string) {
    super({ highWaterMark: COPY_CHUNK_BYTES });
    this.done = new Promise<number>((resolve, reject) => {
      this.resolveDone = resolve;
      this.rejectDone = reject;
    });
    // The promise is observed through `completed()`; a failure seen only by the stream's 'error'
    // must not also surface as an unhandled rejection.
    this.done.catch(() => undefined);
  }

  /** Runs the COPY on `client` (a checked-out connection); the bytes arrive through the stream. */
  static start(client: pg.PoolClient | pg.Client, text: string): CopyOutStream {
    const stream = new CopyOutStream(text);
    void client.query(stream as never);
    return stream;
  }

  /** Resolves with the row count when the statement finished and the connection is ready again. */
  completed(): Promise<number> {
    return this.done;
  }

  // --- pg submittable protocol (called by pg's Client) ---

  submit(connection: PgConnection): null {
    this.connection = connection;
    connection.query(this.text);
    return null;
  }

  handleCopyInResponse(connection: PgConnection): void {
    connection.sendCopyFail('COPY FROM is not supported by CopyOutStream');
  }

  handleCopyData(message: { chunk: Buffer }): void {
    if (this.discarding) return;
    const chunk = message.chunk;
    if (this.filled + chunk.length > this.buffer.length) this.flush();
    if (chunk.length > this.buffer.length) {
      // A row larger than the buffer: pushed on its own (copied: the parser reuses its buffer).
      this.deliver(Buffer.from(chunk));
      return;
    }
    chunk.copy(this.buffer, this.filled);
    this.filled += chunk.length;
  }

  handleCommandComplete(message: { text?: string }): void {
    const match = /^COPY (\d+)$/.exec(message.text ?? '');
    this.rowCount = match ? Number(match[1]) : 0;
  }

  handleReadyForQuery(): void {
    if (this.error) return this.fail(this.error);
    if (!this.discarding) {
      this.flush();
      this.push(null);
    }
    this.settle();
  }

  handleError(error: Error): void {
    // Either an ErrorResponse (ReadyForQuery follows) or a dead connection (nothing follows): fail
    // now in both cases; a ReadyForQuery after it changes nothing.
    this.error = error;
    this.fail(error);
  }

  handleRowDescription(): void {}
  handleDataRow(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}

  // --- Readable ---

  override _read(): void {
    if (this.paused) {
      this.paused = false;
      this.connection?.stream.resume();
    }
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    // Read and drop the rest, so the connection finishes the statement and stays usable.
    this.discarding = true;
    if (this.paused) {
      this.paused = false;
      this.connection?.stream.resume();
    }
    callback(error);
  }

  private flush(): void {
    if (this.filled === 0) return;
    const bytes = this.buffer.subarray(0, this.filled);
    this.buffer = Buffer.allocUnsafe(COPY_CHUNK_BYTES);
    this.filled = 0;
    this.deliver(bytes);
  }

  private deliver(bytes: Buffer): void {
    if (!this.push(bytes) && !this.paused) {
      this.paused = true;
      this.connection?.stream.pause();
    }
  }

  private fail(error: Error): void {
    if (this.settled) return;
    this.settled = true;
    if (this.paused) {
      this.paused = false;
      this.connection?.stream.resume();
    }
    this.rejectDone(error);
    if (!this.destroyed) this.destroy(error);
  }

  private settle(): void {
    if (this.settled) return;
    this.settled = true;
    // The socket may still be paused for the last pushed bytes (the messages after the last
    // CopyData arrived in the same read); the statement is over, so the connection must flow for
    // the caller's next statement (COMMIT) whether or not the reader asks for more.
    if (this.paused) {
      this.paused = false;
      this.connection?.stream.resume();
    }
    this.resolveDone(this.rowCount);
  }
}

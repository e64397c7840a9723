import type { Duplex, Writable } from 'node:stream';
import { finished, pipeline } from 'node:stream/promises';
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

/**
 * Runs `COPY (…) TO STDOUT` on a checked-out pg connection and streams its raw bytes through
 * `transform` into `sink`; resolves when the sink has everything, rejects with the first failure.
 *
 * The stream is `pg-copy-streams`' `to(…)` (pg has no COPY support of its own): a pg "submittable"
 * that takes over the connection's socket for the COPY and hands it back to pg after CopyDone.
 * - It runs on the caller's connection, so inside the caller's transaction: with TenantSqlPool.run,
 *   the runtime role with `app.tenant_id` set locally first, so RLS applies to the SELECT.
 * - The statement is sent as a simple query (no named or unnamed prepared statement), so it works
 *   behind PgBouncer in transaction mode (docs/scaling.md).
 * - Memory stays bounded: the socket is read only while the reader keeps up (the stream's
 *   `push` returning false stops the reads until `_read`), so when the sink is behind PostgreSQL
 *   waits in its send buffer instead of the process buffering the table. The chunks are what the
 *   socket delivers (up to 64 KiB), cut anywhere in a row; CopyTextRecords (libs/exports) joins them.
 *
 * Why the COPY stream is piped by hand into `transform` and not given to `pipeline`: when the
 * transform or the sink fails, `pipeline` destroys every stream, and a destroyed COPY stream stops
 * reading the socket in the middle of the COPY; it never gives the socket back to pg, so the
 * caller's ROLLBACK (and every later statement on that pooled connection) would wait for ever. So
 * only `transform` and `sink` are in the `pipeline`; on failure the COPY stream is unpiped and read
 * to its end, the rest dropped, so PostgreSQL completes the statement and the connection is usable
 * for the ROLLBACK and the next tenant (test/integration/export-streams.spec.ts, "a failing sink").
 * A failure of the COPY itself (an ErrorResponse, or the connection lost) arrives as the stream's
 * 'error'; pg-copy-streams has then already given the socket back, and the error ends the pipeline.
 */
export async function copyOut(client: pg.ClientBase, statement: string, transform: Duplex, sink: Writable): Promise<void> {
  const source = client.query(copyTo(statement));
  let failed = false;
  const ended = finished(source);
  // Observed below; a failure seen first through 'error' must not also be an unhandled rejection.
  ended.catch(() => undefined);
  source.on('error', (error) => {
    failed = true;
    // No more reads of a socket that is pg's again (or dead); the pipeline ends with the error.
    source.destroy();
    transform.destroy(error);
  });
  source.pipe(transform);
  try {
    await pipeline(transform, sink);
  } catch (error) {
    if (!failed) {
      // Read the rest and drop it: the statement ends normally and pg gets its socket back.
      source.unpipe(transform);
      source.resume();
    }
    await ended.catch(() => undefined);
    throw error;
  }
  await ended;
}

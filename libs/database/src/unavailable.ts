/**
 * True when an error means "the database could not be reached or went away" rather than "this
 * request is wrong" or "the code is wrong": the server refused or dropped the connection, is
 * shutting down or starting up, or the pool timed out waiting for a connection. The HTTP layer
 * answers these 503 with Retry-After (a client may retry), not 500 (a bug to report).
 *
 * Prisma 7 with @prisma/adapter-pg reports them in several shapes, depending on where they hit:
 * a DriverAdapterError whose `cause.kind` names the condition, a Prisma error carrying the adapter
 * error under `meta.driverAdapterError`, a Prisma "can't reach database" code (P1001, P1017), or
 * the pg driver's own error (a socket `code` such as ECONNREFUSED, or SQLSTATE class 08 /
 * 57P01-57P03). The chain of `cause`s is followed a few levels deep.
 */
const UNAVAILABLE_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout', 'TooManyConnections', 'TransactionAlreadyClosed']);
const UNAVAILABLE_CODES = new Set(['P1001', 'P1002', 'P1017', 'ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'ENOTCONN', 'EHOSTUNREACH', 'ENETUNREACH']);
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_MESSAGES = [/connection terminated/i, /timeout exceeded when trying to connect/i, /server closed the connection unexpectedly/i, /the database system is (starting up|shutting down)/i, /terminating connection due to administrator command/i];

export function isDatabaseUnavailable(error: unknown): boolean {
  let current: unknown = error;
  for (let depth = 0; depth < 6 && current && typeof current === 'object'; depth++) {
    const e = current as { code?: unknown; kind?: unknown; originalCode?: unknown; message?: unknown; cause?: unknown; meta?: { driverAdapterError?: unknown; code?: unknown } };
    if (typeof e.kind === 'string' && UNAVAILABLE_KINDS.has(e.kind)) return true;
    if (typeof e.code === 'string' && (UNAVAILABLE_CODES.has(e.code) || UNAVAILABLE_SQLSTATES.has(e.code) || /^08[0-9A-Z]{3}$/.test(e.code))) return true;
    if (typeof e.originalCode === 'string' && (UNAVAILABLE_SQLSTATES.has(e.originalCode) || /^08[0-9A-Z]{3}$/.test(e.originalCode))) return true;
    if (typeof e.message === 'string' && UNAVAILABLE_MESSAGES.some((pattern) => pattern.test(e.message as string))) return true;
    current = e.meta?.driverAdapterError ?? e.cause;
  }
  return false;
}

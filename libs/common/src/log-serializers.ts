import { isDeepStrictEqual } from 'node:util';
import { stdSerializers, type LogFn, type Logger } from 'pino';

/**
 * What the pino loggers of every process (the API's listeners, the worker) share so that a log
 * line is safe to keep and to parse (issue 14, control LOG-REDACTION):
 * - `err` is serialized by describeError, which never writes a database error's message;
 * - each key is bound once per line (bindEachKeyOnce).
 */

type Summary = Record<string, unknown>;

/** `prisma.invoice.create()` in "Invalid `prisma.invoice.create()` invocation": the model and operation names only. */
const INVOCATION = /Invalid `(?:[^`]*?\.)?([A-Za-z_$][\w$]*)\.([A-Za-z_$][\w$]*)\(\)` invocation/;
const SQLSTATE = /^[0-9A-Z]{5}$/;

/** The call frames of a stack, without the message lines above them (the message is what leaks). */
function framesOf(error: Error): string | undefined {
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return frames.length > 0 ? `${error.name}\n${frames.join('\n')}` : undefined;
}

function isDatabaseError(error: Error): boolean {
  const e = error as { clientVersion?: unknown; severity?: unknown; code?: unknown };
  return (
    error.name.startsWith('PrismaClient') ||
    error.name === 'DriverAdapterError' ||
    typeof e.clientVersion === 'string' ||
    // The pg driver's DatabaseError: its message and `detail` quote values ("Key (number)=(INV-1)").
    (typeof e.severity === 'string' && typeof e.code === 'string' && SQLSTATE.test(e.code))
  );
}

/**
 * A database error as names and codes: Prisma's error class and code (P2002...), the model and
 * operation, the SQLSTATE and kind of the driver error, the table and constraint names. Prisma's
 * messages quote the call with its arguments (tenant ids, customer data) and, for raw queries and
 * driver errors, the SQL or the offending value; none of that is written.
 */
function databaseSummary(error: Error): Summary {
  const e = error as Error & {
    code?: unknown;
    meta?: { modelName?: unknown; driverAdapterError?: { cause?: Record<string, unknown> } };
    cause?: unknown;
    table?: unknown;
    constraint?: unknown;
    column?: unknown;
    kind?: unknown;
  };
  const invocation = INVOCATION.exec(error.message);
  const driver = (e.meta?.driverAdapterError?.cause ?? (error.name === 'DriverAdapterError' ? e.cause : undefined)) as Record<string, unknown> | undefined;
  const summary: Summary = { type: error.name };
  if (typeof e.code === 'string') summary['code'] = e.code;
  const model = typeof e.meta?.modelName === 'string' ? e.meta.modelName : invocation && !invocation[2]!.startsWith('$') ? invocation[1] : undefined;
  if (model) summary['model'] = model;
  if (invocation) summary['operation'] = invocation[2];
  const dbCode = driver?.['originalCode'] ?? driver?.['code'];
  if (typeof dbCode === 'string' && SQLSTATE.test(dbCode)) summary['sqlState'] = dbCode;
  const kind = driver?.['kind'] ?? e.kind;
  if (typeof kind === 'string') summary['kind'] = kind;
  for (const name of ['table', 'constraint', 'column'] as const) {
    const value = driver?.[name] ?? e[name];
    if (typeof value === 'string') summary[name] = value;
  }
  const stack = framesOf(error);
  if (stack) summary['stack'] = stack;
  return summary;
}

/**
 * The `err` serializer of every logger: pino's standard one, except that a database error (and a
 * database error anywhere in the `cause` chain) is logged as databaseSummary.
 */
export function describeError(value: unknown, depth = 0): unknown {
  // pino-http hands its serializer pino's serialized copy, with the original error on `raw`.
  const raw = value !== null && typeof value === 'object' ? (value as { raw?: unknown }).raw : undefined;
  const error = raw instanceof Error ? raw : value;
  if (!(error instanceof Error)) return error;
  if (isDatabaseError(error)) return databaseSummary(error);
  // pino's own serializer, but with the error's own message and stack: the standard one appends
  // every cause's message to them, which would bring a wrapped Prisma message back in.
  const described = stdSerializers.err(error) as unknown as Summary;
  described['message'] = error.message;
  described['stack'] = error.stack;
  if (error.cause !== undefined) {
    if (depth < 4) described['cause'] = describeError(error.cause, depth + 1);
    else delete described['cause'];
  }
  return described;
}

/** The bindings of each logger, parsed once (pino keeps them as a JSON fragment that never changes). */
const boundKeys = new WeakMap<Logger, Record<string, unknown>>();

/**
 * pino's logMethod hook: a log call that names a key the logger has already bound (the service,
 * the request's tenant, the job's requestId and attempt) would write it twice, and log parsers keep
 * only the last one, filing the line under the wrong service, request or tenant. The same value is
 * dropped from the call; a different value is kept under `conflicting`, so nothing is lost and each
 * key appears once. Call sites should not need this (a new one that does shows up in the tests'
 * log hygiene check as a `conflicting` member only when values differ, never as a duplicate).
 */
export function bindEachKeyOnce(this: Logger, args: Parameters<LogFn>, method: LogFn): void {
  const first = args[0] as unknown;
  if (first !== null && typeof first === 'object' && !(first instanceof Error)) {
    let bound = boundKeys.get(this);
    if (!bound) {
      bound = this.bindings() as Record<string, unknown>;
      boundKeys.set(this, bound);
    }
    let merged: Record<string, unknown> | undefined;
    let conflicting: Record<string, unknown> | undefined;
    for (const [key, value] of Object.entries(first)) {
      if (!Object.hasOwn(bound, key)) continue;
      merged ??= { ...(first as Record<string, unknown>) };
      delete merged[key];
      if (!isDeepStrictEqual(bound[key], value)) (conflicting ??= {})[key] = value;
    }
    if (merged) {
      if (conflicting) merged['conflicting'] = conflicting;
      (args as unknown[])[0] = merged;
    }
  }
  method.apply(this, args);
}

/** The options both processes' pino configurations spread in (fresh objects: pino-http rewrites its `serializers`). */
export function safeLogOptions() {
  return { serializers: { err: describeError }, hooks: { logMethod: bindEachKeyOnce } };
}

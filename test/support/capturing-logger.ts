import type { PinoLogger } from 'nestjs-pino';

/** One line a class logged through the PinoLogger it was given. */
export interface LogLine {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal';
  fields: unknown;
  message: unknown;
}

/**
 * A PinoLogger stand-in that keeps what a class logs (every level), the contexts it set and the
 * fields it bound to the request's logger (`assign`), so a spec can read the events a service or
 * filter writes next to what it answers. No service behind it: importable from unit specs.
 */
export function capturingLogger(): { logger: PinoLogger; lines: LogLine[]; contexts: string[]; assigned: Record<string, unknown>[] } {
  const lines: LogLine[] = [];
  const contexts: string[] = [];
  const assigned: Record<string, unknown>[] = [];
  const log = (level: LogLine['level']) => (fields: unknown, message?: unknown) => void lines.push({ level, fields, message });
  const logger = {
    setContext: (name: string) => void contexts.push(name),
    trace: log('trace'),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
    fatal: log('fatal'),
    assign: (fields: Record<string, unknown>) => void assigned.push(fields),
  } as unknown as PinoLogger;
  return { logger, lines, contexts, assigned };
}

import type { PinoLogger } from 'nestjs-pino';

/** One line a class logged through the PinoLogger it was given. */
export interface LogLine {
  level: 'trace' | 'debug' | 'info' | 'warn' | 'error';
  fields: unknown;
  message: unknown;
}

/**
 * A PinoLogger stand-in that keeps what a class logs (every level) and the contexts it set, so a
 * spec can read the events a service or filter writes next to what it answers. No service behind
 * it: importable from unit specs.
 */
export function capturingLogger(): { logger: PinoLogger; lines: LogLine[]; contexts: string[] } {
  const lines: LogLine[] = [];
  const contexts: string[] = [];
  const log = (level: LogLine['level']) => (fields: unknown, message?: unknown) => void lines.push({ level, fields, message });
  const logger = {
    setContext: (name: string) => void contexts.push(name),
    trace: log('trace'),
    debug: log('debug'),
    info: log('info'),
    warn: log('warn'),
    error: log('error'),
  } as unknown as PinoLogger;
  return { logger, lines, contexts };
}

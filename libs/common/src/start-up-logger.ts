import type { LoggerService } from '@nestjs/common';

/**
 * Nest contexts whose info lines only list what was wired: one line per module
 * ("… dependencies initialized"), controller and route ("Mapped {/v1/…, GET} route"), about 200
 * at every start. They move to debug so an info-level start-up shows what an operator needs
 * (listening, ready, errors); LOG_LEVEL=debug brings them back.
 */
export const START_UP_LISTING_CONTEXTS: ReadonlySet<string> = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/**
 * The application logger (nestjs-pino's `Logger`) with Nest's start-up listing at debug level.
 * Nest passes the context as the last parameter of `log`; everything else is passed on unchanged.
 */
export function quietStartUpListing(logger: LoggerService): LoggerService {
  return {
    log: (message: unknown, ...params: unknown[]) => {
      const context = params.at(-1);
      if (typeof context === 'string' && START_UP_LISTING_CONTEXTS.has(context) && logger.debug) logger.debug(message, ...params);
      else logger.log(message, ...params);
    },
    error: (message: unknown, ...params: unknown[]) => logger.error(message, ...params),
    warn: (message: unknown, ...params: unknown[]) => logger.warn(message, ...params),
    debug: (message: unknown, ...params: unknown[]) => logger.debug?.(message, ...params),
    verbose: (message: unknown, ...params: unknown[]) => logger.verbose?.(message, ...params),
    fatal: (message: unknown, ...params: unknown[]) => logger.fatal?.(message, ...params),
    ...(logger.setLogLevels ? { setLogLevels: (levels: Parameters<NonNullable<LoggerService['setLogLevels']>>[0]) => logger.setLogLevels?.(levels) } : {}),
  };
}

import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { quietStartUpListing } from '@benteng/common';
import { ConfigError, loadConfig } from '@benteng/config';
import { WorkerModule } from './worker.module.js';

/**
 * The worker process: BullMQ processors, no HTTP listener. On SIGTERM/SIGINT Nest closes the
 * BullMQ workers, which let running jobs finish; if that takes longer than
 * WORKER_SHUTDOWN_TIMEOUT_S the process exits anyway and BullMQ's stalled-job check hands the
 * unfinished jobs to another worker (handlers are idempotent).
 */
async function bootstrap(): Promise<void> {
  const config = loadConfig();
  const app = await NestFactory.createApplicationContext(WorkerModule, { bufferLogs: true });
  // Nest's module and route listing at debug level (libs/common/src/start-up-logger.ts).
  app.useLogger(quietStartUpListing(app.get(Logger)));
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, () => {
      const timer = setTimeout(() => {
        process.stderr.write('benteng-worker: shutdown timed out, exiting\n');
        process.exit(1);
      }, config.WORKER_SHUTDOWN_TIMEOUT_S * 1000);
      timer.unref();
      app.close().then(
        () => process.exit(0),
        () => process.exit(1),
      );
    });
  }
  await app.init();
}

try {
  await bootstrap();
} catch (error) {
  process.stderr.write(`benteng-worker failed to start: ${error instanceof ConfigError ? error.message : (error as Error).message}\n`);
  process.exit(1);
}

import { Module } from '@nestjs/common';
import type { DestinationStream } from 'pino';

/** Where the worker's log lines go: stdout, unless an in-process test replaces it to read them. */
export const WORKER_LOG_DESTINATION = Symbol('WORKER_LOG_DESTINATION');
export type WorkerLogDestination = DestinationStream | undefined;

@Module({
  providers: [{ provide: WORKER_LOG_DESTINATION, useValue: undefined }],
  exports: [WORKER_LOG_DESTINATION],
})
export class WorkerLogDestinationModule {}

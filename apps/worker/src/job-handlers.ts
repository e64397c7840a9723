import type { DynamicModule, ForwardReference, Type } from '@nestjs/common';
import { KeyRotationWorkerModule } from '@benteng/auth';
import { ExportsWorkerModule } from '@benteng/exports';
import { PrivacyWorkerModule } from '@benteng/privacy';
import { PlatformPurgeHandler } from '@benteng/jobs';
import { WebhooksWorkerModule } from '@benteng/webhooks';

/**
 * Where features plug their job handlers into the worker (libs/jobs: `@TenantJob` / `@PlatformJob`).
 *
 * - A handler that needs only the worker's global providers (database, audit, clock, config,
 *   logger, job queue) goes in JOB_HANDLERS.
 * - A feature whose handlers need its own services provides them in a module of its own (e.g.
 *   `ExportsWorkerModule` with `providers: [ExportsService, RunExportHandler]`) and adds that
 *   module to JOB_HANDLER_MODULES.
 * The worker finds every handler by its metadata; two handlers for one job name stop it at start.
 * `jobs.probe` (JobProbeHandler) is always present.
 */
export const JOB_HANDLERS: Type[] = [PlatformPurgeHandler];

export const JOB_HANDLER_MODULES: (Type | DynamicModule | Promise<DynamicModule> | ForwardReference)[] = [WebhooksWorkerModule, ExportsWorkerModule, KeyRotationWorkerModule, PrivacyWorkerModule];

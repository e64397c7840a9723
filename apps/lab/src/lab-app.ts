import type { Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import type { FastifyInstance } from 'fastify';
import { AppConfig } from '@benteng/config';
import { configureApiApp, createFastifyAdapter } from '../../api/src/app.factory.js';
import { AppModule } from '../../api/src/app.module.js';
import { configureInternalApp, InternalAppModule } from '../../api/src/internal/internal.module.js';
import { WorkerModule } from '../../worker/src/worker.module.js';
import type { Override } from './removals.js';

/** The header every lab response carries: `X-Benteng-Lab: AUTHZ-OBJECT disabled`. */
export const LAB_HEADER = 'x-benteng-lab';

/**
 * Marks every response of a lab listener, errors included (Fastify's onSend runs for all of them),
 * so a trainee can never mistake the lab for the demo.
 */
export function markLab(app: NestFastifyApplication, control: string): void {
  const fastify = app.getHttpAdapter().getInstance() as unknown as FastifyInstance;
  fastify.addHook('onSend', (_request, reply, payload, done) => {
    void reply.header(LAB_HEADER, `${control} disabled`);
    done(null, payload);
  });
}

/**
 * A listener's application, built as apps/api/src/main.ts builds it, with providers replaced through
 * DI and, for a lab mode that makes a change beside the removal (LabRemoval.change), controllers added.
 */
export async function labApplication(
  root: Type,
  configure: (app: NestFastifyApplication) => Promise<unknown>,
  config: AppConfig,
  overrides: readonly Override[],
  control: string,
  controllers: readonly Type[] = [],
): Promise<NestFastifyApplication> {
  let builder = Test.createTestingModule({ imports: [root], controllers: [...controllers] }).overrideProvider(AppConfig).useValue(config);
  for (const o of overrides) builder = 'useClass' in o ? builder.overrideProvider(o.token).useClass(o.useClass) : builder.overrideProvider(o.token).useValue(o.value);
  const app = (await builder.compile()).createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), { bufferLogs: true });
  markLab(app, control);
  await configure(app);
  return app;
}

export const labApi = (config: AppConfig, overrides: readonly Override[], control: string, controllers: readonly Type[] = []) =>
  labApplication(AppModule, configureApiApp, config, overrides, control, controllers);
export const labInternal = (config: AppConfig, overrides: readonly Override[], control: string) => labApplication(InternalAppModule, configureInternalApp, config, overrides, control);

/** The worker (apps/worker/src/main.ts's WorkerModule) in the lab's process, with providers replaced through DI. */
export async function labWorker(config: AppConfig, overrides: readonly Override[]): Promise<{ close(): Promise<void> }> {
  let builder = Test.createTestingModule({ imports: [WorkerModule] }).overrideProvider(AppConfig).useValue(config);
  for (const o of overrides) builder = 'useClass' in o ? builder.overrideProvider(o.token).useClass(o.useClass) : builder.overrideProvider(o.token).useValue(o.value);
  const moduleRef = await builder.compile();
  await moduleRef.init();
  return { close: () => moduleRef.close() };
}

import { Writable } from 'node:stream';
import type { Provider, Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AppConfig, loadConfig } from '@benteng/config';
import { configureApiApp, createFastifyAdapter } from '../../apps/api/src/app.factory.js';
import { AppModule } from '../../apps/api/src/app.module.js';
import { configureInternalApp, InternalAppModule } from '../../apps/api/src/internal/internal.module.js';
import { LOG_DESTINATION } from '../../apps/api/src/logging/logging.js';

/** Every JSON log line the app wrote, parsed, plus the raw text for "never appears" checks. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  raw = '';

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: () => void): void {
    const text = chunk.toString('utf8');
    this.raw += text;
    for (const line of text.split('\n').filter(Boolean)) this.lines.push(JSON.parse(line) as Record<string, unknown>);
    done();
  }
}

export interface TestApi {
  app: NestFastifyApplication;
  logs: LogCapture;
  close(): Promise<void>;
}

export interface BuildApiOptions {
  controllers?: Type[];
  providers?: Provider[];
  /** Providers replaced in this app: by a value, or by a class Nest instantiates with injection. */
  overrides?: ({ token: unknown; value: unknown } | { token: unknown; useClass: Type })[];
  logLevel?: string;
  /** Configuration variables for this app only (e.g. TRUSTED_PROXIES), over process.env. */
  env?: Record<string, string>;
}

/**
 * The real API application (same module, adapter and configuration as production), with optional
 * extra controllers for probing cross-cutting behaviour and provider overrides.
 */
export function buildApi(options: BuildApiOptions = {}): Promise<TestApi> {
  return buildApplication(AppModule, configureApiApp, options);
}

/**
 * The real internal listener application (InternalAppModule, same adapter and configuration as
 * production), for tests that drive /internal/v1 in-process beside buildApi's public app.
 */
export function buildInternalApi(options: Omit<BuildApiOptions, 'controllers' | 'providers'> = {}): Promise<TestApi> {
  return buildApplication(InternalAppModule, configureInternalApp, options);
}

/** One listener's application, built and configured as main.ts does, with its logs captured. */
async function buildApplication(root: Type, configure: (app: NestFastifyApplication) => Promise<unknown>, options: BuildApiOptions): Promise<TestApi> {
  const config = loadConfig({ ...process.env, ...options.env, LOG_LEVEL: options.logLevel ?? 'info' });
  const logs = new LogCapture();
  let builder = Test.createTestingModule({
    imports: [root],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  })
    .overrideProvider(AppConfig)
    .useValue(config)
    .overrideProvider(LOG_DESTINATION)
    .useValue(logs);
  for (const override of options.overrides ?? []) {
    builder = 'useClass' in override ? builder.overrideProvider(override.token).useClass(override.useClass) : builder.overrideProvider(override.token).useValue(override.value);
  }
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), { bufferLogs: true });
  await configure(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return { app, logs, close: () => app.close() };
}

import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Writable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import type { Provider, Type } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Test } from '@nestjs/testing';
import { AppConfig, loadConfig } from '@benteng/config';
import { configureApiApp, createFastifyAdapter } from '../../apps/api/src/app.factory.js';
import { AppModule } from '../../apps/api/src/app.module.js';
import { configureInternalApp, InternalAppModule } from '../../apps/api/src/internal/internal.module.js';
import { LOG_DESTINATION } from '../../apps/api/src/logging/logging.js';
import { RouteInventory } from '../../apps/api/src/http/route-inventory.js';
import { recordResponses } from './leak-capture.js';
import { leakRegistry } from './leak-registry.js';
import { logHygiene } from './log-hygiene.js';

/** Every JSON log line the app wrote, parsed, plus the raw text for "never appears" checks. */
export class LogCapture extends Writable {
  readonly lines: Record<string, unknown>[] = [];
  raw = '';

  constructor() {
    super();
    // Every capture (API apps, in-process workers, kill-switch apps too) joins the file's log
    // hygiene check: duplicate keys and Prisma query text are never expected (test/support/log-hygiene.ts).
    logHygiene.watch(this);
  }

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
  /**
   * A pino-http of this app's own. nestjs-pino keeps one per process, made by the first app built,
   * so later apps log with the first app's options into its capture; an app whose logging differs
   * (the LOG-REDACTION kill switch) needs its own.
   */
  ownLogger?: boolean;
  /**
   * Built with a control removed on purpose (test/security/kill-switches/): its logs and responses
   * are left out of the file's secret-leakage check, which would otherwise report the leak the
   * kill switch provokes. Implies `ownLogger`.
   */
  expectLeaks?: boolean;
  /** Called with the application before it is configured and initialised (e.g. to add a Fastify hook, which a ready instance refuses). */
  beforeInit?: (app: NestFastifyApplication) => void;
}

/** True when the process-wide pino-http belongs to an app built with `ownLogger`, which no other app may inherit. */
let processLoggerIsOwn = false;

/** Forgets nestjs-pino's process-wide pino-http, so the next app builds its own (not exported by the package). */
async function resetProcessLogger(): Promise<void> {
  // The package's ESM build, which the apps load: dist/esm beside the CommonJS entry require() finds.
  const cjsEntry = createRequire(import.meta.url).resolve('nestjs-pino');
  const url = pathToFileURL(join(dirname(cjsEntry), '..', 'esm', 'PinoLogger.js')).href;
  const module = (await import(/* @vite-ignore */ url)) as { __resetOutOfContextForTests(): void };
  module.__resetOutOfContextForTests();
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
  if (!options.expectLeaks) leakRegistry.watchLogs(logs);
  // An app that may leak gets a logger of its own too, so no later app inherits its unchecked capture.
  const ownLogger = options.ownLogger === true || options.expectLeaks === true;
  if (ownLogger || processLoggerIsOwn) await resetProcessLogger();
  processLoggerIsOwn = ownLogger;
  let builder = Test.createTestingModule({
    imports: [root],
    controllers: options.controllers ?? [],
    providers: options.providers ?? [],
  })
    .overrideProvider(AppConfig)
    .useValue(config)
    .overrideProvider(LOG_DESTINATION)
    .useValue(logs);
  // The probe controllers a test adds are outside the route inventory on purpose (API9,
  // apps/api/src/http/route-inventory.ts); every other route is checked as in production.
  if (options.controllers?.length) builder = builder.overrideProvider(RouteInventory).useValue(new RouteInventory(options.controllers.map((c) => c.name)));
  for (const override of options.overrides ?? []) {
    builder = 'useClass' in override ? builder.overrideProvider(override.token).useClass(override.useClass) : builder.overrideProvider(override.token).useValue(override.value);
  }
  const moduleRef = await builder.compile();
  const app = moduleRef.createNestApplication<NestFastifyApplication>(createFastifyAdapter(config), { bufferLogs: true });
  // Every response body of the run, for the file's secret-leakage check (test/support/setup-env.ts).
  if (!options.expectLeaks) recordResponses(app.getHttpAdapter().getInstance());
  options.beforeInit?.(app);
  await configure(app);
  await app.init();
  await app.getHttpAdapter().getInstance().ready();
  return { app, logs, close: () => app.close() };
}

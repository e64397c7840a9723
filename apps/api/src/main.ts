import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { ConfigError, internalDatabaseUrl, loadConfig } from '@benteng/config';
import { configureApiApp, createFastifyAdapter } from './app.factory.js';
import { AppModule } from './app.module.js';
import { configureInternalApp, InternalAppModule } from './internal/internal.module.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig();
  // The internal listener's login (benteng_internal) is required in production: fail before
  // either listener starts, naming the variable (the worker loads the same config without it).
  internalDatabaseUrl(config);
  const app = await NestFactory.create<NestFastifyApplication>(AppModule, createFastifyAdapter(config), { bufferLogs: true });
  await configureApiApp(app);
  // The internal listener: a separate application on its own address (loopback by default), so
  // the public ingress never routes to it and neither app knows the other's routes or credentials.
  const internal = await NestFactory.create<NestFastifyApplication>(InternalAppModule, createFastifyAdapter(config), { bufferLogs: true });
  await configureInternalApp(internal);
  await app.listen({ host: config.HOST, port: config.PORT });
  await internal.listen({ host: config.INTERNAL_HOST, port: config.INTERNAL_PORT });
}

try {
  await bootstrap();
} catch (error) {
  // Config errors name the variables; anything else is printed without connection strings.
  process.stderr.write(`benteng-api failed to start: ${error instanceof ConfigError ? error.message : (error as Error).message}\n`);
  process.exit(1);
}

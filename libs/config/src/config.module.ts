import { Global, Module } from '@nestjs/common';
import { AppConfig } from './config.schema.js';
import { loadConfig } from './load-config.js';

/** Provides the validated AppConfig. Validation runs when the module is created: fail fast. */
@Global()
@Module({
  providers: [{ provide: AppConfig, useFactory: () => loadConfig() }],
  exports: [AppConfig],
})
export class ConfigModule {}

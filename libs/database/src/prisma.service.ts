import { Inject, Injectable, OnModuleDestroy, Optional } from '@nestjs/common';
import { PrismaPg } from '@prisma/adapter-pg';
import { createCaslExtension } from '@casl/prisma/runtime';
import { AppConfig, runtimeDatabaseUrl } from '@benteng/config';
import { PrismaClient } from './generated/prisma/client.js';

export function createRuntimeClient(connectionString: string, poolMax: number) {
  const adapter = new PrismaPg({
    connectionString,
    max: poolMax,
    // Benteng never keeps a tenant setting outside a transaction, but an idle connection that
    // dies in the pool should not take a request down with it.
    idleTimeoutMillis: 30_000,
    application_name: 'benteng',
  });
  // createCaslExtension turns CASL's "no rule matches" marker into an empty result instead of a
  // Prisma validation error. Every client used with accessibleBy() must carry it.
  return new PrismaClient({ adapter }).$extends(createCaslExtension());
}

export type RuntimeClient = ReturnType<typeof createRuntimeClient>;

/**
 * The connection string a Nest application's PrismaService logs in with, when it is not the runtime
 * role's: provided by InternalDatabaseModule only (database.module.ts).
 */
export const DATABASE_LOGIN_URL = Symbol('DATABASE_LOGIN_URL');

/**
 * The only Prisma client of an application: connected as the runtime role benteng_app (RLS applies)
 * in the public listener and the worker, as benteng_internal in the internal listener.
 * Only libs/database imports the generated client (test/integration/boundaries.spec.ts).
 */
@Injectable()
export class PrismaService implements OnModuleDestroy {
  readonly client: RuntimeClient;

  constructor(config: AppConfig, @Optional() @Inject(DATABASE_LOGIN_URL) loginUrl?: string) {
    this.client = createRuntimeClient(loginUrl ?? runtimeDatabaseUrl(config), config.DATABASE_POOL_MAX);
  }

  async onModuleDestroy(): Promise<void> {
    await this.client.$disconnect();
  }
}

import { Global, Module } from '@nestjs/common';
import { AppConfig, internalDatabaseUrl } from '@benteng/config';
import { DATABASE_LOGIN_URL, PrismaService } from './prisma.service.js';
import { KeyRingRepository } from './key-ring.repository.js';
import { TenantDatabase } from './tenant-database.js';

/** The public listener's and the worker's database: PrismaService logs in as benteng_app. */
@Global()
@Module({
  providers: [PrismaService, TenantDatabase, KeyRingRepository],
  exports: [PrismaService, TenantDatabase, KeyRingRepository],
})
export class DatabaseModule {}

/**
 * The internal listener's database, instead of DatabaseModule: the same services, logged in as
 * benteng_internal (DATABASE_INTERNAL_URL), the only role that may execute the operator functions
 * (internal_*, metrics_credential_*; docs/architecture.md, invariant 4). The role is a member of
 * benteng_app, so TenantDatabase and every RLS policy work here as in the public listener.
 */
@Global()
@Module({
  providers: [{ provide: DATABASE_LOGIN_URL, inject: [AppConfig], useFactory: internalDatabaseUrl }, PrismaService, TenantDatabase, KeyRingRepository],
  exports: [PrismaService, TenantDatabase, KeyRingRepository],
})
export class InternalDatabaseModule {}

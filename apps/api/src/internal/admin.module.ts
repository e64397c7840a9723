import { Module } from '@nestjs/common';
import { AuditModule } from '@benteng/audit';
import { RevocationStore } from '@benteng/auth';
import { InternalAdmin, PlatformModule } from '@benteng/platform';
import { InternalAdminController } from './admin.controller.js';

/**
 * Operator admin actions on the internal listener: tenants, users, revocations. Its own
 * RevocationStore instance publishes to the same Redis markers every public API instance reads.
 */
@Module({
  imports: [AuditModule, PlatformModule],
  controllers: [InternalAdminController],
  providers: [RevocationStore, InternalAdmin],
})
export class InternalAdminModule {}

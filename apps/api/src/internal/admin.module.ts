import { Module } from '@nestjs/common';
import { AuditModule, PlatformAuditModule } from '@benteng/audit';
import { RevocationStore } from '@benteng/auth';
import { InternalAdminController } from './admin.controller.js';
import { InternalAdmin } from './admin.service.js';

/**
 * Operator admin actions on the internal listener: tenants, users, revocations. Its own
 * RevocationStore instance publishes to the same Redis markers every public API instance reads.
 */
@Module({
  imports: [AuditModule, PlatformAuditModule],
  controllers: [InternalAdminController],
  providers: [RevocationStore, InternalAdmin],
})
export class InternalAdminModule {}
